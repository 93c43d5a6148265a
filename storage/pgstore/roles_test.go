package pgstore_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// runtimeRole creates a login role that is a member of needsbot_app (as an
// administrator would for the bot) and returns its DSN for e's database.
func runtimeRole(t *testing.T, e *env) string {
	t.Helper()
	var exists bool
	if err := e.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app')").Scan(&exists); err != nil || !exists {
		t.Fatalf("migration 00008 did not create needsbot_app (the test server's user has CREATEROLE): %v", err)
	}
	name := "needsbot_rt_" + strings.ToLower(storagetest.Random()[:12])
	if _, err := e.pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN IN ROLE needsbot_app"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Connections of the role end with the test's pools; then it goes.
		_, _ = e.pool.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	})
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(name)
	return u.String()
}

func isDenied(err error) bool {
	var pe *pgconn.PgError
	// insufficient_privilege from the privilege system, not from the
	// append-only trigger (which raises the same code with its own text).
	if !errors.As(err, &pe) || pe.Code != "42501" {
		return false
	}
	for _, p := range []string{"permission denied", "must be owner", "must be superuser"} {
		if strings.HasPrefix(pe.Message, p) {
			return true
		}
	}
	return false
}

// TestRuntimeRoleLeastPrivilege: the role the bot runs as (a member of
// needsbot_app, migration 00008) is no superuser, does everything the bot
// does (start-up migration check, responses, retention, erasure, exports,
// audit), may only append to the audit log, and can change no schema.
func TestRuntimeRoleLeastPrivilege(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dsn := runtimeRole(t, e)

	// What `needsbot run` does at start: the migrations are current, so
	// Migrate changes nothing and needs no DDL.
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatalf("run's start-up migration as the runtime role: %v", err)
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super, createRole, createDB bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user").Scan(&super, &createRole, &createDB); err != nil {
		t.Fatal(err)
	}
	if super || createRole || createDB {
		t.Fatalf("runtime role: superuser=%v createrole=%v createdb=%v", super, createRole, createDB)
	}

	// The bot's work.
	c := e.completed(t, "rt-1", "pseudonym-rt")
	if err := db.SaveResponse(ctx, c); err != nil {
		t.Fatalf("save response as the runtime role: %v", err)
	}
	if err := db.Audit(ctx, nil, "test.runtime", map[string]any{"ok": true}); err != nil {
		t.Fatalf("audit as the runtime role: %v", err)
	}
	if _, err := db.ApplyRetention(ctx, time.Hour); err != nil {
		t.Fatalf("retention as the runtime role: %v", err)
	}
	if _, err := db.ExportResponses(ctx, pgstore.ResultsScope{Form: "immigrants"}, func(*pgstore.ExportRow) error { return nil }); err != nil {
		t.Fatalf("export as the runtime role: %v", err)
	}
	c2 := e.completed(t, "rt-2", "pseudonym-rt2")
	c2.Response.Started = time.Now().Add(-time.Hour)
	c2.Response.Completed = time.Now()
	if err := db.SaveResponse(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Erase(ctx, "pseudonym-rt2"); err != nil {
		t.Fatalf("erase as the runtime role: %v", err)
	}
	// An admin's workbook sent to the bot, then published (form_uploads,
	// migration 00016).
	var admin int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (77, 'admin') RETURNING id").Scan(&admin); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveFormUpload(ctx, pgstore.FormUpload{Key: "RRRRRRRRRRRRRRRRRRRRRR", StaffID: admin, Workbook: []byte("PK"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("save a workbook as the runtime role: %v", err)
	}
	if _, err := db.PublishFormUpload(ctx, "RRRRRRRRRRRRRRRRRRRRRR", time.Now(), pgstore.PublishedForm{Form: "rt_form", Version: 1, Definition: "form: rt_form\n", Messages: map[string]string{"en": ""},
		Languages: []string{"en"}, PublishedBy: &admin}); err != nil {
		t.Fatalf("publish a workbook as the runtime role: %v", err)
	}

	// What it must not do.
	for _, q := range []string{
		"UPDATE audit_log SET action = 'x'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
		"SELECT count(*) FROM audit_log",
		"TRUNCATE responses",
		"UPDATE goose_db_version SET is_applied = false",
		"DELETE FROM goose_db_version",
		"CREATE TABLE evil (x int)",
		"DROP TABLE responses",
		"ALTER TABLE responses ADD COLUMN evil int",
		"CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"DROP TRIGGER audit_log_no_update_delete ON audit_log",
		"ALTER TABLE audit_log DISABLE TRIGGER ALL",
		"CREATE ROLE evil",
		"COPY responses TO PROGRAM 'true'",
		"INSERT INTO reporting.access (role_name) VALUES ('evil')",
	} {
		_, err := conn.Exec(ctx, q)
		if err == nil {
			t.Errorf("the runtime role could: %s", q)
		} else if !isDenied(err) {
			t.Errorf("%s: %v (want permission denied)", q, err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'test.runtime'"); n != 1 {
		t.Fatalf("audit entry count %d", n)
	}
}
