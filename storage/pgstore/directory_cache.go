package pgstore

import (
	"context"
	"sync"
	"time"

	"github.com/needsbot/needsbot/directory"
)

// DirectoryCache keeps each municipality's visible directory (Directory
// without hidden entries) for a while: the referrals shown after every
// completed interview and /services read it, one query per municipality
// every TTL instead of one per completion (issue 19: that query was a
// Postgres round trip and transaction per completed interview, ~1,050 in
// a 1,000-interview bench run, for a directory that changes a few times a
// month). An edit through the same DB (ImportDirectory, SetDirectoryHidden,
// AddDirectoryEntry, UpdateDirectoryEntry) drops the cache at once; one
// made elsewhere (another replica, `needsbot directory import`) shows
// within the TTL. It is safe for concurrent use; callers must not modify
// the entries it returns.
type DirectoryCache struct {
	db  *DB
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[int64]cachedDirectory
}

type cachedDirectory struct {
	entries []directory.Entry
	at      time.Time
	gen     uint64 // DB.directoryGen when it was read
}

// DirectoryCache returns a cache of each municipality's visible directory,
// each kept for ttl by the clock now (time.Now when nil).
func (d *DB) DirectoryCache(ttl time.Duration, now func() time.Time) *DirectoryCache {
	if now == nil {
		now = time.Now
	}
	return &DirectoryCache{db: d, ttl: ttl, now: now, m: map[int64]cachedDirectory{}}
}

// Get returns the municipality's visible directory in its order.
func (c *DirectoryCache) Get(ctx context.Context, municipalityID int64) ([]directory.Entry, error) {
	gen := c.db.directoryGen.Load() // before the read: an edit during it makes the result stale
	c.mu.Lock()
	e, ok := c.m[municipalityID]
	c.mu.Unlock()
	if ok && e.gen == gen && c.now().Sub(e.at) < c.ttl {
		return e.entries, nil
	}
	entries, err := c.db.Directory(ctx, municipalityID, false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedMunicipalities {
		clear(c.m)
	}
	c.m[municipalityID] = cachedDirectory{entries: entries, at: c.now(), gen: gen}
	c.mu.Unlock()
	return entries, nil
}

// directoryChanged marks every DirectoryCache of d stale.
func (d *DB) directoryChanged() { d.directoryGen.Add(1) }
