package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Invite is a respondent invite: a link (and QR code) bound to a
// questionnaire, a municipality, optionally a service, and the staff member
// who made it.
type Invite struct {
	ID               int64
	Token            string
	Form             string
	MunicipalityID   int64
	ServiceID        int64 // 0: no particular service
	OperatorID       int64 // staff id of the creator; 0 for none
	Label            string
	ExpiresAt        time.Time // zero: never
	MaxUses          int       // 0: unlimited
	Uses             int       // accepted opens ("started")
	Completed        int       // responses recorded through it (listings only)
	Revoked          bool
	CreatedAt        time.Time
	MunicipalityName string
	ServiceCode      string
	ServiceName      string
}

// Status is the invite's state at now: "active", "revoked", "expired" or
// "exhausted".
func (i Invite) Status(now time.Time) string {
	switch {
	case i.Revoked:
		return "revoked"
	case !i.ExpiresAt.IsZero() && !now.Before(i.ExpiresAt):
		return "expired"
	case i.MaxUses > 0 && i.Uses >= i.MaxUses:
		return "exhausted"
	}
	return "active"
}

// InviteFilter scopes invite listings and revocations: an operator's own
// invites, a municipality's, or (both 0) all of them.
type InviteFilter struct {
	OperatorID     int64
	MunicipalityID int64
	Limit          int // listings: most recent first, default 20
}

const inviteColumns = `i.id, i.token, i.form, i.municipality_id, i.service_id, i.operator_id, i.label, i.expires_at,
	i.max_uses, i.uses, i.revoked_at IS NOT NULL, i.created_at, m.name, coalesce(s.code, ''), coalesce(s.name, '')`

const inviteFrom = ` FROM invites i JOIN municipalities m ON m.id = i.municipality_id
	LEFT JOIN services s ON s.id = i.service_id`

func scanInvite(r pgx.Row, extra ...any) (Invite, error) {
	var i Invite
	var svc, op *int64
	var exp *time.Time
	var maxUses *int
	dest := append([]any{&i.ID, &i.Token, &i.Form, &i.MunicipalityID, &svc, &op, &i.Label, &exp, &maxUses, &i.Uses,
		&i.Revoked, &i.CreatedAt, &i.MunicipalityName, &i.ServiceCode, &i.ServiceName}, extra...)
	err := r.Scan(dest...)
	i.ServiceID, i.OperatorID = idOr0(svc), idOr0(op)
	if exp != nil {
		i.ExpiresAt = *exp
	}
	if maxUses != nil {
		i.MaxUses = *maxUses
	}
	return i, err
}

// CreateInvite stores a respondent invite and writes the audit log (actor:
// its operator; never the token). It returns the invite as stored, with
// names filled in. A service of another municipality is ErrInvalid.
func (d *DB) CreateInvite(ctx context.Context, inv Invite) (Invite, error) {
	var out Invite
	var exp *time.Time
	if !inv.ExpiresAt.IsZero() {
		exp = &inv.ExpiresAt
	}
	var maxUses *int
	if inv.MaxUses > 0 {
		maxUses = &inv.MaxUses
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO invites (token, form, municipality_id, service_id, operator_id, label, expires_at, max_uses)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			inv.Token, inv.Form, inv.MunicipalityID, nullID(inv.ServiceID), nullID(inv.OperatorID), inv.Label, exp, maxUses).Scan(&id)
		if err != nil {
			return classify("create invite", err)
		}
		if out, err = scanInvite(tx.QueryRow(ctx, "SELECT "+inviteColumns+inviteFrom+" WHERE i.id = $1", id)); err != nil {
			return classify("create invite", err)
		}
		return audit(ctx, tx, nullID(inv.OperatorID), "invite.create", map[string]any{"invite_id": id, "form": inv.Form,
			"municipality_id": inv.MunicipalityID, "service_id": nullID(inv.ServiceID), "expires_at": exp, "max_uses": maxUses})
	})
	return out, err
}

