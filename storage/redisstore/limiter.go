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
	tokens int // reserved in Redis, not yet spent
}

// reserveBatch is how many events one Redis round trip reserves.
const reserveBatch = 5

// Limiter returns a limiter of perSecond events a second under key, shared
// by every Limiter with the same key and prefix.
func (s *Store) Limiter(key string, perSecond int) *Limiter {
	return &Limiter{store: s, key: key, perSecond: max(perSecond, 1)}
}

// Wait blocks until an event is allowed or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	limit := l.perSecond
	for {
		l.mu.Lock()
		if l.tokens > 0 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		got, retry, err := l.store.Take(ctx, l.key, limit, time.Second, min(reserveBatch, limit))
		if err == nil && got > 0 {
			l.tokens += got - 1
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if err != nil {
			// Redis trouble must not stop the replies: fall back to a
			// conservative local pace.
			return sleep(ctx, time.Second/time.Duration(limit))
		}
		if err := sleep(ctx, max(retry, time.Second/time.Duration(limit))); err != nil {
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
