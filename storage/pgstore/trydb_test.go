package pgstore_test

import (
	"errors"
	"testing"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestCheckDemoDatabase(t *testing.T) {
	t.Parallel()
	demo := []int64{1<<52 + 1, 1<<52 + 2}
	// A database without needsbot's tables is fine.
	if err := pgstore.CheckDemoDatabase(ctx, storagetest.Postgres(t), demo); err != nil {
		t.Fatalf("empty database refused: %v", err)
	}
	e := newEnv(t)
	if err := pgstore.CheckDemoDatabase(ctx, e.dsn, demo); err != nil {
		t.Fatalf("migrated, empty database refused: %v", err)
	}
	// Demo staff and synthetic responses are fine.
	if _, err := e.pool.Exec(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES ($1, 'admin')", demo[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveResponse(ctx, e.completed(t, "seed-1", "")); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.CheckDemoDatabase(ctx, e.dsn, demo); err != nil {
		t.Fatalf("demo data refused: %v", err)
	}
	// A real response: refused unless the database is try's own.
	if err := e.db.SaveResponse(ctx, e.completed(t, pgstore.NewResponseID(), "someone")); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.CheckDemoDatabase(ctx, e.dsn, demo); !errors.Is(err, pgstore.ErrNotDemo) {
		t.Fatalf("a database with a real response: %v, want ErrNotDemo", err)
	}
	if err := e.db.MarkDemoDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.CheckDemoDatabase(ctx, e.dsn, demo); err != nil {
		t.Fatalf("try's own database refused: %v", err)
	}
	// Real staff: always refused.
	if _, err := e.pool.Exec(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (700000001, 'admin')"); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.CheckDemoDatabase(ctx, e.dsn, demo); !errors.Is(err, pgstore.ErrNotDemo) {
		t.Fatalf("a database with real staff: %v, want ErrNotDemo", err)
	}
}
