package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/org"
)

// HashToken is how invite and staff-link tokens are stored and looked
// up (org.HashToken).
func HashToken(token string) []byte { return org.HashToken(token) }

// Invites and their filter are the domain's (package org).
type (
	Invite       = org.Invite
	InviteFilter = org.InviteFilter
)

const inviteColumns = `i.id, i.token_hash, i.form, i.municipality_id, i.service_id, i.operator_id, i.label, i.expires_at,
	i.max_uses, i.uses, i.revoked_at IS NOT NULL, NOT (` + operatorActive + `), i.created_at, m.name, coalesce(s.code, ''), coalesce(s.name, '')`

// operatorActive is true when the invite i was made by nobody in
// particular (the command line, the demo) or by a staff member who is still
// active, in the same membership (not revoked and re-enrolled since) and
// still with a right over the invite's municipality: an invite is worth
// what its maker may still do, as staff links are.
const operatorActive = `i.operator_id IS NULL OR EXISTS (SELECT 1 FROM staff o WHERE o.id = i.operator_id
	AND o.revoked_at IS NULL AND o.created_at <= i.created_at
	AND (o.role = 'admin' OR o.municipality_id = i.municipality_id))`

const inviteFrom = ` FROM invites i JOIN municipalities m ON m.id = i.municipality_id
	LEFT JOIN services s ON s.id = i.service_id`

func scanInvite(r pgx.Row, extra ...any) (Invite, error) {
	var i Invite
	var svc, op *int64
	var exp *time.Time
	var maxUses *int
	dest := append([]any{&i.ID, &i.TokenHash, &i.Form, &i.MunicipalityID, &svc, &op, &i.Label, &exp, &maxUses, &i.Uses,
		&i.Revoked, &i.OperatorGone, &i.CreatedAt, &i.MunicipalityName, &i.ServiceCode, &i.ServiceName}, extra...)
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

// NewInviteID reserves an id for an invite to be created with it
// (CreateInvite with Invite.ID set), so that its token can be derived from
// its id before it is stored.
func (d *DB) NewInviteID(ctx context.Context) (int64, error) {
	var id int64
	if err := d.pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('invites', 'id'))`).Scan(&id); err != nil {
		return 0, classify("new invite id", err)
	}
	return id, nil
}

// CreateInvite stores a respondent invite (with the id inv.ID when set, see
// NewInviteID) and writes the audit log (actor: its operator). Only the
// token's hash is stored, never the token. It returns the invite as stored,
// with names filled in and Token kept. A service of another municipality is
// ErrInvalid.
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
		if inv.Token == "" {
			return fmt.Errorf("pgstore: create invite: %w: no token", ErrInvalid)
		}
		err := tx.QueryRow(ctx, `INSERT INTO invites (id, token_hash, form, municipality_id, service_id, operator_id, label, expires_at, max_uses)
			VALUES (coalesce($9, nextval(pg_get_serial_sequence('invites', 'id'))), $1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			HashToken(inv.Token), inv.Form, inv.MunicipalityID, nullID(inv.ServiceID), nullID(inv.OperatorID), inv.Label, exp, maxUses, nullID(inv.ID)).Scan(&id)
		if err != nil {
			return classify("create invite", err)
		}
		if out, err = scanInvite(tx.QueryRow(ctx, "SELECT "+inviteColumns+inviteFrom+" WHERE i.id = $1", id)); err != nil {
			return classify("create invite", err)
		}
		out.Token = inv.Token
		return audit(ctx, tx, nullID(inv.OperatorID), "invite.create", map[string]any{"invite_id": id, "form": inv.Form,
			"municipality_id": inv.MunicipalityID, "service_id": nullID(inv.ServiceID), "expires_at": exp, "max_uses": maxUses})
	})
	return out, err
}

// UseInvite counts one use of the invite with token (looked up by its
// hash) and returns it, if it is valid at now; the check and the count are
// one statement, so concurrent opens never exceed max_uses. An invite
// whose maker was revoked since is revoked too. Otherwise it returns
// ErrNotFound, ErrRevoked, ErrExpired or ErrExhausted (in that order of
// precedence).
func (d *DB) UseInvite(ctx context.Context, token string, now time.Time) (Invite, error) {
	return d.useInvite(ctx, "i.token_hash = $1", HashToken(token), now)
}

func (d *DB) useInvite(ctx context.Context, where string, key any, now time.Time) (Invite, error) {
	row := d.pool.QueryRow(ctx, `WITH u AS (
			UPDATE invites i SET uses = uses + 1
			WHERE `+where+` AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
				AND (max_uses IS NULL OR uses < max_uses) AND (`+operatorActive+`)
			RETURNING i.*)
		SELECT `+inviteColumns+` FROM u i JOIN municipalities m ON m.id = i.municipality_id
			LEFT JOIN services s ON s.id = i.service_id`, key, now)
	inv, err := scanInvite(row)
	if err == nil {
		return inv, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Invite{}, classify("use invite", err)
	}
	// Why not: read it as it is.
	inv, err = scanInvite(d.pool.QueryRow(ctx, "SELECT "+inviteColumns+inviteFrom+" WHERE "+where, key))
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

func inviteWhere(f InviteFilter, first int) (string, []any) {
	return fmt.Sprintf("($%d::bigint IS NULL OR i.operator_id = $%d) AND ($%d::bigint IS NULL OR i.municipality_id = $%d)",
		first, first, first+1, first+1), []any{nullID(f.OperatorID), nullID(f.MunicipalityID)}
}

// Invite returns the invite with id within the filter's scope, with its
// completed count, or ErrNotFound.
func (d *DB) Invite(ctx context.Context, id int64, f InviteFilter) (Invite, error) {
	where, args := inviteWhere(f, 2)
	var completed int
	inv, err := scanInvite(d.pool.QueryRow(ctx, "SELECT "+inviteColumns+`,
		(SELECT count(*) FROM responses r WHERE r.invite_id = i.id)`+inviteFrom+" WHERE i.id = $1 AND "+where,
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
	where, args := inviteWhere(f, 1)
	rows, err := d.pool.Query(ctx, "SELECT "+inviteColumns+`,
		(SELECT count(*) FROM responses r WHERE r.invite_id = i.id), count(*) OVER ()`+inviteFrom+
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
		where, args := inviteWhere(f, 2)
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
