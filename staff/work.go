package staff

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// WorkQueue runs long staff work — exports, charts, large /results — off
// the respondents' path: a bounded queue served by a few workers of its
// own, each job under its own deadline, detached from the update that
// asked for it (whose 30-second deadline and mailbox it no longer holds).
// Workers start when there is work and stop when there is none, so the
// queue needs no lifecycle beyond Wait (tests, shutdown).
type WorkQueue struct {
	jobs    chan job
	workers chan struct{} // one token per running worker
	timeout time.Duration
	log     *slog.Logger
	wg      sync.WaitGroup
}

type job struct {
	name string
	run  func(ctx context.Context) error
	done func(err error) // the job's end: progress message replaced
}

// ErrBusy is returned by Submit when the queue is full: the member is
// asked to try again in a minute.
var ErrBusy = errors.New("staff: work queue full")

// NewWorkQueue returns a queue of at most workers jobs at a time and
// waiting more waiting, each cut at timeout (defaults 2, 16, 5 minutes).
func NewWorkQueue(workers, waiting int, timeout time.Duration, log *slog.Logger) *WorkQueue {
	if workers <= 0 {
		workers = 2
	}
	if waiting <= 0 {
		waiting = 16
	}
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WorkQueue{jobs: make(chan job, waiting), workers: make(chan struct{}, workers), timeout: timeout, log: log}
}

// Submit queues run. ctx only carries values (the update's deadline and
// cancellation do not reach the job). done is called once with run's
// error (context.DeadlineExceeded when it ran out of time).
func (q *WorkQueue) Submit(ctx context.Context, name string, run func(ctx context.Context) error, done func(error)) error {
	j := job{name: name, done: done}
	base := context.WithoutCancel(ctx)
	j.run = func(context.Context) error {
		jctx, cancel := context.WithTimeout(base, q.timeout)
		defer cancel()
		return run(jctx)
	}
	q.wg.Add(1) // accounted before a worker may take it
	select {
	case q.jobs <- j:
	default:
		q.wg.Done()
		return ErrBusy
	}
	select {
	case q.workers <- struct{}{}:
		go q.work()
	default: // every worker is busy; one of them takes it
	}
	return nil
}

// work runs jobs until the queue is empty. A job queued while its
// worker was leaving is not stranded: the worker looks again after giving
// its place back, and stays if no other worker holds a place.
func (q *WorkQueue) work() {
	for {
		for drained := false; !drained; {
			select {
			case j := <-q.jobs:
				q.runOne(j)
			default:
				drained = true
			}
		}
		<-q.workers
		if len(q.jobs) == 0 {
			return
		}
		select {
		case q.workers <- struct{}{}:
		default:
			return // a running worker will take it
		}
	}
}

func (q *WorkQueue) runOne(j job) {
	defer q.wg.Done()
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = errors.New("staff: work panicked")
				q.log.Error("staff work panicked", "job", j.name, "panic", p)
			}
		}()
		return j.run(context.Background())
	}()
	q.log.Info("staff work done", "job", j.name, "ms", time.Since(start).Milliseconds(), "err", err)
	if j.done != nil {
		j.done(err)
	}
}

// Wait waits until every submitted job has finished.
func (q *WorkQueue) Wait() { q.wg.Wait() }
