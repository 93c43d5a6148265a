package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/needsbot/needsbot/storage/storagetest"
)

// Migration 00006 hashes the tokens already stored: an invite, a staff
// link and a response made under 00004 keep working by their token, the
// response names its invite by id, and no token is left in any column.
func TestMigrationHashesExistingTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	p, err := newProvider(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	const invTok, linkTok = "oldInviteToken123456", "staff-oldStaffLinkToken123456"
	for _, q := range []string{
		`INSERT INTO invites (token, form, municipality_id) SELECT '` + invTok + `', 'immigrati', id FROM municipalities WHERE istat_code = '058091'`,
		`INSERT INTO staff_invites (token, role, municipality_id, expires_at) SELECT '` + linkTok + `', 'manager', id, now() + interval '1 day' FROM municipalities WHERE istat_code = '058091'`,
		`INSERT INTO responses (id, form, form_version, municipality_id, invite_token, language, consent_version, started_at, completed_at)
		 SELECT 'old-response', 'immigrati', 1, id, '` + invTok + `', 'it', 'v1', now() - interval '5 minutes', now() FROM municipalities WHERE istat_code = '058091'`,
	} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inv, err := db.UseInvite(ctx, invTok, time.Now())
	if err != nil {
		t.Fatalf("old invite after the migration: %v", err)
	}
	var respInvite int64
	if err := db.pool.QueryRow(ctx, `SELECT invite_id FROM responses`).Scan(&respInvite); err != nil || respInvite != inv.ID {
		t.Fatalf("old response's invite_id = %d (%v), want %d", respInvite, err, inv.ID)
	}
	if c, err := db.ClaimStaffLink(ctx, linkTok, 4242, "Marta", time.Now()); err != nil || c.Staff.Role != RoleManager {
		t.Fatalf("old staff link after the migration: %+v %v", c, err)
	}
	var cols int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'public' AND ((table_name IN ('invites', 'staff_invites') AND column_name = 'token')
		   OR (table_name = 'responses' AND column_name = 'invite_token'))`).Scan(&cols); err != nil || cols != 0 {
		t.Fatalf("%d token columns left (%v)", cols, err)
	}
}
