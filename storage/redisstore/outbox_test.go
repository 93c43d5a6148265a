package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{Now: clk.Now})
	depth := func() int64 {
		t.Helper()
		n, err := s.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if depth() != 0 {
		t.Fatal("new outbox not empty")
	}
	for _, e := range []struct{ key, payload string }{{"k1", "one"}, {"k1", "one again"}, {"k2", "two"}, {"k3", "three"}} {
		if err := s.Enqueue(ctx, e.key, []byte(e.payload)); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	if depth() != 3 {
		t.Fatalf("depth %d, want 3 (k1 enqueued twice is one entry)", depth())
	}
	got, err := s.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "k1" || string(got[0].Payload) != "one" || got[1].Key != "k2" {
		t.Fatalf("Pending(2) = %+v; want k1 (first payload), k2", got)
	}
	if !got[0].Enqueued.Before(got[1].Enqueued) {
		t.Fatalf("enqueue times %s, %s", got[0].Enqueued, got[1].Enqueued)
	}
	if err := s.Done(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, "k1"); err != nil { // twice is fine
		t.Fatal(err)
	}
	got, _ = s.Pending(ctx, 10)
	if len(got) != 2 || got[0].Key != "k2" || got[1].Key != "k3" || depth() != 2 {
		t.Fatalf("after Done: %+v", got)
	}
	if err := s.Enqueue(ctx, "", nil); err == nil {
		t.Fatal("empty key accepted")
	}
}

// flakyWriter fails its first failures calls, then records deliveries.
type flakyWriter struct {
	mu        sync.Mutex
	failures  int
	calls     []time.Time
	delivered map[string]int
}

func (w *flakyWriter) write(ctx context.Context, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, time.Now())
	if len(w.calls) <= w.failures {
		return errors.New("postgres is down")
	}
	if string(payload) == "poison" {
		return redisstore.Permanent(errors.New("cannot decode"))
	}
	w.delivered[string(payload)]++
	return nil
}

func TestOutboxRunBackoffThenExactlyOnce(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for i := range 5 {
		if err := s.Enqueue(ctx, fmt.Sprint("k", i), fmt.Appendf(nil, "p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	w := &flakyWriter{failures: 6, delivered: map[string]int{}}
	const minB, maxB = 20 * time.Millisecond, 80 * time.Millisecond
	o := s.Outbox(redisstore.OutboxOptions{Batch: 2, MinBackoff: minB, MaxBackoff: maxB, Poll: 10 * time.Millisecond})
	var waitsMu sync.Mutex
	var waits []time.Duration // the waits Run chose after failed drains
	redisstore.OnWait(o, func(wait time.Duration, failed bool) {
		if failed {
			waitsMu.Lock()
			waits = append(waits, wait)
			waitsMu.Unlock()
		}
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(runCtx, w.write) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: depth %d", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Entries enqueued later are picked up by the poll, or at once on Kick.
	if err := s.Enqueue(ctx, "late", []byte("late")); err != nil {
		t.Fatal(err)
	}
	o.Kick()
	for d, _ := s.Depth(ctx); d != 0; d, _ = s.Depth(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("late entry not drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range []string{"p0", "p1", "p2", "p3", "p4", "late"} {
		if w.delivered[p] != 1 {
			t.Errorf("%s delivered %d times, want 1", p, w.delivered[p])
		}
	}
	// The waits Run asked for after the failed attempts (not the gaps
	// measured, which a loaded machine stretches): doubling from minB,
	// capped at maxB, each jittered down by up to half.
	waitsMu.Lock()
	defer waitsMu.Unlock()
	if len(waits) != w.failures {
		t.Fatalf("%d waits after failures, want %d: %v", len(waits), w.failures, waits)
	}
	want, jittered := minB, false
	for i, wait := range waits {
		if wait < want/2 || wait > want {
			t.Errorf("wait before attempt %d = %s, want in [%s, %s]", i+2, wait, want/2, want)
		}
		jittered = jittered || wait != want
		want = min(2*want, maxB)
	}
	if !jittered {
		t.Errorf("no wait jittered: %v", waits)
	}
}

func TestOutboxPermanentGoesToDeadLetters(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for _, p := range []string{"a", "poison", "b"} {
		if err := s.Enqueue(ctx, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	w := &flakyWriter{delivered: map[string]int{}}
	n, err := s.Outbox(redisstore.OutboxOptions{}).Flush(ctx, w.write)
	if err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v; want 2, nil", n, err)
	}
	if d, _ := s.Depth(ctx); d != 0 {
		t.Fatalf("depth %d", d)
	}
	if d, _ := s.DeadLetters(ctx); d != 1 {
		t.Fatalf("dead letters %d, want 1", d)
	}
	if w.delivered["a"] != 1 || w.delivered["b"] != 1 {
		t.Fatalf("delivered %v", w.delivered)
	}
	if !redisstore.IsPermanent(fmt.Errorf("wrapped: %w", redisstore.Permanent(errors.New("x")))) {
		t.Fatal("IsPermanent misses a wrapped Permanent")
	}
	if redisstore.Permanent(nil) != nil || redisstore.IsPermanent(errors.New("x")) {
		t.Fatal("Permanent(nil) or IsPermanent of a plain error")
	}
}

// TestOutboxCompletedSavedDuringDrain: a completion the same chat saves
// while the drainer writes the chat's earlier one (a later index score) is
// not dropped with it: the next drain writes it. A completion the writer
// rejects for good goes to the dead letters under its owner, where
// EraseOwner finds it.
func TestOutboxCompletedSavedDuringDrain(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{Now: clk.Now})
	const chat = 601
	if err := s.SaveDoneCompleted(ctx, chat, 1, 0, 1, []byte("done"), "k1", "p1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	var got []string
	write := func(ctx context.Context, payload []byte) error {
		got = append(got, string(payload))
		if len(got) == 1 {
			clk.Add(time.Second)
			if err := s.SaveDoneCompleted(ctx, chat, 2, 1, 2, []byte("done again"), "k2", "p1", []byte("two")); err != nil {
				t.Error(err)
			}
		}
		if string(payload) == "poison" {
			return redisstore.Permanent(errors.New("refused"))
		}
		return nil
	}
	o := s.Outbox(redisstore.OutboxOptions{})
	if n, err := o.Flush(ctx, write); err != nil || n != 1 {
		t.Fatalf("Flush = %d %v, want 1", n, err)
	}
	if n, err := s.PendingCompleted(ctx); err != nil || n != 1 {
		t.Fatalf("PendingCompleted = %d %v, want 1: the completion saved during the drain", n, err)
	}
	if n, err := o.Flush(ctx, write); err != nil || n != 1 {
		t.Fatalf("second Flush = %d %v, want 1", n, err)
	}
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("written %q, want one, two", got)
	}

	if err := s.SaveDoneCompleted(ctx, chat, 3, 2, 3, []byte("done"), "k3", "p1", []byte("poison")); err != nil {
		t.Fatal(err)
	}
	if n, err := o.Flush(ctx, write); err != nil || n != 0 {
		t.Fatalf("Flush of a rejected completion = %d %v, want 0", n, err)
	}
	if d, _ := s.DeadLetters(ctx); d != 1 {
		t.Fatalf("dead letters %d, want 1", d)
	}
	if n, _ := s.PendingCompleted(ctx); n != 0 {
		t.Fatalf("PendingCompleted = %d, want 0", n)
	}
	if n, err := s.EraseOwner(ctx, "p1"); err != nil || n != 1 {
		t.Fatalf("EraseOwner = %d %v, want the dead letter", n, err)
	}
}
