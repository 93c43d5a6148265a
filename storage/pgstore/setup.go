package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnsureDatabase connects to a server through adminDSN and, when name is
// not empty, creates database name if it does not exist yet (for `try`
// and the load test; production databases are made by their operators).
func EnsureDatabase(ctx context.Context, adminDSN, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("pgstore: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if name == "" {
		return conn.Ping(ctx)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: look up database %s: %w", name, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // created meanwhile
			return fmt.Errorf("pgstore: create database %s: %w", name, err)
		}
	}
	return nil
}

// Demo is what SeedDemo set up.
type Demo struct {
	Municipality string // name, e.g. Roma
	Service      string // name of the invite's service, "" when the municipality has no sportello_immigrati
	Invite       string // the invite's token
	// Other is a second municipality (name and ISTAT code), for the admin
	// to compare with the first; "" when the database has only one.
	Other, OtherISTAT string
}

// DemoStaff are the `try` personas SeedDemo makes staff: Telegram ids and
// display names. Admin, when not 0, is an admin (every municipality).
type DemoStaff struct {
	Operator, Manager, Admin             int64
	OperatorName, ManagerName, AdminName string
}

// SeedDemo makes the `try` personas real, idempotently (a local database
// keeps them between runs): an operator and a manager of the municipality
// with ISTAT code istat and an admin (their Telegram ids and names given;
// the admin's municipality is the comparison's second, Demo.Other), and an
// unlimited respondent invite token to questionnaire form for its immigrants' desk (earlier demo
// invites are revoked: the caller picks a random token each run). Staff
// normally enrol through staff links; this writes them as an admin would,
// audit-logged.
func (d *DB) SeedDemo(ctx context.Context, form, istat string, staff DemoStaff, token string) (Demo, error) {
	var demo Demo
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var muni int64
		if err := tx.QueryRow(ctx, `SELECT id, name FROM municipalities WHERE istat_code = $1`, istat).Scan(&muni, &demo.Municipality); err != nil {
			return fmt.Errorf("municipality %s: %w", istat, err)
		}
		var service *int64
		var sid int64
		switch err := tx.QueryRow(ctx, `SELECT id, name FROM services WHERE municipality_id = $1 AND code = 'sportello_immigrati'`, muni).
			Scan(&sid, &demo.Service); {
		case err == nil:
			service = &sid
		case errors.Is(err, pgx.ErrNoRows):
		default:
			return fmt.Errorf("service: %w", err)
		}
		// The admin's comparison needs a second municipality: the first
		// other one the database lists.
		switch err := tx.QueryRow(ctx, `SELECT name, istat_code FROM municipalities WHERE id <> $1 ORDER BY id LIMIT 1`, muni).
			Scan(&demo.Other, &demo.OtherISTAT); {
		case err == nil, errors.Is(err, pgx.ErrNoRows):
		default:
			return fmt.Errorf("second municipality: %w", err)
		}
		type member struct {
			id         int64
			role, name string
			muni       *int64 // nil: an admin
		}
		people := []member{{staff.Operator, "operator", staff.OperatorName, &muni}, {staff.Manager, "manager", staff.ManagerName, &muni}}
		if staff.Admin != 0 {
			people = append(people, member{staff.Admin, "admin", staff.AdminName, nil})
		}
		for _, s := range people {
			var staffID int64
			err := tx.QueryRow(ctx, `
				INSERT INTO staff (telegram_user_id, role, municipality_id, display_name)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (telegram_user_id) DO UPDATE
				SET role = EXCLUDED.role, municipality_id = EXCLUDED.municipality_id, service_id = NULL,
				    display_name = EXCLUDED.display_name, revoked_at = NULL
				RETURNING id`, s.id, s.role, s.muni, s.name).Scan(&staffID)
			if err != nil {
				return fmt.Errorf("staff %s: %w", s.role, err)
			}
			where := istat
			if s.muni == nil {
				where = "" // an admin: every municipality
			}
			if err := audit(ctx, tx, nil, "try.staff", map[string]any{"staff": staffID, "role": s.role, "municipality": where}); err != nil {
				return err
			}
		}
		// The token is new at each run: earlier demo invites stop working.
		if _, err := tx.Exec(ctx, `UPDATE invites SET revoked_at = now()
			WHERE label = 'needsbot try: demo invite' AND token_hash <> $1 AND revoked_at IS NULL`, HashToken(token)); err != nil {
			return fmt.Errorf("revoke earlier demo invites: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO invites (token_hash, form, municipality_id, service_id, label)
			VALUES ($1, $4, $2, $3, 'needsbot try: demo invite')
			ON CONFLICT (token_hash) DO UPDATE
			SET form = EXCLUDED.form, municipality_id = EXCLUDED.municipality_id, service_id = EXCLUDED.service_id,
			    expires_at = NULL, max_uses = NULL, revoked_at = NULL`, HashToken(token), muni, service, form); err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		demo.Invite = token
		return nil
	})
	if err != nil {
		return Demo{}, classify("seed demo", err)
	}
	return demo, nil
}
