package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestOutboxWriteBatch: the completions of one drain go to WriteBatch in
// one call (one Postgres transaction for the drainer) and leave Redis;
// when WriteBatch fails they are written one at a time, and the one the
// writer rejects for good goes to the dead letters while the others are
// written.
func TestOutboxWriteBatch(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{Now: clk.Now})
	save := func(chat int64, key, payload string) {
		t.Helper()
		if err := s.SaveDoneCompleted(ctx, chat, 1, 0, 1, []byte("done"), key, "p"+key, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	for i, p := range []string{"one", "two", "three"} {
		save(int64(701+i), "k"+p, p)
	}
	var batches [][]string
	var singles []string
	writeBatch := func(ctx context.Context, payloads [][]byte) error {
		var b []string
		for _, p := range payloads {
			b = append(b, string(p))
		}
		batches = append(batches, b)
		if slices.Contains(b, "poison") {
			return errors.New("refused") // as SaveResponses: all or none
		}
		return nil
	}
	write := func(ctx context.Context, payload []byte) error {
		singles = append(singles, string(payload))
		if string(payload) == "poison" {
			return redisstore.Permanent(errors.New("refused"))
		}
		return nil
	}
	o := s.Outbox(redisstore.OutboxOptions{WriteBatch: writeBatch})
	if n, err := o.Flush(ctx, write); err != nil || n != 3 {
		t.Fatalf("Flush = %d %v, want 3", n, err)
	}
	if len(batches) != 1 || len(singles) != 0 {
		t.Fatalf("batches %q, singles %q: want the three completions in one batch", batches, singles)
	}
	got := slices.Sorted(slices.Values(batches[0]))
	if !slices.Equal(got, []string{"one", "three", "two"}) {
		t.Fatalf("batch %q, want one, two, three", batches[0])
	}
	if n, err := s.PendingCompleted(ctx); err != nil || n != 0 {
		t.Fatalf("PendingCompleted = %d %v after the batch, want 0", n, err)
	}
	if n, err := o.Flush(ctx, write); err != nil || n != 0 || len(batches) != 1 {
		t.Fatalf("second Flush = %d %v (%d batches), want nothing written", n, err, len(batches))
	}

	save(704, "k4", "four")
	save(705, "k5", "poison")
	save(706, "k6", "six")
	batches, singles = nil, nil
	if n, err := o.Flush(ctx, write); err != nil || n != 2 {
		t.Fatalf("Flush with a rejected completion = %d %v, want 2", n, err)
	}
	if len(batches) != 1 || len(singles) != 3 {
		t.Fatalf("batches %q, singles %q: want the failed batch, then each written alone", batches, singles)
	}
	if d, _ := s.DeadLetters(ctx); d != 1 {
		t.Fatalf("dead letters %d, want 1", d)
	}
	if n, _ := s.PendingCompleted(ctx); n != 0 {
		t.Fatalf("PendingCompleted = %d, want 0", n)
	}
}

// TestOutboxLinger: after a Kick, Run waits Linger before it drains, so
// that completions close together share a batch; stopped meanwhile, it
// has written nothing (the completion stays in Redis for the next drain).
func TestOutboxLinger(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	const linger = 30 * time.Minute
	o := s.Outbox(redisstore.OutboxOptions{Poll: time.Hour, Linger: linger})
	waits := make(chan time.Duration, 4)
	redisstore.OnWait(o, func(wait time.Duration, failed bool) { waits <- wait })
	var mu sync.Mutex
	var written []string
	write := func(ctx context.Context, payload []byte) error {
		mu.Lock()
		written = append(written, string(payload))
		mu.Unlock()
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(runCtx, write) }()
	if w := <-waits; w != time.Hour { // the first drain (nothing), then the poll
		t.Fatalf("first wait %s, want the poll", w)
	}
	if err := s.SaveDoneCompleted(ctx, 801, 1, 0, 1, []byte("done"), "k", "p", []byte("late")); err != nil {
		t.Fatal(err)
	}
	o.Kick()
	if w := <-waits; w != linger {
		t.Fatalf("wait after the kick %s, want the linger", w)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(written) != 0 {
		t.Fatalf("written %q during the linger, want nothing", written)
	}
	if n, _ := s.PendingCompleted(ctx); n != 1 {
		t.Fatalf("PendingCompleted = %d, want the completion kept", n)
	}
}
