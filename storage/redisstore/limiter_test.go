package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestRedisLimiterPaces checks the shared Bot API budget: two "replicas"
// together never exceed it (burst + rate × time), also when each has
// several calls waiting at once.
func TestRedisLimiterPaces(t *testing.T) {
	store, _, _ := newStore(t, redisstore.Options{})
	a := store.Limiter("telegram:global", 20)
	b := store.Limiter("telegram:global", 20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range []*redisstore.Limiter{a, b} {
		for range 8 {
			wg.Go(func() {
				for range 5 {
					if err := l.Wait(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	// 80 calls at 20/s with a burst of 10 take at least 3.5 s.
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("80 calls in %s: the shared budget of 20/s was exceeded", took)
	}
}

// TestRedisLimiterWaitersSharePolls: many goroutines waiting on a spent
// budget do not each poll Redis, nor does the limiter poll a budget it
// knows to be spent: the round trips stay at about one per batch of 5
// events (after a grant the limiter waits until the next batch can be
// free). Polling until Redis said yes took two round trips per batch (49
// for these 120 events).
//
// What is counted is the limiter's own round trips (its script's runs),
// not go-redis's connection handshake (HELLO, SELECT, CLIENT …: four
// commands per connection dialled), which the test counted before: a
// second connection dialled on a loaded machine made 32 "round trips" of
// 28 (session 13).
func TestRedisLimiterWaitersSharePolls(t *testing.T) {
	store, rdb, _ := newStore(t, redisstore.Options{})
	h := &scriptRuns{}
	rdb.AddHook(h)
	l := store.Limiter("telegram:waiters", 50)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const waiters, each = 40, 3 // 120 events: the burst of 10, then 110 at 50/s
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			for range each {
				if err := l.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n, granted := h.n.Load(), h.granted.Load()
	t.Logf("%d Redis round trips (%d granted a batch) for %d events", n, granted, waiters*each)
	if n > waiters*each/5+6 { // + loading the script, a late refusal or two
		t.Fatalf("%d Redis round trips for %d events by %d waiters (%d granted a batch): more than one per 5 events", n, waiters*each, waiters, granted)
	}
}

// scriptRuns counts the commands that run a script (EVALSHA, EVAL: the
// limiter's round trips; a pipeline counts once) and those whose answer
// granted events, and nothing else the client sends.
type scriptRuns struct{ n, granted atomic.Int64 }

func (h *scriptRuns) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptRuns) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count([]redis.Cmder{cmd})
		return err
	}
}

func (h *scriptRuns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.count(cmds)
		return err
	}
}

func (h *scriptRuns) count(cmds []redis.Cmder) {
	runs := false
	for _, c := range cmds {
		if name := c.Name(); name != "evalsha" && name != "eval" {
			continue
		}
		runs = true
		if c, ok := c.(*redis.Cmd); ok {
			if v, err := c.Slice(); err == nil && len(v) > 0 && v[0] != int64(0) {
				h.granted.Add(1)
			}
		}
	}
	if runs {
		h.n.Add(1)
	}
}

// TestRedisLimiterLeaseLapses: events a replica reserved and did not spend
// lapse after leaseFor (1 s): the next call after an idle spell asks Redis
// again instead of spending what was charged to the budget long ago.
func TestRedisLimiterLeaseLapses(t *testing.T) {
	store, rdb, _ := newStore(t, redisstore.Options{})
	h := &roundTrips{}
	rdb.AddHook(h)
	// The script's first run loads it (NOSCRIPT, then EVAL).
	if err := store.Limiter("telegram:lease-warm", 20).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h.n.Store(0)
	l := store.Limiter("telegram:lease", 20)
	for range 2 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("%d round trips for 2 events: want 1 (a batch of 5)", n)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n != 2 {
		t.Fatalf("%d round trips: the events reserved over a second ago were spent, want a new reservation", n)
	}
}

// TestRedisLimiterAllowTakesReservedEvents: Allow spends the events a
// Wait reserved (a batch of 5: the Wait's own and 4 more) without a round
// trip, and nothing else: with none at hand it is false and asks nothing.
func TestRedisLimiterAllowTakesReservedEvents(t *testing.T) {
	store, rdb, _ := newStore(t, redisstore.Options{})
	// The script's first run loads it (NOSCRIPT, then EVAL).
	if err := store.Limiter("telegram:allow-warm", 20).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h := &roundTrips{}
	rdb.AddHook(h)
	l := store.Limiter("telegram:allow", 20)
	if l.Allow() {
		t.Fatal("Allow before any reservation")
	}
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if !l.Allow() {
			t.Fatalf("Allow %d: an event reserved by the Wait not taken", i+1)
		}
	}
	if l.Allow() {
		t.Fatal("Allow took a sixth event of a batch of 5")
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("%d round trips for a batch of 5, want 1", n)
	}
}

// TestTakeAllSpendsNothingItDoesNotGrant: a batch is taken whole or not at
// all. A refused TakeAll charges nothing (the wait it names only shrinks
// as time passes), and after that wait the whole batch is there — where
// AllowAtMost would have granted the whole part of the refill and spent
// its fraction too (the shared budget gave 26.8 of 28 events a second to
// 40 waiters that way).
func TestTakeAllSpendsNothingItDoesNotGrant(t *testing.T) {
	store, _, _ := newStore(t, redisstore.Options{})
	ctx := context.Background()
	const key, limit, n = "takeall", 10, 5
	for i := 0; i < limit/n; i++ { // the burst
		if ok, _, err := store.TakeAll(ctx, key, limit, time.Second, n); err != nil || !ok {
			t.Fatalf("batch %d of the burst refused: %v", i, err)
		}
	}
	ok, first, err := store.TakeAll(ctx, key, limit, time.Second, n)
	if err != nil || ok || first <= 0 || first > 500*time.Millisecond {
		t.Fatalf("spent budget: ok %v, wait %s, %v; want a refusal and a wait of at most 500 ms", ok, first, err)
	}
	time.Sleep(first / 2)
	ok, second, err := store.TakeAll(ctx, key, limit, time.Second, n)
	if err != nil || ok || second <= 0 || second >= first {
		t.Fatalf("a refused TakeAll charged the budget: ok %v, wait %s after %s, %v", ok, second, first, err)
	}
	time.Sleep(second)
	if ok, wait, err := store.TakeAll(ctx, key, limit, time.Second, n); err != nil || !ok {
		t.Fatalf("after the wait it named the batch is not free (wait %s more): %v", wait, err)
	}
	if _, _, err := store.TakeAll(ctx, key, limit, time.Second, limit+1); err == nil {
		t.Error("a batch larger than the burst was not refused")
	}
}

// limiterGate holds the rate script's round trips (plain client: one
// command, one hook call) while armed: each one that arrives is counted
// and reported on entered, then waits until open is closed or its context
// ends, and fails with fail if set.
type limiterGate struct {
	armed   atomic.Bool
	n       atomic.Int64
	entered chan struct{}
	open    chan struct{}
	release func() // closes open, once
	fail    error
}

func newLimiterGate(t *testing.T) *limiterGate {
	g := &limiterGate{entered: make(chan struct{}, 100), open: make(chan struct{})}
	g.release = sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(g.release)
	return g
}

func (g *limiterGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *limiterGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); !g.armed.Load() || (name != "evalsha" && name != "eval") {
			return next(ctx, cmd)
		}
		g.n.Add(1)
		g.entered <- struct{}{}
		select {
		case <-g.open:
		case <-ctx.Done():
			cmd.SetErr(ctx.Err())
			return ctx.Err()
		}
		if g.fail != nil {
			cmd.SetErr(g.fail)
			return g.fail
		}
		return next(ctx, cmd)
	}
}