// UseInvite counts one use of the invite with token and returns it, if it
// is valid at now; the check and the count are one statement, so
// concurrent opens never exceed max_uses. Otherwise it returns
// ErrNotFound, ErrRevoked, ErrExpired or ErrExhausted (in that order of
// precedence).
func (d *DB) UseInvite(ctx context.Context, token string, now time.Time) (Invite, error) {
	row := d.pool.QueryRow(ctx, `WITH u AS (
			UPDATE invites SET uses = uses + 1
			WHERE token = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
				AND (max_uses IS NULL OR uses < max_uses)
			RETURNING *)
		SELECT `+inviteColumns+` FROM u i JOIN municipalities m ON m.id = i.municipality_id
			LEFT JOIN services s ON s.id = i.service_id`, token, now)
	inv, err := scanInvite(row)
	if err == nil {
		return inv, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Invite{}, classify("use invite", err)
	}
	// Why not: read it as it is.
	inv, err = scanInvite(d.pool.QueryRow(ctx, "SELECT "+inviteColumns+inviteFrom+" WHERE i.token = $1", token))
	if errors.Is(err, pgx.ErrNoRows) {
		return Invite{}, fmt.Errorf("pgstore: invite: %w", ErrNotFound)
	}
	if err != nil {
		return Invite{}, classify("use invite", err)
	}
	switch inv.Status(now) {
	case "revoked":
		return inv, fmt.Errorf("pgstore: invite %d: %w", inv.ID, ErrRevoked)
	case "expired":
		return inv, fmt.Errorf("pgstore: invite %d: %w", inv.ID, ErrExpired)
	default:
		// Active when read means it was used up between the two
		// statements (or exactly now).
		return inv, fmt.Errorf("pgstore: invite %d: %w", inv.ID, ErrExhausted)
	}
}

func (f InviteFilter) where(first int) (string, []any) {
	return fmt.Sprintf("($%d::bigint IS NULL OR i.operator_id = $%d) AND ($%d::bigint IS NULL OR i.municipality_id = $%d)",
		first, first, first+1, first+1), []any{nullID(f.OperatorID), nullID(f.MunicipalityID)}
}

// Invite returns the invite with id within the filter's scope, with its
// completed count, or ErrNotFound.
func (d *DB) Invite(ctx context.Context, id int64, f InviteFilter) (Invite, error) {
	where, args := f.where(2)
	var completed int
	inv, err := scanInvite(d.pool.QueryRow(ctx, "SELECT "+inviteColumns+`,
		(SELECT count(*) FROM responses r WHERE r.invite_token = i.token)`+inviteFrom+" WHERE i.id = $1 AND "+where,
		append([]any{id}, args...)...), &completed)
	inv.Completed = completed
	if errors.Is(err, pgx.ErrNoRows) {
		return Invite{}, fmt.Errorf("pgstore: invite %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Invite{}, classify("invite", err)
	}
	return inv, nil
}

// Invites lists invites within the filter, most recent first, each with
// how many responses were completed through it, and the total number of
// invites in scope.
func (d *DB) Invites(ctx context.Context, f InviteFilter) ([]Invite, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	where, args := f.where(1)
	rows, err := d.pool.Query(ctx, "SELECT "+inviteColumns+`,
		(SELECT count(*) FROM responses r WHERE r.invite_token = i.token), count(*) OVER ()`+inviteFrom+
		" WHERE "+where+fmt.Sprintf(" ORDER BY i.created_at DESC, i.id DESC LIMIT %d", limit), args...)
	if err != nil {
		return nil, 0, classify("invites", err)
	}
	total := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invite, error) {
		var completed int
		inv, err := scanInvite(r, &completed, &total)
		inv.Completed = completed
		return inv, err
	})
	if err != nil {
		return nil, 0, classify("invites", err)
	}
	return out, total, nil
}

// RevokeInvite revokes the invite id within the filter's scope on behalf of
// actor and writes the audit log. An unknown, out-of-scope or already
// revoked invite is ErrNotFound. Responses already completed keep counting.
func (d *DB) RevokeInvite(ctx context.Context, actor, id int64, f InviteFilter) (Invite, error) {
	var inv Invite
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		where, args := f.where(2)
		tag, err := tx.Exec(ctx, `UPDATE invites i SET revoked_at = now() WHERE i.id = $1 AND i.revoked_at IS NULL AND `+where,
			append([]any{id}, args...)...)
		if err != nil {
			return classify("revoke invite", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: revoke invite %d: %w", id, ErrNotFound)
		}
		if inv, err = scanInvite(tx.QueryRow(ctx, "SELECT "+inviteColumns+inviteFrom+" WHERE i.id = $1", id)); err != nil {
			return classify("revoke invite", err)
		}
		return audit(ctx, tx, nullID(actor), "invite.revoke", map[string]any{"invite_id": id, "municipality_id": inv.MunicipalityID})
	})
	return inv, err
}
