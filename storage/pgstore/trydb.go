package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotDemo is returned by CheckDemoDatabase for a database that holds
// real data: `needsbot try` and `needsbot seed` refuse it.
var ErrNotDemo = errors.New("the database holds real data")

// demoMark is the audit action that marks a database as try's own: its
// responses (made in the web chat) are demo data.
const demoMark = "try.database"

// CheckDemoDatabase connects to dsn and refuses (ErrNotDemo) a database
// that holds staff other than demoStaff (Telegram ids), or responses other
// than synthetic ones (ids "seed-…") unless MarkDemoDatabase marked it as
// try's. A database without needsbot's tables is fine. It runs before the
// migrations, so that a production database is not even migrated.
func CheckDemoDatabase(ctx context.Context, dsn string, demoStaff []int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("pgstore: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var hasStaff, hasResponses, hasAudit bool
	err = conn.QueryRow(ctx, `SELECT to_regclass('staff') IS NOT NULL, to_regclass('responses') IS NOT NULL,
		to_regclass('audit_log') IS NOT NULL`).Scan(&hasStaff, &hasResponses, &hasAudit)
	if err != nil {
		return fmt.Errorf("pgstore: check demo database: %w", err)
	}
	if hasStaff {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM staff WHERE telegram_user_id <> ALL($1)`, demoStaff).Scan(&n); err != nil {
			return fmt.Errorf("pgstore: check demo database: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %d staff members who are not demo personas", ErrNotDemo, n)
		}
	}
	if hasResponses {
		marked := false
		if hasAudit {
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = $1)`, demoMark).Scan(&marked); err != nil {
				return fmt.Errorf("pgstore: check demo database: %w", err)
			}
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM responses WHERE id NOT LIKE 'seed-%'`).Scan(&n); err != nil {
			return fmt.Errorf("pgstore: check demo database: %w", err)
		}
		if n > 0 && !marked {
			return fmt.Errorf("%w: %d responses that are not synthetic (seed-…)", ErrNotDemo, n)
		}
	}
	return nil
}

// MarkDemoDatabase marks the database as try's own (once, audit-logged):
// responses made later in the web chat do not make CheckDemoDatabase
// refuse it.
func (d *DB) MarkDemoDatabase(ctx context.Context) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var marked bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = $1)`, demoMark).Scan(&marked); err != nil {
			return classify("mark demo database", err)
		}
		if marked {
			return nil
		}
		return audit(ctx, tx, nil, demoMark, map[string]string{"by": "needsbot try"})
	})
}
