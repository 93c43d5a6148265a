package pgstore_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestPostgresDownAtCompletion follows step 7 of an update's path: the
// response cannot be written because Postgres is unreachable, so it waits
// in the Redis outbox, and lands exactly once when Postgres is back.
func TestPostgresDownAtCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := storagetest.NewProxy(t, u.Host)
	viaProxy, err := pgstore.Open(ctx, p.Via(e.dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer viaProxy.Close()
	if err := viaProxy.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := storagetest.Redis(t)
	rs := redisstore.New(rdb, redisstore.Options{Prefix: prefix})

	c := e.completed(t, "resp-outbox", "pseudo-o")
	p.Cut()
	saveCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = viaProxy.SaveResponse(saveCtx, c)
	cancel()
	if err == nil {
		t.Fatal("SaveResponse succeeded with Postgres cut off")
	}
	payload, err := pgstore.MarshalCompleted(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Enqueue(ctx, c.ID, payload); err != nil {
		t.Fatal(err)
	}

	// The flusher runs while Postgres is still away, and keeps failing.
	var attempts, written atomic.Int64
	thirdAttempt := make(chan struct{})
	write := func(ctx context.Context, payload []byte) error {
		if attempts.Add(1) == 3 {
			close(thirdAttempt)
		}
		err := viaProxy.WriteCompleted(ctx, payload)
		if err == nil {
			written.Add(1)
		}
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	o := rs.Outbox(redisstore.OutboxOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Poll: 20 * time.Millisecond})
	go func() { done <- o.Run(runCtx, write) }()
	// Bounded by a generous deadline, not a spin: a flusher that stops
	// retrying fails the test instead of hanging it.
	select {
	case <-thirdAttempt:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d write attempts in 30 s while Postgres was cut", attempts.Load())
	}
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 0 {
		t.Fatalf("%d responses while Postgres was cut", n)
	}
	if d, _ := rs.Depth(ctx); d != 1 {
		t.Fatalf("outbox depth %d while Postgres was cut, want 1", d)
	}

	p.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for d, _ := rs.Depth(ctx); d != 0; d, _ = rs.Depth(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("outbox not drained after Restore")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if written.Load() != 1 {
		t.Fatalf("written %d times, want 1", written.Load())
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE id = $1", c.ID); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answers WHERE response_id = $1", c.ID); n != len(c.Response.Answers) {
		t.Fatalf("%d answers, want %d", n, len(c.Response.Answers))
	}
	t.Logf("landed after %d attempts", attempts.Load())
}
