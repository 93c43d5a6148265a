package staff

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// The queue is bounded: with its worker busy and its one place taken, a
// third job is refused (ErrBusy), and the queued one runs once the
// worker is free; every job's end is reported once.
func TestWorkQueueBounded(t *testing.T) {
	q := NewWorkQueue(1, 1, time.Minute, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var ends []string
	done := func(name string) func(error) {
		return func(err error) {
			mu.Lock()
			defer mu.Unlock()
			ends = append(ends, name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	ctx := context.Background()
	if err := q.Submit(ctx, "first", func(context.Context) error { close(started); <-release; return nil }, done("first")); err != nil {
		t.Fatal(err)
	}
	<-started // the worker holds the first job; the queue is empty
	if err := q.Submit(ctx, "second", func(context.Context) error { return nil }, done("second")); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, "third", func(context.Context) error { return nil }, done("third")); !errors.Is(err, ErrBusy) {
		t.Fatalf("third job: %v, want ErrBusy", err)
	}
	close(release)
	q.Wait()
	if len(ends) != 2 || ends[0] != "first" || ends[1] != "second" {
		t.Fatalf("ends %v", ends)
	}
}

// A job outlives the update that asked for it (whose context ends) but
// not its own deadline.
func TestWorkQueueOwnDeadline(t *testing.T) {
	q := NewWorkQueue(2, 4, 20*time.Millisecond, nil)
	update, cancel := context.WithCancel(context.Background())
	cancel() // the update is over before the job starts
	var got error
	err := q.Submit(update, "export", func(ctx context.Context) error {
		<-ctx.Done() // ends by the job's deadline, not the update's cancellation
		return ctx.Err()
	}, func(err error) { got = err })
	if err != nil {
		t.Fatal(err)
	}
	q.Wait()
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("job ended with %v, want its own deadline", got)
	}
}

// A panicking job is reported as failed and the worker goes on.
func TestWorkQueuePanic(t *testing.T) {
	q := NewWorkQueue(1, 4, time.Minute, nil)
	var errs []error
	var mu sync.Mutex
	rec := func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	_ = q.Submit(context.Background(), "bad", func(context.Context) error { panic("boom") }, rec)
	_ = q.Submit(context.Background(), "good", func(context.Context) error { return nil }, rec)
	q.Wait()
	if len(errs) != 2 || errs[0] == nil && errs[1] == nil {
		t.Fatalf("errors %v", errs)
	}
}
