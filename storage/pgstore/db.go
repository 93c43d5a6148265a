package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/needsbot/needsbot/org"
)

// ErrInvalid marks data the database can never accept (missing fields,
// unknown municipality or invite, a service of another municipality…):
// retrying will not help. Callers draining an outbox treat it as permanent.
const ErrInvalid = org.ErrInvalid

// DB is needsbot's Postgres database. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// Now is the clock ApplyRetention measures age against (time.Now).
	Now func() time.Time

	rollupMu   sync.Mutex
	rollupLast time.Time // the last RollupTick that caught up

	directoryGen atomic.Uint64 // edits of the directory through d (DirectoryCache)
}

// Open returns a DB with a connection pool for dsn. It does not connect:
// call Ping to check the server.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	return &DB{pool: pool, Now: time.Now}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (d *DB) Close() { d.pool.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// MigrationsCurrent reports whether the database has every embedded
// migration applied (see the function of the same name).
func (d *DB) MigrationsCurrent(ctx context.Context) (bool, error) {
	return MigrationsCurrent(ctx, d.pool)
}

// classify wraps err with what it means for a caller: ErrInvalid for
// integrity violations and bad data, which no retry can fix.
func classify(op string, err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "23") || strings.HasPrefix(pg.Code, "22")) {
		return fmt.Errorf("pgstore: %s: %w: %w", op, ErrInvalid, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// Audit appends an entry to the audit log. actor is the staff member who
// acted, nil for the system; detail is encoded as JSON and must not
// identify respondents.
func (d *DB) Audit(ctx context.Context, actor *int64, action string, detail any) error {
	return audit(ctx, d.pool, actor, action, detail)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func audit(ctx context.Context, db execer, actor *int64, action string, detail any) error {
	if action == "" {
		return fmt.Errorf("pgstore: audit: %w: empty action", ErrInvalid)
	}
	if detail == nil {
		detail = struct{}{}
	}
	js, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("pgstore: audit: %w", err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO audit_log (actor_id, action, detail) VALUES ($1, $2, $3)", actor, action, js); err != nil {
		return classify("audit", err)
	}
	return nil
}
