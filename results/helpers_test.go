package results

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/pgstore/pgstoretest"
)

var ctx = context.Background()

// testNow is the clock of the tests: a Tuesday afternoon in Rome.
var testNow = time.Date(2025, 6, 10, 15, 0, 0, 0, pgstore.ResultsLocation())

// world is a migrated database with synthetic interviews, and a Service.
type world struct {
	db    *pgstore.DB
	pool  *pgxpool.Pool
	lib   *dialog.Library
	cat   *locales.Catalog
	munis map[string]int64 // ISTAT → id
}

func newWorld(t testing.TB) *world {
	t.Helper()
	_, db, pool := pgstoretest.New(t)
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, pool: pool, lib: lib, cat: cat, munis: map[string]int64{}}
	ms, err := db.Municipalities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		w.munis[m.ISTAT] = m.ID
	}
	return w
}

func (w *world) service(t testing.TB, minCell int) *Service {
	t.Helper()
	s, err := New(Options{Places: w.db, Services: w.db, Counts: w.db, Rows: w.db, Auditor: w.db, Reporting: w.db, Forms: w.lib, Catalog: w.cat, MinCell: minCell, Now: func() time.Time { return testNow },
		TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seed stores n synthetic interviews (seeded: the same every run) over
// the last days days, in the given municipalities (all when none).
func (w *world) seed(t testing.TB, n, days int, seed uint64, istat ...string) (completed, abandoned int) {
	t.Helper()
	ms, err := w.db.Municipalities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var places []SynthPlace
	for _, m := range ms {
		if len(istat) > 0 && !contains(istat, m.ISTAT) {
			continue
		}
		svcs, err := w.db.Services(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		places = append(places, SynthPlace{ID: m.ID, Services: svcs})
	}
	g := &Synth{Forms: w.lib, Places: places, Now: testNow, Days: days, Rand: rand.New(rand.NewPCG(seed, 1)), OperatorShare: 0.15}
	var cs []pgstore.Completed
	var as []pgstore.Abandoned
	for range n {
		c, a, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			cs = append(cs, *c)
		} else {
			as = append(as, *a)
		}
	}
	if _, err := w.db.CopyResponses(ctx, cs, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.CopyAbandoned(ctx, as); err != nil {
		t.Fatal(err)
	}
	w.fixKeys(t)
	return len(cs), len(as)
}

// manager stores a manager of municipality muni and returns them as a
// member (the audit log refers to staff).
func (w *world) manager(t testing.TB, muni int64) org.Member {
	t.Helper()
	var id int64
	if err := w.pool.QueryRow(ctx, `INSERT INTO staff (telegram_user_id, role, municipality_id) VALUES ($1, 'manager', $2) RETURNING id`,
		7_300_000+muni, muni).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return org.Member{ID: id, Role: org.RoleManager, MunicipalityID: muni}
}

// fixKeys replaces the random record keys by ones derived from the ids
// (the synthetic ids are seeded), so that perturbed counts, and the golden
// files showing them, are the same every run; the rollup is rebuilt.
func (w *world) fixKeys(t testing.TB) {
	t.Helper()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		"SET LOCAL session_replication_role = replica", // no triggers: the rollup is rebuilt below
		"UPDATE responses SET rkey = ('x' || substr(md5(id), 1, 8))::bit(32)::bigint",
		"UPDATE abandoned SET rkey = ('x' || substr(md5(id), 1, 8))::bit(32)::bigint",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.db.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (w *world) count(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := w.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// protected runs q, which selects a count and the sum of the record keys
// of the rows counted, and protects it as staff must see it.
func (w *world) protected(t testing.TB, q string, args ...any) (int64, Count) {
	t.Helper()
	var n, k int64
	if err := w.pool.QueryRow(ctx, q, args...).Scan(&n, &k); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n, Protect(n, k, 5)
}

// where is an independent SQL rendering of a filter over responses r (or
// abandoned a), for checking every number against a direct count.
func (w *world) where(t testing.TB, f Filter, alias, timeCol string) (string, []any) {
	t.Helper()
	base := func(alias string) (string, []any) {
		conds := []string{alias + ".form = $1"}
		args := []any{f.Form}
		add := func(cond string, v any) {
			args = append(args, v)
			conds = append(conds, fmt.Sprintf(cond, len(args)))
		}
		if f.Municipality != 0 {
			add(alias+".municipality_id = $%d", f.Municipality)
		}
		if f.Service != 0 {
			add(alias+".service_id IN (SELECT id FROM services WHERE code = (SELECT code FROM services WHERE id = $%d))", f.Service)
		}
		if f.Language != "" {
			add(alias+".language = $%d", f.Language)
		}
		return strings.Join(conds, " AND "), args
	}
	// Release batches: the scope's completed interviews per day before
	// today; a batch closes with the day that brings it to 5 or more.
	rw, ra := base("r")
	rows, err := w.pool.Query(ctx, `SELECT (r.completed_at AT TIME ZONE 'Europe/Rome')::date::text, count(*) FROM responses r WHERE `+rw+
		fmt.Sprintf(` AND (r.completed_at AT TIME ZONE 'Europe/Rome')::date < $%d::date GROUP BY 1 ORDER BY 1`, len(ra)+1),
		append(ra, testNow.Format("2006-01-02"))...)
	if err != nil {
		t.Fatal(err)
	}
	var closes []string // the days that close a batch
	var acc int64
	var day string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&day, &n}, func() error {
		if acc += n; acc >= 5 {
			closes, acc = append(closes, day), 0
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cond, args := base(alias)
	local := "(" + alias + "." + timeCol + " AT TIME ZONE 'Europe/Rome')::date"
	if len(closes) == 0 {
		return cond + " AND false", args
	}
	args = append(args, closes[len(closes)-1])
	cond += fmt.Sprintf(" AND %s <= $%d::date", local, len(args))
	if f.Days > 0 {
		// The period starts at the first batch boundary (the day after a
		// closing day) on or after its nominal first day.
		first := testNow.AddDate(0, 0, -f.Days-1).Format("2006-01-02")
		start := ""
		for _, c := range closes {
			if c >= first {
				start = c
				break
			}
		}
		if start == "" {
			return cond + " AND false", args
		}
		args = append(args, start)
		cond += fmt.Sprintf(" AND %s > $%d::date", local, len(args))
	}
	return cond, args
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 2)) }
