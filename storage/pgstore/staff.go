package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/org"
)

// Errors of staff links and invites, decided with errors.Is: the domain's
// (package org), so that consumers need not import storage to decide them.
const (
	ErrExists       = org.ErrExists
	ErrExpired      = org.ErrExpired
	ErrUsed         = org.ErrUsed
	ErrRevoked      = org.ErrRevoked
	ErrExhausted    = org.ErrExhausted
	ErrAlreadyStaff = org.ErrAlreadyStaff
)

// Staff roles as stored.
const (
	RoleAdmin    = string(org.RoleAdmin)
	RoleManager  = string(org.RoleManager)
	RoleOperator = string(org.RoleOperator)
)

// The domain types this store keeps (package org).
type (
	Municipality = org.Municipality
	Service      = org.Service
	Staff        = org.Staff
	StaffLink    = org.StaffLink
	Claim        = org.Claim
)

func nullID(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func idOr0(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// ---------------------------------------------------------- municipalities

// Municipalities lists every municipality by name.
func (d *DB) Municipalities(ctx context.Context) ([]Municipality, error) {
	rows, err := d.pool.Query(ctx, `SELECT m.id, m.istat_code, m.name,
		(SELECT count(*) FROM services s WHERE s.municipality_id = m.id)
		FROM municipalities m ORDER BY m.name, m.istat_code`)
	if err != nil {
		return nil, classify("municipalities", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Municipality, error) {
		var m Municipality
		err := r.Scan(&m.ID, &m.ISTAT, &m.Name, &m.Services)
		return m, err
	})
	if err != nil {
		return nil, classify("municipalities", err)
	}
	return out, nil
}

// Municipality returns the municipality with id, or ErrNotFound.
func (d *DB) Municipality(ctx context.Context, id int64) (Municipality, error) {
	var m Municipality
	err := d.pool.QueryRow(ctx, `SELECT m.id, m.istat_code, m.name,
		(SELECT count(*) FROM services s WHERE s.municipality_id = m.id)
		FROM municipalities m WHERE m.id = $1`, id).Scan(&m.ID, &m.ISTAT, &m.Name, &m.Services)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("pgstore: municipality %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, classify("municipality", err)
	}
	return m, nil
}

// AddMunicipality adds a municipality and writes the audit log (actor nil:
// the command line). A code already present is ErrExists; a malformed code
// or empty name is ErrInvalid.
func (d *DB) AddMunicipality(ctx context.Context, actor *int64, istat, name string) (Municipality, error) {
	m := Municipality{ISTAT: istat, Name: name}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO municipalities (istat_code, name) VALUES ($1, $2)
			ON CONFLICT (istat_code) DO NOTHING RETURNING id`, istat, name).Scan(&m.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: municipality %s: %w", istat, ErrExists)
		}
		if err != nil {
			return classify("add municipality", err)
		}
		return audit(ctx, tx, actor, "municipality.add", map[string]any{"municipality_id": m.ID, "istat": istat, "name": name})
	})
	return m, err
}

// Services lists a municipality's services by name.
func (d *DB) Services(ctx context.Context, municipality int64) ([]Service, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, municipality_id, code, name FROM services
		WHERE municipality_id = $1 ORDER BY name, code`, municipality)
	if err != nil {
		return nil, classify("services", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Service, error) {
		var s Service
		err := r.Scan(&s.ID, &s.MunicipalityID, &s.Code, &s.Name)
		return s, err
	})
	if err != nil {
		return nil, classify("services", err)
	}
	return out, nil
}

// Service returns the service with id, or ErrNotFound.
func (d *DB) Service(ctx context.Context, id int64) (Service, error) {
	var s Service
	err := d.pool.QueryRow(ctx, `SELECT id, municipality_id, code, name FROM services WHERE id = $1`, id).
		Scan(&s.ID, &s.MunicipalityID, &s.Code, &s.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("pgstore: service %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return s, classify("service", err)
	}
	return s, nil
}

// AddService adds a service to a municipality and writes the audit log. A
// code the municipality already has is ErrExists; an unknown municipality,
// a code outside [a-z0-9_] or an empty name is ErrInvalid.
func (d *DB) AddService(ctx context.Context, actor *int64, municipality int64, code, name string) (Service, error) {
	s := Service{MunicipalityID: municipality, Code: code, Name: name}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO services (municipality_id, code, name) VALUES ($1, $2, $3)
			ON CONFLICT (municipality_id, code) DO NOTHING RETURNING id`, municipality, code, name).Scan(&s.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: service %s: %w", code, ErrExists)
		}
		if err != nil {
			return classify("add service", err)
		}
		return audit(ctx, tx, actor, "service.add", map[string]any{"municipality_id": municipality, "service_id": s.ID, "code": code, "name": name})
	})
	return s, err
}

// ------------------------------------------------------------------- staff

const staffColumns = `s.id, s.telegram_user_id, s.role, s.municipality_id, s.service_id, s.display_name,
	coalesce(m.name, ''), coalesce(v.name, ''), s.created_at, s.revoked_at IS NOT NULL`

const staffFrom = ` FROM staff s LEFT JOIN municipalities m ON m.id = s.municipality_id
	LEFT JOIN services v ON v.id = s.service_id`

func scanStaff(r pgx.Row) (Staff, error) {
	var s Staff
	var muni, svc *int64
	err := r.Scan(&s.ID, &s.TelegramUserID, &s.Role, &muni, &svc, &s.Name, &s.MunicipalityName, &s.ServiceName, &s.CreatedAt, &s.Revoked)
	s.MunicipalityID, s.ServiceID = idOr0(muni), idOr0(svc)
	return s, err
}

func (d *DB) oneStaff(ctx context.Context, q pgx.Tx, where string, arg any) (Staff, error) {
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, "SELECT "+staffColumns+staffFrom+" WHERE "+where, arg)
	} else {
		row = d.pool.QueryRow(ctx, "SELECT "+staffColumns+staffFrom+" WHERE "+where, arg)
	}
	s, err := scanStaff(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("pgstore: staff: %w", ErrNotFound)
	}
	if err != nil {
		return s, classify("staff", err)
	}
	return s, nil
}

// StaffByTelegram returns the active (not revoked) staff member with that
// Telegram user id, or ErrNotFound.
func (d *DB) StaffByTelegram(ctx context.Context, userID int64) (Staff, error) {
	return d.oneStaff(ctx, nil, "s.telegram_user_id = $1 AND s.revoked_at IS NULL", userID)
}

// StaffByID returns the staff member with id, revoked or not, or
// ErrNotFound.
func (d *DB) StaffByID(ctx context.Context, id int64) (Staff, error) {
	return d.oneStaff(ctx, nil, "s.id = $1", id)
}

// ListStaff lists active staff: of one municipality, or all of them (with
// the admins) when municipality is 0. Admins first, then managers,
// operators, by name.
func (d *DB) ListStaff(ctx context.Context, municipality int64) ([]Staff, error) {
	rows, err := d.pool.Query(ctx, "SELECT "+staffColumns+staffFrom+`
		WHERE s.revoked_at IS NULL AND ($1::bigint IS NULL OR s.municipality_id = $1)
		ORDER BY array_position(ARRAY['admin','manager','operator'], s.role), coalesce(m.name, ''), s.display_name, s.id`,
		nullID(municipality))
	if err != nil {
		return nil, classify("list staff", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Staff, error) { return scanStaff(r) })
	if err != nil {
		return nil, classify("list staff", err)
	}
	return out, nil
}

// EnsureAdmin makes the Telegram user an active admin (the bootstrap from
// NEEDSBOT_ADMIN_IDS). It reports whether anything changed; only changes
// are written to the audit log (actor: the system), so restarts add
// nothing. A member who was revoked is never restored by it (a restart
// must not undo the revocation of, say, a stolen account): it returns
// them as they are with ErrRevoked. They come back only through a staff
// link (e.g. `needsbot staff link admin`).
func (d *DB) EnsureAdmin(ctx context.Context, userID int64) (Staff, bool, error) {
	var s Staff
	changed := false
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var id int64
		var prevRole *string
		var wasRevoked bool
		err := tx.QueryRow(ctx, `SELECT role, revoked_at IS NOT NULL FROM staff WHERE telegram_user_id = $1 FOR UPDATE`, userID).
			Scan(&prevRole, &wasRevoked)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return classify("ensure admin", err)
		}
		if wasRevoked {
			if s, err = d.oneStaff(ctx, tx, "s.telegram_user_id = $1", userID); err != nil {
				return err
			}
			return fmt.Errorf("pgstore: ensure admin: staff %d: %w", s.ID, ErrRevoked)
		}
		err = tx.QueryRow(ctx, `INSERT INTO staff (telegram_user_id, role) VALUES ($1, 'admin')
			ON CONFLICT (telegram_user_id) DO UPDATE SET role = 'admin', municipality_id = NULL, service_id = NULL
			WHERE staff.role <> 'admin' AND staff.revoked_at IS NULL
			RETURNING id`, userID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// Already an active admin.
			s, err = d.oneStaff(ctx, tx, "s.telegram_user_id = $1", userID)
			return err
		}
		if err != nil {
			return classify("ensure admin", err)
		}
		changed = true
		detail := map[string]any{"staff_id": id, "source": "NEEDSBOT_ADMIN_IDS"}
		if prevRole != nil {
			detail["previous_role"] = *prevRole
		}
		if err := audit(ctx, tx, nil, "staff.bootstrap", detail); err != nil {
			return err
		}
		s, err = d.oneStaff(ctx, tx, "s.id = $1", id)
		return err
	})
	return s, changed, err
}

// RevokeStaff revokes the active staff member id on behalf of actor and
// writes the audit log. When municipality is not 0 only a member of that
// municipality can be revoked (a manager's scope: never an admin).
// Anything else — unknown, already revoked, out of scope — is ErrNotFound.
func (d *DB) RevokeStaff(ctx context.Context, actor, id, municipality int64) (Staff, error) {
	var s Staff
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff SET revoked_at = now()
			WHERE id = $1 AND revoked_at IS NULL AND ($2::bigint IS NULL OR municipality_id = $2)`, id, nullID(municipality))
		if err != nil {
			return classify("revoke staff", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: revoke staff %d: %w", id, ErrNotFound)
		}
		if s, err = d.oneStaff(ctx, tx, "s.id = $1", id); err != nil {
			return err
		}
		return audit(ctx, tx, nullID(actor), "staff.revoke", map[string]any{"staff_id": id, "role": s.Role,
			"municipality_id": nullID(s.MunicipalityID), "service_id": nullID(s.ServiceID)})
	})
	return s, err
}

