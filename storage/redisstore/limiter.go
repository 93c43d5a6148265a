package redisstore

import (
	"context"
	"sync"
	"time"
)

// Limiter shares one per-second budget between replicas, such as the Bot
// API's per-bot limit (GCRA in Redis through Take). It reserves a few
// events per round trip, so that a Bot API call costs a fifth of a Redis
// call, not one. When Redis fails it paces locally and conservatively
// instead of failing: the replies must not stop because Redis hiccups.
type Limiter struct {
	store     *Store
	key       string
	perSecond int

	mu     sync.Mutex
	tokens int       // reserved in Redis, not yet spent
	next   time.Time // Redis said no event is free before then
}

// reserveBatch is how many events one Redis round trip reserves.
const reserveBatch = 5

// burstBatches bounds the budget's burst to this many batches (not a whole
// second's worth): after an idle spell the replicas let out at most
// 2 × reserveBatch events at once, then the rate. Two batches are enough
// to absorb a poll that comes late. (A burst of the whole rate, 28 events
// at once, met Telegram's flood control in bunches on a loaded machine:
// issue 19.)
const burstBatches = 2

// Limiter returns a limiter of perSecond events a second under key, shared
// by every Limiter with the same key and prefix.
func (s *Store) Limiter(key string, perSecond int) *Limiter {
	return &Limiter{store: s, key: key, perSecond: max(perSecond, 1)}
}

// Wait blocks until an event is allowed or ctx ends.
//
// Waiters share one poll: when Redis says no whole batch is free, the
// others sleep until the time it named instead of asking again each, so a
// queue of chats waiting for the per-bot budget costs about one round trip
// per reserveBatch events, not one per waiter and retry. A batch is taken
// whole or not at all (Store.TakeAll): a partial one would spend the
// fraction of an event that had accrued and never grant it.
func (l *Limiter) Wait(ctx context.Context) error {
	limit := l.perSecond
	for {
		l.mu.Lock()
		if l.tokens > 0 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		if wait := time.Until(l.next); wait > 0 {
			l.mu.Unlock()
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		batch := min(reserveBatch, limit)
		// limit a second as burst events per burst/limit seconds.
		burst := min(limit, burstBatches*reserveBatch)
		ok, retry, err := l.store.TakeAll(ctx, l.key, burst, time.Second*time.Duration(burst)/time.Duration(limit), batch)
		if err != nil {
			l.mu.Unlock()
			// Redis trouble must not stop the replies: fall back to a
			// conservative local pace.
			return sleep(ctx, time.Second/time.Duration(limit))
		}
		if ok {
			l.tokens += batch - 1
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
