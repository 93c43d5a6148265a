// Package schedule runs needsbot's delayed jobs — the one reminder per
// interview, the expiry of an idle interview, and the fan-out of a form
// version published while interviews run — from Redis sorted sets
// of due jobs (redisstore.ClaimJobs). Each job is leased (SET NX PX) to
// the replica that claims it, so it runs once across replicas, and
// survives restarts: a job whose handler did not finish within the lease
// is claimed again. Each job comes with its idempotency key's parts (chat
// and due time, or the version it was armed at), so that the application
// core applies it at most once even when a lease runs out mid-handler.
//
// The clock is injected; no job that sends anything runs in the quiet
// hours (by default 21:00 to 09:00 Europe/Rome): a job due then waits
// until they end. Silent jobs (SilentStore) run then too.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// Quiet is a daily window in which nothing is sent, from From:00 to To:00
// local time in Loc (From > To spans midnight). The zero value is never
// quiet.
type Quiet struct {
	From, To int
	Loc      *time.Location
}

// ParseQuiet parses "21-9" (hours, local to loc); "" or "off" means never
// quiet.
func ParseQuiet(s string, loc *time.Location) (Quiet, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return Quiet{Loc: loc}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	from, err1 := strconv.Atoi(strings.TrimSpace(a))
	to, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || from < 0 || from > 23 || to < 0 || to > 23 {
		return Quiet{}, fmt.Errorf("quiet hours %q: want FROM-TO in hours 0-23, e.g. 21-9", s)
	}
	return Quiet{From: from, To: to, Loc: loc}, nil
}

// In reports whether t falls in the quiet hours.
func (q Quiet) In(t time.Time) bool {
	if q.From == q.To {
		return false
	}
	if q.Loc != nil {
		t = t.In(q.Loc)
	}
	h := t.Hour()
	if q.From < q.To {
		return h >= q.From && h < q.To
	}
	return h >= q.From || h < q.To
}

// Next returns t, or the end of the quiet hours when t falls in them.
func (q Quiet) Next(t time.Time) time.Time {
	if !q.In(t) {
		return t
	}
	lt := t
	if q.Loc != nil {
		lt = t.In(q.Loc)
	}
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), q.To, 0, 0, 0, lt.Location())
	if !end.After(lt) {
		end = time.Date(lt.Year(), lt.Month(), lt.Day()+1, q.To, 0, 0, 0, lt.Location())
	}
	return end
}

// Store is the Redis side (redisstore.Store).
type Store interface {
	ClaimJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]redisstore.Job, error)
	DoneJob(ctx context.Context, j redisstore.Job) error
}

// SilentStore is a Store that also claims, apart, the due jobs that say
// nothing to anyone (a publication's fan-out, redisstore.JobPublished):
// those run in the quiet hours too.
type SilentStore interface {
	ClaimSilentJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]redisstore.Job, error)
}

// Handler handles one due job. It returns an error only when the job
// should be tried again (after its lease); a job that is no longer wanted
// (a reminder after the interview ended) is handled by doing nothing.
type Handler func(ctx context.Context, j redisstore.Job) error

// Scheduler claims due jobs and hands them to Handle.
type Scheduler struct {
	Store  Store
	Handle Handler
	Now    func() time.Time // default time.Now
	Quiet  Quiet
	Lease  time.Duration // default 2 min
	Tick   time.Duration // default 1 s
	Batch  int           // default 50
	Logger *slog.Logger
}

func (s *Scheduler) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// RunOnce claims the jobs due now and handles them; it returns how many
// were handled.
func (s *Scheduler) RunOnce(ctx context.Context) (int, error) {
	now := s.now()
	lease := cmpOr(s.Lease, 2*time.Minute)
	batch := s.Batch
	if batch <= 0 {
		batch = 50
	}
	claim := s.Store.ClaimJobs
	if s.Quiet.In(now) {
		// Nothing is sent in the quiet hours; silent jobs still run.
		ss, ok := s.Store.(SilentStore)
		if !ok {
			return 0, nil
		}
		claim = ss.ClaimSilentJobs
	}
	jobs, err := claim(ctx, now, batch, lease)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if err := s.Handle(ctx, j); err != nil {
			s.log().Warn("job not handled, will retry after its lease", "kind", j.Kind.String(), "err", err)
			continue
		}
		if err := s.Store.DoneJob(ctx, j); err != nil && !errors.Is(err, redisstore.ErrLeaseLost) {
			return n, err
		}
		n++
	}
	return n, nil
}

// Run calls RunOnce every Tick until ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(cmpOr(s.Tick, time.Second))
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Scheduler) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
