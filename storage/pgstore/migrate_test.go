package pgstore_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	if cur, err := pgstore.MigrationsCurrent(ctx, pool); err != nil || cur {
		t.Fatalf("fresh database: current=%v err=%v", cur, err)
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'goose_db_version'").Scan(&n)
	if n != 0 {
		t.Fatal("MigrationsCurrent created the version table")
	}

	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	if cur, err := pgstore.MigrationsCurrent(ctx, pool); err != nil || !cur {
		t.Fatalf("after Migrate: current=%v err=%v", cur, err)
	}
	var rows int
	pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version").Scan(&rows)
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var again int
	pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version").Scan(&again)
	if again != rows {
		t.Fatalf("second Migrate changed the version table: %d → %d rows", rows, again)
	}
	var munis int
	pool.QueryRow(ctx, "SELECT count(*) FROM municipalities").Scan(&munis)
	if munis != 3 {
		t.Fatalf("%d municipalities after two Migrates, want 3", munis)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = pgstore.Migrate(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if cur, err := db.MigrationsCurrent(ctx); err != nil || !cur {
		t.Fatalf("current=%v err=%v", cur, err)
	}
	e := &env{dsn: dsn, db: db}
	e.pool, _ = pgxpool.New(ctx, dsn)
	defer e.pool.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	if n := e.count(t, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n != len(files) {
		t.Fatalf("%d migrations recorded, want %d (each once)", n, len(files))
	}
	if n := e.count(t, "SELECT count(*) FROM services"); n != 15 {
		t.Fatalf("%d services, want 15 (seeded once)", n)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, m := range []struct{ istat, name string }{{"058091", "Roma"}, {"015146", "Milano"}, {"100005", "Prato"}} {
		var name string
		var services []string
		err := e.pool.QueryRow(ctx, `SELECT m.name, array_agg(s.code ORDER BY s.code) FROM municipalities m
			JOIN services s ON s.municipality_id = m.id WHERE m.istat_code = $1 GROUP BY m.name`, m.istat).Scan(&name, &services)
		if err != nil || name != m.name || len(services) != 5 {
			t.Errorf("%s: %q %v %v", m.istat, name, services, err)
		}
	}
}

func TestMunicipalityID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, err := e.db.MunicipalityID(ctx, "015146")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := e.municipality(t, "015146", "anagrafe"); id != want {
		t.Fatalf("Milano = %d, want %d", id, want)
	}
	if _, err := e.db.MunicipalityID(ctx, "999999"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("unknown code: %v, want ErrNotFound", err)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