// ------------------------------------------------------------- staff links

// CreateStaffLink stores a staff link (the hash of its token, never the
// token) and writes the audit log. It returns the link's id.
func (d *DB) CreateStaffLink(ctx context.Context, l StaffLink) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if len(l.Token) < 16 || len(l.Token) > 128 {
			return fmt.Errorf("pgstore: create staff link: %w: token of %d characters", ErrInvalid, len(l.Token))
		}
		err := tx.QueryRow(ctx, `INSERT INTO staff_invites (token_hash, role, municipality_id, service_id, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			HashToken(l.Token), l.Role, nullID(l.MunicipalityID), nullID(l.ServiceID), nullID(l.CreatedBy), l.ExpiresAt).Scan(&id)
		if err != nil {
			return classify("create staff link", err)
		}
		return audit(ctx, tx, nullID(l.CreatedBy), "staff.link.create", map[string]any{"link_id": id, "role": l.Role,
			"municipality_id": nullID(l.MunicipalityID), "service_id": nullID(l.ServiceID), "expires_at": l.ExpiresAt.UTC()})
	})
	return id, err
}

// ClaimStaffLink makes the Telegram user (first name name) the staff
// member the link with token (looked up by its hash) describes, marks the link used and writes the audit log,
// all in one transaction. Errors: ErrNotFound (no such link), ErrExpired,
// ErrUsed (by someone else), ErrRevoked (its creator was revoked or moved
// since), ErrAlreadyStaff (with the current membership in Claim.Staff).
func (d *DB) ClaimStaffLink(ctx context.Context, token string, userID int64, name string, now time.Time) (Claim, error) {
	var c Claim
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var l StaffLink
		var muni, svc, by, usedBy *int64
		err := tx.QueryRow(ctx, `SELECT id, role, municipality_id, service_id, created_by, expires_at, used_by
			FROM staff_invites WHERE token_hash = $1 FOR UPDATE`, HashToken(token)).Scan(&l.ID, &l.Role, &muni, &svc, &by, &l.ExpiresAt, &usedBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: staff link: %w", ErrNotFound)
		}
		if err != nil {
			return classify("claim staff link", err)
		}
		l.MunicipalityID, l.ServiceID, l.CreatedBy = idOr0(muni), idOr0(svc), idOr0(by)
		c.CreatedBy = l.CreatedBy
		if usedBy != nil {
			s, err := d.oneStaff(ctx, tx, "s.id = $1", *usedBy)
			if err == nil && s.TelegramUserID == userID && !s.Revoked {
				c.Staff, c.Again = s, true
				return nil
			}
			return fmt.Errorf("pgstore: staff link %d: %w", l.ID, ErrUsed)
		}
		if !now.Before(l.ExpiresAt) {
			return fmt.Errorf("pgstore: staff link %d: %w", l.ID, ErrExpired)
		}
		if l.CreatedBy != 0 {
			// A link is worth what its creator may still do.
			creator, err := d.oneStaff(ctx, tx, "s.id = $1", l.CreatedBy)
			if err != nil {
				return err
			}
			ok := !creator.Revoked && (creator.Role == RoleAdmin ||
				(creator.Role == RoleManager && l.Role != RoleAdmin && creator.MunicipalityID == l.MunicipalityID))
			if !ok {
				return fmt.Errorf("pgstore: staff link %d: %w", l.ID, ErrRevoked)
			}
		}
		if cur, err := d.oneStaff(ctx, tx, "s.telegram_user_id = $1 AND s.revoked_at IS NULL", userID); err == nil {
			c.Staff = cur
			return fmt.Errorf("pgstore: staff link %d: %w", l.ID, ErrAlreadyStaff)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		var id int64
		// A revoked member comes back with the link's role and scope; the
		// WHERE keeps an active member untouched even under a race.
		err = tx.QueryRow(ctx, `INSERT INTO staff (telegram_user_id, role, municipality_id, service_id, display_name)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (telegram_user_id) DO UPDATE SET role = EXCLUDED.role, municipality_id = EXCLUDED.municipality_id,
				service_id = EXCLUDED.service_id, display_name = EXCLUDED.display_name, created_at = now(), revoked_at = NULL
			WHERE staff.revoked_at IS NOT NULL
			RETURNING id`, userID, l.Role, muni, svc, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: staff link %d: %w", l.ID, ErrAlreadyStaff)
		}
		if err != nil {
			return classify("claim staff link", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_invites SET used_by = $2, used_at = now() WHERE id = $1`, l.ID, id); err != nil {
			return classify("claim staff link", err)
		}
		if c.Staff, err = d.oneStaff(ctx, tx, "s.id = $1", id); err != nil {
			return err
		}
		return audit(ctx, tx, &id, "staff.enrol", map[string]any{"staff_id": id, "link_id": l.ID, "role": l.Role,
			"municipality_id": muni, "service_id": svc, "link_created_by": by})
	})
	return c, err
}
