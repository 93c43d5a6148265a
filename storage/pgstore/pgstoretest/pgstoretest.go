// Package pgstoretest gives tests a migrated Postgres database of their
// own: the store, and a raw pool for checks by direct SQL.
package pgstoretest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// New creates a fresh database (storagetest.Postgres: skipped locally and
// failed under CI=true when the server is missing), migrates it and opens
// it; everything is closed and dropped when the test ends.
func New(t testing.TB) (dsn string, db *pgstore.DB, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	dsn = storagetest.Postgres(t)
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	pool, err = pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return dsn, db, pool
}
