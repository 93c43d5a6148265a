package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
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
func TestRedisLimiterWaitersSharePolls(t *testing.T) {
	store, rdb, _ := newStore(t, redisstore.Options{})
	h := &roundTrips{}
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
	n := h.n.Load()
	t.Logf("%d Redis round trips for %d events", n, waiters*each)
	if n > waiters*each/5+6 { // + loading the script, a late refusal or two
		t.Fatalf("%d Redis round trips for %d events by %d waiters: more than one per 5 events", n, waiters*each, waiters)
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
