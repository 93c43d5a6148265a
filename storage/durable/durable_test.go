package durable_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/durable"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/pgstore/pgstoretest"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

var ctx = context.Background()

// world is a migrated Postgres database of the test's own, reached through
// a proxy the test can cut, and a Redis key prefix of its own.
type world struct {
	db    *pgstore.DB // through the proxy
	pool  *pgxpool.Pool
	proxy *storagetest.Proxy
	rdb   *redis.Client
	pfx   string
	store *redisstore.Store
}

func newWorld(t *testing.T, opts redisstore.Options) *world {
	t.Helper()
	dsn, _, pool := pgstoretest.New(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := storagetest.NewProxy(t, u.Host)
	db, err := pgstore.Open(ctx, p.Via(dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	rdb, prefix := storagetest.Redis(t)
	opts.Prefix = prefix
	return &world{db: db, pool: pool, proxy: p, rdb: rdb, pfx: prefix, store: redisstore.New(rdb, opts)}
}

func (w *world) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// municipality is Prato's id (seeded by the migrations).
func (w *world) municipality(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := w.pool.QueryRow(ctx, `SELECT id FROM municipalities WHERE istat_code = '100005'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) completed(t *testing.T, id, pseudonym string) pgstore.Completed {
	started := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	return pgstore.Completed{ID: id, Pseudonym: pseudonym, MunicipalityID: w.municipality(t), ConsentVersion: "immigrati/2",
		Types: map[string]string{"age": "integer"},
		Response: dialog.Response{Form: "immigrati", FormVersion: 2, Language: "uk", Answers: map[string]string{"age": "34"},
			Started: started, Completed: started.Add(10 * time.Minute)}}
}

// TestResponsesOutbox: a response queued while Postgres is unreachable
// waits in the Redis outbox (queued once however often it is queued) and
// lands once when the drainer flushes; one Postgres refuses as invalid is
// ErrInvalid, and in the outbox goes to the dead letters.
func TestResponsesOutbox(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	if err := r.Save(ctx, w.completed(t, "direct", "p1")); err != nil {
		t.Fatal(err)
	}
	w.proxy.Cut()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := r.Save(sctx, w.completed(t, "queued", "p1"))
	cancel()
	if err == nil || errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("Save with Postgres down: %v, want a failure that is not ErrInvalid", err)
	}
	for range 2 { // a redelivery queues it again: once in the outbox
		if err := r.Queue(ctx, w.completed(t, "queued", "p1")); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.store.Depth(ctx); err != nil || n != 1 {
		t.Fatalf("outbox depth %d %v, want 1", n, err)
	}
	w.proxy.Restore()
	if n, err := r.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d %v, want 1", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p1'`); n != 2 {
		t.Fatalf("%d responses in Postgres, want 2", n)
	}
	if n, _ := w.store.Depth(ctx); n != 0 {
		t.Fatalf("outbox depth %d after Flush", n)
	}
	bad := w.completed(t, "bad", "p2")
	bad.MunicipalityID = 0
	if err := r.Save(ctx, bad); !errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("invalid response: %v, want ErrInvalid", err)
	}
	if err := r.Queue(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("Flush of an invalid response = %d %v, want 0 written", n, err)
	}
	if dead, _ := w.store.DeadLetters(ctx); dead != 1 {
		t.Fatalf("%d dead letters, want the invalid response", dead)
	}
}

// TestResponsesEraseBothStores: /delete erases what is in Postgres and what
// still waits in the outbox.
func TestResponsesEraseBothStores(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	if err := r.Save(ctx, w.completed(t, "e1", "p3")); err != nil {
		t.Fatal(err)
	}
	if err := r.Queue(ctx, w.completed(t, "e2", "p3")); err != nil {
		t.Fatal(err)
	}
	n, err := r.Erase(ctx, "p3")
	if err != nil || n != 2 {
		t.Fatalf("Erase = %d %v, want 2", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses`); n != 0 {
		t.Fatalf("%d responses left", n)
	}
	if n, _ := r.Flush(ctx); n != 0 {
		t.Fatalf("the outbox still wrote %d", n)
	}
}

type observer struct {
	mu            sync.Mutex
	events        []string
	pending, dead int64
}

func (o *observer) Interview(e string) { o.mu.Lock(); o.events = append(o.events, e); o.mu.Unlock() }
func (o *observer) Outbox(p, d int64)  { o.mu.Lock(); o.pending, o.dead = p, d; o.mu.Unlock() }

var _ durable.Observer = (*observer)(nil)

// TestAbandonmentSweep: an interview whose state expired after consent is
// recorded in Postgres once and counted; a second sweep finds nothing.
func TestAbandonmentSweep(t *testing.T) {
	const ttl = time.Hour
	w := newWorld(t, redisstore.Options{StateTTL: ttl})
	m := w.municipality(t)
	started := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	rec := &redisstore.AbandonRecord{Form: "immigrati", FormVersion: 2, MunicipalityID: m, Language: "uk", LastQuestion: "eta", Started: started,
		Reminded: true, Resumed: true}
	if err := w.store.Save(ctx, 42, 1, 0, 1, []byte("s"), rec); err != nil {
		t.Fatal(err)
	}
	o := &observer{}
	j := &durable.Abandonment{DB: w.db, Store: w.store, Observer: o, Now: time.Now}
	// Alive: nothing to record.
	if n, _, err := j.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("alive: Sweep = %d %v", n, err)
	}
	// Expire the state as Redis would after the TTL (no waiting on it).
	keys, err := w.rdb.Keys(ctx, w.pfx+"{c:*}:s").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("state keys %v %v", keys, err)
	}
	w.rdb.Del(ctx, keys[0])
	j.Now = func() time.Time { return time.Now().Add(ttl + time.Minute) }
	if n, more, err := j.Sweep(ctx); err != nil || n != 1 || more {
		t.Fatalf("expired: Sweep = %d %v %v, want 1", n, more, err)
	}
	if n := w.count(t, `SELECT count(*) FROM abandoned WHERE last_question = 'eta' AND language = 'uk' AND reminded AND resumed`); n != 1 {
		t.Fatalf("%d abandoned rows (with the reminder flags), want 1", n)
	}
	if n, _, err := j.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("again: Sweep = %d %v, want 0", n, err)
	}
	if len(o.events) != 1 || o.events[0] != "abandoned" {
		t.Fatalf("observed %v", o.events)
	}
}

// TestAbandonmentRecordOnceWithTheSweep: the core's expiry records the
// abandonment under the Redis record's id, so recording it again (the
// expiry applied twice) or the sweep meeting the same interview later (the
// expiry's save failed and the state then ran out) stores one row.
func TestAbandonmentRecordOnceWithTheSweep(t *testing.T) {
	const ttl = time.Hour
	w := newWorld(t, redisstore.Options{StateTTL: ttl})
	started := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	rec := redisstore.AbandonRecord{Form: "immigrati", FormVersion: 2, MunicipalityID: w.municipality(t), Language: "fa",
		LastQuestion: "lavoro", Started: started, Reminded: true}
	if err := w.store.Save(ctx, 44, 1, 0, 1, []byte("s"), &rec); err != nil {
		t.Fatal(err)
	}
	o := &observer{}
	j := &durable.Abandonment{DB: w.db, Store: w.store, Observer: o}
	for range 2 {
		if err := j.Record(ctx, 44, rec, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := w.rdb.Keys(ctx, w.pfx+"{c:*}:s").Result()
	w.rdb.Del(ctx, keys...)
	j.Now = func() time.Time { return time.Now().Add(ttl + redisstore.ExpireGrace + time.Minute) }
	if _, _, err := j.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.count(t, `SELECT count(*) FROM abandoned WHERE last_question = 'lavoro' AND language = 'fa' AND reminded`); n != 1 {
		t.Fatalf("%d abandoned rows, want 1", n)
	}
	// Another interview of the chat, whose record is gone: a fresh id.
	other := rec
	other.Started = started.Add(time.Minute)
	if err := j.Record(ctx, 44, other, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := w.count(t, `SELECT count(*) FROM abandoned WHERE language = 'fa'`); n != 2 {
		t.Fatalf("%d abandoned rows, want 2", n)
	}
}

// TestAbandonmentKeepsWhatPostgresRefused: when Postgres is down the
// record stays due and is recorded by a later sweep.
func TestAbandonmentKeepsWhatPostgresRefused(t *testing.T) {
	const ttl = time.Hour
	w := newWorld(t, redisstore.Options{StateTTL: ttl})
	rec := &redisstore.AbandonRecord{Form: "immigrati", FormVersion: 2, MunicipalityID: w.municipality(t), Language: "ar",
		LastQuestion: "q", Started: time.Now().Add(-2 * time.Hour)}
	if err := w.store.Save(ctx, 43, 1, 0, 1, []byte("s"), rec); err != nil {
		t.Fatal(err)
	}
	keys, _ := w.rdb.Keys(ctx, w.pfx+"{c:*}:s").Result()
	w.rdb.Del(ctx, keys...)
	j := &durable.Abandonment{DB: w.db, Store: w.store, Now: func() time.Time { return time.Now().Add(ttl + time.Minute) }}
	w.proxy.Cut()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	n, _, err := j.Sweep(sctx)
	cancel()
	if err == nil || n != 0 {
		t.Fatalf("Postgres down: Sweep = %d %v, want an error", n, err)
	}
	w.proxy.Restore()
	if n, _, err := j.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("after: Sweep = %d %v, want 1", n, err)
	}
}

// TestAbandonmentRunReportsTheOutbox: Run sweeps, then reports the
// outbox's depth after each wait, and returns when ctx ends.
func TestAbandonmentRunReportsTheOutbox(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	if err := w.store.Enqueue(ctx, "k1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	reported := make(chan struct{})
	o := &reportingObserver{reported: reported}
	j := &durable.Abandonment{DB: w.db, Store: w.store, Observer: o, Every: time.Millisecond}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { j.Run(rctx); close(done) }()
	<-reported
	cancel()
	<-done
	if o.pending != 1 || o.dead != 0 {
		t.Fatalf("reported %d pending, %d dead; want 1, 0", o.pending, o.dead)
	}
}

type reportingObserver struct {
	once          sync.Once
	reported      chan struct{}
	pending, dead int64
}

func (o *reportingObserver) Interview(string) {}
func (o *reportingObserver) Outbox(p, d int64) {
	o.once.Do(func() { o.pending, o.dead = p, d; close(o.reported) })
}

// TestRetentionOnce: responses completed before the retention period are
// unlinked from their pseudonyms; newer ones are not.
func TestRetentionOnce(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	old := w.completed(t, "old", "p-old")
	recent := w.completed(t, "recent", "p-new")
	recent.Response.Started, recent.Response.Completed = time.Now().Add(-time.Hour), time.Now()
	for _, c := range []pgstore.Completed{old, recent} {
		if err := r.Save(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	j := &durable.Retention{DB: w.db, Age: 180 * 24 * time.Hour}
	if n, err := j.Once(ctx); err != nil || n != 1 {
		t.Fatalf("Once = %d %v, want 1", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent IS NULL`); n != 1 {
		t.Fatalf("%d unlinked, want 1", n)
	}
	if n, err := j.Once(ctx); err != nil || n != 0 {
		t.Fatalf("again: Once = %d %v, want 0", n, err)
	}
}

// TestResponsesSaveCompleted: a completion saved with the finished
// interview's state is in Redis when SaveCompleted returns (before the
// channel sends the thank-you), not yet in Postgres, and reaches Postgres
// when the drainer runs — after a Postgres outage too, once Postgres is
// back, and once however often it is drained.
func TestResponsesSaveCompleted(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	pc := w.completed(t, "sc1", "p5")
	pc.Idem = "idem-sc1"
	if err := r.SaveCompleted(ctx, 501, 9, 0, 1, []byte("done"), pc); err != nil {
		t.Fatal(err)
	}
	if n, err := w.store.PendingCompleted(ctx); err != nil || n != 1 {
		t.Fatalf("PendingCompleted = %d %v after the save, want 1", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p5'`); n != 0 {
		t.Fatalf("%d responses in Postgres before the drain, want 0 (written off the turn)", n)
	}
	blob, version, _, _, err := w.store.Load(ctx, 501, 10)
	if err != nil || string(blob) != "done" || version != 1 {
		t.Fatalf("state %q v%d %v, want the saved one", blob, version, err)
	}

	w.proxy.Cut()
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	n, err := r.Flush(fctx)
	cancel()
	if err == nil || n != 0 {
		t.Fatalf("Flush with Postgres down = %d %v, want a failure", n, err)
	}
	if n, _ := w.store.PendingCompleted(ctx); n != 1 {
		t.Fatalf("PendingCompleted = %d after a failed drain, want 1 (kept)", n)
	}
	w.proxy.Restore()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(rctx); close(done) }()
	// The drain is over when the entry left Redis, which the drainer
	// removes after Postgres took it: stopped right after the row showed
	// (as the test did), it left the entry for the next drain — at least
	// once, by design — and PendingCompleted said 1 (4 in 60 runs under
	// -race at load 25–31).
	drained := func() bool {
		n, err := w.store.PendingCompleted(ctx)
		return err == nil && n == 0
	}
	for deadline := time.Now().Add(10 * time.Second); !drained(); {
		if time.Now().After(deadline) {
			t.Fatal("the drainer did not drain the completion")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p5'`); n != 1 {
		t.Fatalf("%d responses in Postgres after the drain, want 1", n)
	}
	if n, err := r.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("second Flush = %d %v, want nothing left", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p5' AND idem = 'idem-sc1'`); n != 1 {
		t.Fatalf("%d responses, want 1", n)
	}
}

// TestResponsesSaveCompletedConflict: a save whose version moved records
// no completion (nothing for the drainer to write).
func TestResponsesSaveCompletedConflict(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	if err := w.store.Save(ctx, 502, 1, 0, 1, []byte("asking"), nil); err != nil {
		t.Fatal(err)
	}
	pc := w.completed(t, "sc2", "p6")
	if err := r.SaveCompleted(ctx, 502, 2, 0, 1, []byte("done"), pc); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatalf("SaveCompleted from a stale version: %v, want ErrConflict", err)
	}
	if n, err := w.store.PendingCompleted(ctx); err != nil || n != 0 {
		t.Fatalf("PendingCompleted = %d %v after a conflict, want 0", n, err)
	}
	if n, err := r.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("Flush = %d %v after a conflict, want 0", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p6'`); n != 0 {
		t.Fatalf("%d responses in Postgres after a conflict", n)
	}
	bad := w.completed(t, "sc3", "p6")
	bad.MunicipalityID = 0
	if err := r.SaveCompleted(ctx, 502, 3, 1, 2, []byte("done"), bad); !errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("invalid response: %v, want ErrInvalid", err)
	}
	if _, version, _, _, _ := w.store.Load(ctx, 502, 4); version != 1 {
		t.Fatalf("version %d after an invalid completion, want 1 (nothing saved)", version)
	}
}

// TestResponsesSaveCompletedErased: /delete between the save and the
// drainer's write (the session first, then the responses, as
// interview.Turn.Erase does) leaves nothing for the drainer and nothing
// in Postgres.
func TestResponsesSaveCompletedErased(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	if err := r.SaveCompleted(ctx, 503, 1, 0, 1, []byte("done"), w.completed(t, "sc4", "p7")); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Delete(ctx, 503); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Erase(ctx, "p7"); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("Flush after erasure = %d %v, want 0", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE respondent = 'p7'`); n != 0 {
		t.Fatalf("%d responses in Postgres after erasure", n)
	}
	if n, _ := w.store.PendingCompleted(ctx); n != 0 {
		t.Fatalf("PendingCompleted = %d after erasure", n)
	}
}

// TestResponsesDrainOneTransaction: the completions the drainer finds
// together are written in one Postgres transaction (their rows share
// their xmin); a batch with one that Postgres refuses (an unknown
// municipality) is written one at a time instead: the others land and
// the refused one goes to the dead letters.
func TestResponsesDrainOneTransaction(t *testing.T) {
	w := newWorld(t, redisstore.Options{})
	r := durable.NewResponses(w.db, w.store, nil)
	save := func(chat int64, id string, mutate func(*pgstore.Completed)) {
		t.Helper()
		pc := w.completed(t, id, "p-"+id)
		pc.Idem = "idem-" + id
		if mutate != nil {
			mutate(&pc)
		}
		if err := r.SaveCompleted(ctx, chat, 1, 0, 1, []byte("done"), pc); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"t1", "t2", "t3"} {
		save(int64(901+i), id, nil)
	}
	if n, err := r.Flush(ctx); err != nil || n != 3 {
		t.Fatalf("Flush = %d %v, want 3", n, err)
	}
	if n := w.count(t, `SELECT count(DISTINCT xmin::text) FROM responses WHERE id IN ('t1', 't2', 't3')`); n != 1 {
		t.Fatalf("the three completions were written in %d transactions, want 1", n)
	}

	save(904, "t4", nil)
	save(905, "t5", func(pc *pgstore.Completed) { pc.MunicipalityID = 99999 })
	save(906, "t6", nil)
	if n, err := r.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("Flush with a refused completion = %d %v, want 2", n, err)
	}
	if n := w.count(t, `SELECT count(*) FROM responses WHERE id IN ('t4', 't5', 't6')`); n != 2 {
		t.Fatalf("%d of t4, t5, t6 stored, want t4 and t6", n)
	}
	if d, _ := w.store.DeadLetters(ctx); d != 1 {
		t.Fatalf("dead letters %d, want the refused completion", d)
	}
	if n, _ := w.store.PendingCompleted(ctx); n != 0 {
		t.Fatalf("PendingCompleted = %d, want 0", n)
	}
}
