package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/pgstore/pgstoretest"
	"github.com/needsbot/needsbot/storage/redisstore"
)

var ctx = context.Background()

// env is a migrated database of its own, with the store and a raw pool for
// checks.
type env struct {
	dsn  string
	db   *pgstore.DB
	pool *pgxpool.Pool
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dsn, db, pool := pgstoretest.New(t)
	return &env{dsn: dsn, db: db, pool: pool}
}

func (e *env) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// municipality returns the id of the municipality with the ISTAT code, and
// that of its service with the code.
func (e *env) municipality(t testing.TB, istat, service string) (int64, *int64) {
	t.Helper()
	var m, s int64
	err := e.pool.QueryRow(ctx, `SELECT m.id, s.id FROM municipalities m JOIN services s ON s.municipality_id = m.id
		WHERE m.istat_code = $1 AND s.code = $2`, istat, service).Scan(&m, &s)
	if err != nil {
		t.Fatalf("municipality %s service %s: %v", istat, service, err)
	}
	return m, &s
}

// write is the outbox writer as cmd wires it: a payload the database can
// never take is a permanent failure, anything else is retried.
func (e *env) write(ctx context.Context, payload []byte) error {
	err := e.db.WriteCompleted(ctx, payload)
	if errors.Is(err, pgstore.ErrInvalid) {
		return redisstore.Permanent(err)
	}
	return err
}

var testTypes = map[string]string{
	"consent": "select_one", "age": "integer", "country": "select_one",
	"needs": "select_multiple", "hours": "decimal", "satisfaction": "range",
	"arrived": "date", "comment": "text", "invite_service": "hidden",
}

// completed returns a response for the Prato anagrafe with a few answers of
// every type.
func (e *env) completed(t testing.TB, id, pseudonym string) pgstore.Completed {
	t.Helper()
	m, s := e.municipality(t, "100005", "anagrafe")
	started := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	return pgstore.Completed{
		ID: id, Pseudonym: pseudonym, MunicipalityID: m, ServiceID: s,
		ConsentVersion: "2025-01", Types: testTypes,
		Response: dialog.Response{
			Form: "immigrants", FormVersion: 2, Language: "zh", Languages: []string{"it", "zh"},
			Answers: map[string]string{
				"consent": "yes", "age": "34", "country": "cn", "needs": "language work housing",
				"hours": "12.5", "satisfaction": "4", "arrived": "2019-05", "comment": "molto 12 bene",
				"invite_service": "anagrafe",
			},
			Started: started, Completed: started.Add(11*time.Minute + 30*time.Second),
		},
	}
}

// bigCompleted returns a response with n answers, a mix of types, for
// benchmarks.
func (e *env) bigCompleted(t testing.TB, id string, n int) pgstore.Completed {
	c := e.completed(t, id, "p-"+id)
	c.Types = map[string]string{}
	c.Response.Answers = map[string]string{}
	for i := range n {
		q := fmt.Sprintf("q%02d", i)
		switch i % 4 {
		case 0:
			c.Types[q], c.Response.Answers[q] = "select_one", "often"
		case 1:
			c.Types[q], c.Response.Answers[q] = "select_multiple", "documents health school"
		case 2:
			c.Types[q], c.Response.Answers[q] = "integer", fmt.Sprint(i*7)
		case 3:
			c.Types[q], c.Response.Answers[q] = "text", "una risposta"
		}
	}
	return c
}
