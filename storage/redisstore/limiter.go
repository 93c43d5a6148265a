package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Limiter shares one per-second budget between replicas, such as the Bot
// API's per-bot limit (GCRA in Redis). It reserves several events per
// round trip, so that a Bot API call costs a fifth of a Redis call, not
// one, and it does not ask Redis before the next batch can be free. When
// Redis fails it paces locally and conservatively instead of failing: the
// replies must not stop because Redis hiccups.
type Limiter struct {
	store     *Store
	key       string
	perSecond int

	mu     sync.Mutex
	tokens int       // reserved in Redis, not yet spent
	until  time.Time // the reserved tokens lapse then (leaseFor)
	next   time.Time // no batch is free in Redis before then (a refusal said)
	full   time.Time // the budget is whole again then at the earliest (a grant said)
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

// Limiter returns a limiter of perSecond events a second under key, shared
// by every Limiter with the same key and prefix.
func (s *Store) Limiter(key string, perSecond int) *Limiter {
	return &Limiter{store: s, key: key, perSecond: max(perSecond, 1)}
}

// Wait blocks until an event is allowed or ctx ends.
//
// Waiters share one poll: a round trip reserves reserveBatch events, and
// when no batch is free the others sleep until the time Redis named
// instead of asking again each. After a reservation the limiter also
// knows when the next batch can be free at the earliest (other replicas
// only make it later), and does not ask before: a queue of calls waiting
// for a spent budget costs one round trip per batch, not a refused poll
// and a granted one. A batch is taken whole or not at all (Store.TakeAll):
// a partial one would spend the fraction of an event that had accrued and
// never grant it.
func (l *Limiter) Wait(ctx context.Context) error {
	limit := l.perSecond
	// limit a second as burst events per burst/limit seconds.
	burst := min(limit, burstBatches*reserveBatch)
	per := time.Second * time.Duration(burst) / time.Duration(limit)
	for {
		l.mu.Lock()
		now := time.Now()
		if l.tokens > 0 && now.After(l.until) {
			l.tokens = 0
		}
		if l.tokens > 0 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		batch := min(reserveBatch, limit)
		// GCRA grants batch events once the budget lacks at most
		// burst-batch of being whole.
		free := l.full.Add(-time.Duration(burst-batch) * per / time.Duration(burst))
		if wait := max(l.next.Sub(now), free.Sub(now)); wait > 0 {
			l.mu.Unlock()
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		ok, retry, whole, err := l.take(ctx, burst, per, batch)
		if err != nil {
			l.mu.Unlock()
			// Redis trouble must not stop the replies: fall back to a
			// conservative local pace.
			return sleep(ctx, time.Second/time.Duration(limit))
		}
		if ok {
			now = time.Now()
			l.tokens, l.until, l.full = batch-1, now.Add(leaseFor), now.Add(whole)
			l.mu.Unlock()
			return nil
		}
		// No whole batch is free: wait until one is (it costs the queue's
		// head at most batch-1 events' time, and saves a poll per event).
		wait := max(retry, time.Millisecond)
		l.next = time.Now().Add(wait)
		l.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
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
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
