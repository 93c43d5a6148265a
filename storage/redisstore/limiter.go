package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// Limiter shares one per-second budget between replicas, such as the Bot
// API's per-bot limit (GCRA in Redis). It reserves several events per
// round trip, so that a Bot API call costs a fifth of a Redis call, not
// one, and it does not ask Redis before the next batch can be free. When
// Redis fails it paces locally and conservatively instead of failing: the
// replies must not stop because Redis hiccups.
//
// No lock is held across a round trip: callers that arrive while one is in
// flight wait for its answer (or their context's end) without queueing on
// a mutex, and the burst's batches are reserved in parallel.
type Limiter struct {
	store     *Store
	key       string
	perSecond int
	local     *rate.Limiter // the pace while Redis fails

	mu      sync.Mutex
	tokens  int           // reserved in Redis, not yet spent
	until   time.Time     // the reserved tokens lapse then (leaseFor)
	next    time.Time     // no batch is free in Redis before then (a refusal said)
	full    time.Time     // the budget is whole again then at the earliest (a grant said; round trips in flight count as granted)
	polls   int           // round trips in flight
	grants  int           // round trips that granted a batch, so far (a grant's word on full)
	claims  int           // callers waiting for the events of those in flight
	settled chan struct{} // closed when a round trip ends; nil when nobody waits for one
	down    time.Time     // Redis failed: pace locally until then (fallbackFor)
}

// reserveBatch is how many events one Redis round trip reserves. It is
// half the burst (burstBatches) on purpose: a batch as large as the burst
// is only free when the budget is whole, and a budget that is whole stops
// accruing, so every moment between its refill and the round trip that
// takes it (the timer's wake-up, the request's way to Redis) is budget
// lost. A batch of the whole burst of 10 gave 97.8 % of the 28/s to a
// saturated queue (`needsbot loadtest -telegram-limits`), half of it
// 99.2–100 %: the other half absorbs those delays (issue 19, session 5).
const reserveBatch = 5

// burstBatches bounds the budget's burst to this many batches (not a whole
// second's worth): after an idle spell the replicas let out at most
// 2 × reserveBatch events at once, then the rate. Two batches are enough
// to absorb a poll that comes late. (A burst of the whole rate, 28 events
// at once, met Telegram's flood control in bunches on a loaded machine:
// issue 19.)
const burstBatches = 2

// leaseFor is how long reserved events stay usable: a replica that falls
// idle with events left over does not spend them later on top of what the
// other replicas take then (they were charged to the budget when
// reserved). Under load a batch is spent within milliseconds.
const leaseFor = time.Second

// fallbackFor is how long a failed round trip makes the limiter pace
// locally (perSecond, one event at a time) before it asks Redis again:
// while Redis is down or slow to answer, one round trip a second fails,
// not one per event with every caller waiting for it.
const fallbackFor = time.Second

