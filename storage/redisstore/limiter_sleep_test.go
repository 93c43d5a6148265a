//go:build !race

package redisstore

import (
	"context"
	"testing"
	"time"
)

// A limiter's wait that ends when a round trip in flight settles (the
// common wait under load) makes no timer of its own: sleepOr's timers are
// kept. (Not under the race detector, whose counts are not exact.)
func TestSleepOrKeepsItsTimer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx.Done() // the context's channel is the caller's, made once
	settled := make(chan struct{})
	close(settled)
	n := testing.AllocsPerRun(200, func() {
		if err := sleepOr(ctx, time.Second, settled); err != nil {
			t.Fatal(err)
		}
	})
	if n > 0 {
		t.Errorf("a wait ended by a settled round trip allocates %.1f times, want 0", n)
	}
	// A wait that runs its course, and one its context ends, still do.
	if err := sleepOr(ctx, time.Millisecond, nil); err != nil {
		t.Fatalf("a wait of 1ms: %v", err)
	}
	cancel()
	if err := sleepOr(ctx, time.Hour, nil); err != context.Canceled {
		t.Fatalf("a wait whose context ended: %v, want context.Canceled", err)
	}
}