func (g *limiterGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// gatedLimiterStore is a store over a plain client (each round trip its
// own hook call, none batched with another) with g on it, the rate
// script loaded.
func gatedLimiterStore(t *testing.T, g *limiterGate) *redisstore.Store {
	t.Helper()
	rdb, prefix := storagetest.Redis(t)
	rdb.AddHook(g)
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err := store.Limiter("telegram:gate-warm", 20).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	return store
}

// waitEntered waits for the gate's next round trip, failing the test if
// none comes: a deadlock guard, not a timing bound.
func waitEntered(t *testing.T, g *limiterGate, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no round trip came in 10 s (%d so far)", what, g.n.Load())
	}
}

// waitMany starts n callers of l.Wait; the group ends when all returned.
func waitMany(t *testing.T, l *redisstore.Limiter, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := l.Wait(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	return &wg
}

// Concurrent callers do not queue behind a slow round trip (session 7).
// Before, Wait held the limiter's mutex across its Redis round trip: the
// burst's second batch waited for the first one's answer, a caller whose
// context ended could not leave until the round trip did, and while Redis
// failed each waiting caller made its own failing round trip in turn.
func TestRedisLimiterNotSerialisedBehindASlowRoundTrip(t *testing.T) {
	t.Run("the burst's batches in parallel", func(t *testing.T) {
		g := newLimiterGate(t)
		l := gatedLimiterStore(t, g).Limiter("telegram:parallel", 20) // a burst of 2 batches of 5
		wg := waitMany(t, l, 10)
		waitEntered(t, g, "the first batch")
		waitEntered(t, g, "the second batch while the first is held")
		g.release()
		wg.Wait()
		if n := g.n.Load(); n != 2 {
			t.Fatalf("%d round trips for 10 events within the burst, want 2", n)
		}
	})
	t.Run("a caller that gives up leaves", func(t *testing.T) {
		g := newLimiterGate(t)
		l := gatedLimiterStore(t, g).Limiter("telegram:leave", 5) // a burst of one batch
		go l.Wait(ctx)
		waitEntered(t, g, "the first batch")
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- l.Wait(cctx) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Wait returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a caller whose context ended is still held behind the round trip in flight")
		}
	})
	t.Run("a failing Redis fails one round trip for all", func(t *testing.T) {
		g := newLimiterGate(t)
		g.fail = errors.New("redis down")
		l := gatedLimiterStore(t, g).Limiter("telegram:down", 1000)
		wg := waitMany(t, l, 10)
		waitEntered(t, g, "the first batch")
		g.release()
		wg.Wait()
		// At most the burst's two batches asked before the first failed.
		if n := g.n.Load(); n > 2 {
			t.Fatalf("%d failing round trips for 10 callers, want at most 2: one a second paces them all locally", n)
		}
	})
}