// Limiter returns a limiter of perSecond events a second under key, shared
// by every Limiter with the same key and prefix.
func (s *Store) Limiter(key string, perSecond int) *Limiter {
	perSecond = max(perSecond, 1)
	return &Limiter{store: s, key: key, perSecond: perSecond, local: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// Allow takes an event reserved earlier and not lapsed, if one is at
// hand, without a round trip (the first step of Wait); false otherwise —
// then Wait. The Sender takes a live call's event so, and arms its
// budgetPatience timer only for a call that has to wait (bot.Sender
// waitGlobal): 4 calls of 5 under load.
func (l *Limiter) Allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeReserved(time.Now())
}

// takeReserved takes an event reserved earlier if one is left and not
// lapsed at now (a lapsed reservation is dropped). l.mu is held.
func (l *Limiter) takeReserved(now time.Time) bool {
	if l.tokens > 0 && now.After(l.until) {
		l.tokens = 0
	}
	if l.tokens > 0 {
		l.tokens--
		return true
	}
	return false
}

// Wait blocks until an event is allowed or ctx ends.
//
// Waiters share polls: a round trip reserves reserveBatch events, and
// while one is in flight or no batch is free the others wait for its
// answer or until the time Redis named, instead of asking again each
// (a round trip in flight stands for batch-1 waiting callers besides its
// own).
// After a reservation the limiter also knows when the next batch can be
// free at the earliest (other replicas only make it later), and does not
// ask before: a queue of calls waiting for a spent budget costs one round
// trip per batch, not a refused poll and a granted one. A round trip in
// flight counts as granted in that reckoning, so that a second one starts
// at once only when the burst has room for both. A batch is taken whole
// or not at all (Store.TakeAll): a partial one would spend the fraction of
// an event that had accrued and never grant it.
func (l *Limiter) Wait(ctx context.Context) error {
	limit := l.perSecond
	// limit a second as burst events per burst/limit seconds.
	burst := min(limit, burstBatches*reserveBatch)
	per := time.Second * time.Duration(burst) / time.Duration(limit)
	batch := min(reserveBatch, limit)
	charge := time.Duration(batch) * per / time.Duration(burst) // a batch's share of the budget
	for {
		l.mu.Lock()
		now := time.Now()
		if l.takeReserved(now) {
			l.mu.Unlock()
			return nil
		}
		if now.Before(l.down) {
			l.mu.Unlock()
			return l.local.Wait(ctx)
		}
		if l.polls > 0 && l.claims < l.polls*(batch-1) {
			// A round trip in flight reserves an event for this caller
			// too (its own caller takes one of its batch): wait for it
			// rather than ask again.
			l.claims++
			settled := l.settledCh()
			l.mu.Unlock()
			err := sleepOr(ctx, leaseFor, settled)
			l.mu.Lock()
			l.claims--
			l.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		// GCRA grants batch events once the budget lacks at most
		// burst-batch of being whole.
		free := l.full.Add(-time.Duration(burst-batch) * per / time.Duration(burst))
		if wait := max(l.next.Sub(now), free.Sub(now)); wait > 0 {
			var settled chan struct{}
			if l.polls > 0 {
				// A round trip in flight may bring events: its answer
				// ends the wait too.
				settled = l.settledCh()
			}
			l.mu.Unlock()
			if err := sleepOr(ctx, wait, settled); err != nil {
				return err
			}
			continue
		}
		l.polls++
		l.full = later(l.full, now).Add(charge)
		grantsBefore := l.grants
		l.mu.Unlock()

		ok, retry, whole, err := l.take(ctx, burst, per, batch)

		l.mu.Lock()
		l.polls--
		if l.settled != nil {
			close(l.settled)
			l.settled = nil
		}
		now = time.Now()
		if !ok {
			l.full = l.full.Add(-charge) // not granted after all
		}
		switch {
		case err != nil && ctx.Err() != nil:
			// The caller gave up, Redis did not fail: the others ask
			// again themselves.
			l.mu.Unlock()
			return ctx.Err()
		case err != nil:
			// Redis trouble must not stop the replies: fall back to a
			// conservative local pace for a while.
			l.down = now.Add(fallbackFor)
			l.mu.Unlock()
			return l.local.Wait(ctx)
		case ok:
			l.tokens += batch - 1
			l.until = now.Add(leaseFor)
			// Redis's word, and the round trips still in flight on top
			// (keeping the later of the two would keep the slowest
			// answer's lag for as long as the budget stays spent) —
			// unless another grant was applied while this round trip
			// was in flight: Redis may have made that one after this
			// one (answers overtake each other on a busy machine), and
			// its word, already counted, is the later state of the
			// budget. Taking this older word then made the limiter
			// poll a budget it had been told was spent: a refusal, up
			// to 7 per 24 grants at load 35 (docs/performance.md,
			// "Session 13: flaky").
			full := now.Add(whole + time.Duration(l.polls)*charge)
			if l.grants != grantsBefore {
				full = later(full, l.full)
			}
			l.full = full
			l.grants++
			l.mu.Unlock()
			return nil
		}
		// No whole batch is free: wait until one is (it costs the queue's
		// head at most batch-1 events' time, and saves a poll per event).
		wait := max(retry, time.Millisecond)
		l.next = now.Add(wait)
		l.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// settledCh returns the channel closed when a round trip in flight ends.
// l.mu is held.
func (l *Limiter) settledCh() chan struct{} {
	if l.settled == nil {
		l.settled = make(chan struct{})
	}
	return l.settled
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// take reserves n events as Store.TakeAll does (burst events per period
// per), and when it grants them also says how long until the budget is
// whole again (GCRA's theoretical arrival time, as seen by this replica:
// other replicas only make it later).
func (l *Limiter) take(ctx context.Context, burst int, per time.Duration, n int) (ok bool, retry, whole time.Duration, err error) {
	s := l.store
	res, err := s.limiter.AllowN(ctx, s.prefix+"rl:"+l.key, redis_rate.Limit{Rate: burst, Burst: burst, Period: per}, n)
	if err != nil {
		return false, 0, 0, fmt.Errorf("redisstore: take: %w", err)
	}
	if res.Allowed != n {
		return false, max(res.RetryAfter, 0), 0, nil
	}
	return true, 0, max(res.ResetAfter, 0), nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error { return sleepOr(ctx, d, nil) }

// sleepOr waits d, or until ch is closed (a nil ch never is), or until ctx
// ends. Its timer is taken from sleepTimers: a wait of the limiter, while
// another caller's round trip is in flight or the budget refills, would
// otherwise make a timer and its channel each time (under load most waits
// end on ch, long before d).
func sleepOr(ctx context.Context, d time.Duration, ch <-chan struct{}) error {
	t := sleepTimers.Get().(*time.Timer)
	t.Reset(d)
	defer func() {
		t.Stop()
		sleepTimers.Put(t)
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	case <-ch:
		return nil
	}
}

// sleepTimers keeps sleepOr's timers, stopped. A stopped timer's channel
// holds no stale tick (Go 1.23's timers), so that a timer put back after
// its wait ended on ch or ctx never wakes the next wait early.
var sleepTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}
