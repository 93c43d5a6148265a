package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID is the Postgres advisory lock (per database) that
// serialises Migrate across replicas: "needsbot" in ASCII.
const migrationLockID int64 = 0x6e6565647362_6f74

func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// Poll for the lock every second for up to 5 minutes: a replica that
	// starts while another migrates waits for it, then finds nothing to do.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), // no Go migrations, no package state
		goose.WithLogger(goose.NopLogger()),
	)
}

// Migrate applies the embedded migrations that dsn's database lacks. It
// holds a Postgres advisory lock while it works, so replicas starting
// together never race: the others wait, then find nothing to do. Applying
// is forward-only; each migration runs in its own transaction.
func Migrate(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// MigrationsCurrent reports whether every embedded migration has been
// applied to pool's database, for readiness checks. It changes nothing: a
// database never migrated is simply not current. A database migrated
// further by a newer release is current.
func MigrationsCurrent(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil {
		return false, fmt.Errorf("pgstore: migrations current: %w", err)
	}
	if !exists {
		return false, nil
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		return false, fmt.Errorf("pgstore: migrations current: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("pgstore: migrations current: %w", err)
	}
	return !pending, nil
}
