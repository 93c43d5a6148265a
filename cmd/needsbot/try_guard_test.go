//go:build !prod

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// productionLike returns a migrated database with one real staff member.
func productionLike(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (123456789, 'admin')"); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// try and seed refuse a database holding real data, even when it is named
// explicitly; try ignores NEEDSBOT_DATABASE_URL altogether.
func TestTryAndSeedRefuseARealDatabase(t *testing.T) {
	t.Parallel()
	dsn := productionLike(t)
	_, prefix := storagetest.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), slow(time.Minute))
	defer cancel()
	var out, errs syncBuffer
	code := run(ctx, []string{"try", "--addr", "127.0.0.1:0", "--database-url", dsn, "--redis-url", storagetest.RedisURL(),
		"--redis-prefix", prefix}, func(string) string { return "" }, nil, &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "refusing") || !strings.Contains(errs.String(), "staff") {
		t.Fatalf("try on a real database: exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	var sout, serrs syncBuffer
	code = run(ctx, []string{"seed", "--responses", "10", "--database-url", dsn}, func(string) string { return "" }, nil, &sout, &serrs)
	if code != 1 || !strings.Contains(serrs.String(), "refusing") {
		t.Fatalf("seed on a real database: exit %d\n%s\n%s", code, sout.String(), serrs.String())
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var staff, invites, responses int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM staff), (SELECT count(*) FROM invites), (SELECT count(*) FROM responses)`).
		Scan(&staff, &invites, &responses); err != nil {
		t.Fatal(err)
	}
	if staff != 1 || invites != 0 || responses != 0 {
		t.Fatalf("the real database was written: %d staff, %d invites, %d responses", staff, invites, responses)
	}
}

// The demo staff's impossible Telegram ids work through the web chat and
// the fake Bot API: the manager persona is recognised as staff.
func TestTryDemoStaffWithImpossibleIDs(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	_, prefix := storagetest.Redis(t)
	r := startTry(t, map[string]string{"NEEDSBOT_DATABASE_URL": dsn, "NEEDSBOT_REDIS_URL": storagetest.RedisURL(),
		"NEEDSBOT_REDIS_PREFIX": prefix}, nil)
	c := &pageClient{t: t, base: r.url}
	var s struct {
		User int64 `json:"user"`
	}
	c.call("POST", "/api/session", map[string]any{"persona": "manager", "lang": "en"}, &s)
	if s.User != trykit.DemoManagerID || s.User < 1<<52 {
		t.Fatalf("manager persona is user %d, want %d", s.User, trykit.DemoManagerID)
	}
	c.call("POST", "/api/send", map[string]any{"user": s.User, "text": "/results"}, nil)
	ch := c.waitIdle(s.User, 0)
	screen := ch.screen()
	last := screen[len(screen)-1]
	if !last.FromBot || strings.Contains(last.Text, "don't know this command") || strings.Contains(last.Text, "non conosco") {
		t.Fatalf("the demo manager is not staff: %+v", screen)
	}
}
