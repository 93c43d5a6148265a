package pgstore

import (
	"context"
	"sync"
	"time"
)

// LanguageCache keeps each municipality's PopularLanguages for a while, for
// the language menu: one query per municipality every TTL, not one per
// /start. It is safe for concurrent use.
type LanguageCache struct {
	db       *DB
	limit    int // languages per municipality
	minCount int // a language is shown only with at least this many respondents
	ttl      time.Duration
	now      func() time.Time

	mu sync.Mutex
	m  map[int64]cachedLanguages
}

type cachedLanguages struct {
	langs []string
	at    time.Time
}

// maxCachedMunicipalities bounds the cache; past it, it starts over.
const maxCachedMunicipalities = 10000

// LanguageCache returns a cache of the limit most used languages of each
// municipality with at least minCount respondents, each kept for ttl by
// the clock now (time.Now when nil).
func (d *DB) LanguageCache(limit, minCount int, ttl time.Duration, now func() time.Time) *LanguageCache {
	if now == nil {
		now = time.Now
	}
	return &LanguageCache{db: d, limit: limit, minCount: minCount, ttl: ttl, now: now, m: map[int64]cachedLanguages{}}
}

// Get returns the municipality's popular languages. When the query fails
// it returns what it had, even stale (a menu without suggestions is
// better than none; the failure shows in /readyz).
func (c *LanguageCache) Get(ctx context.Context, municipalityID int64) []string {
	c.mu.Lock()
	e, ok := c.m[municipalityID]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.langs
	}
	langs, err := c.db.PopularLanguages(ctx, municipalityID, c.limit, c.minCount)
	if err != nil {
		return e.langs
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedMunicipalities {
		clear(c.m)
	}
	c.m[municipalityID] = cachedLanguages{langs: langs, at: c.now()}
	c.mu.Unlock()
	return langs
}
