package redisstore_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// proxied returns a store that reaches Redis through a Proxy, sharing the
// test's prefix with direct (which does not).
func proxied(t *testing.T) (viaProxy, direct *redisstore.Store, p *storagetest.Proxy) {
	t.Helper()
	c, rdb, prefix, p := proxiedClient(t)
	return redisstore.New(c, redisstore.Options{Prefix: prefix}), redisstore.New(rdb, redisstore.Options{Prefix: prefix}), p
}

// proxiedClient returns a client reaching the test's Redis through a
// Proxy (no retries inside go-redis, short timeouts: the test sees each
// fault), the direct client, the test's prefix and the Proxy.
func proxiedClient(t *testing.T) (c, rdb *redis.Client, prefix string, p *storagetest.Proxy) {
	t.Helper()
	rdb, prefix = storagetest.Redis(t)
	u, err := url.Parse(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	p = storagetest.NewProxy(t, u.Host)
	opts, err := redis.ParseURL(p.Via(storagetest.RedisURL()))
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 300*time.Millisecond, 300*time.Millisecond
	c = redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c, rdb, prefix, p
}

// faultRigs are the two clients the store runs on: the plain one and
// Batched (client.go), each reaching Redis through a Proxy.
var faultRigs = []struct {
	name string
	rig  func(*testing.T) (viaProxy, direct *redisstore.Store, p *storagetest.Proxy)
}{{"plain", proxied}, {"batched", proxiedBatched}}

func TestRedisCutBetweenLoadAndSave(t *testing.T) {
	for _, r := range faultRigs {
		t.Run(r.name, func(t *testing.T) { t.Parallel(); redisCutBetweenLoadAndSave(t, r.rig) })
	}
}

func redisCutBetweenLoadAndSave(t *testing.T, rig func(*testing.T) (viaProxy, direct *redisstore.Store, p *storagetest.Proxy)) {
	s, direct, p := rig(t)
	if _, err := apply(s, 8, 1); err != nil {
		t.Fatal(err)
	}
	// Update 2: loaded, stepped, then the connection is cut before Save.
	blob, v, seen, _, err := s.Load(ctx, 8, 2)
	if err != nil || seen != redisstore.SeenNone {
		t.Fatal(seen, err)
	}
	p.Cut()
	if err := s.Save(ctx, 8, 2, v, v+1, append(blob, '!'), nil); err == nil {
		t.Fatal("Save succeeded through a cut connection")
	}
	if _, err := apply(s, 8, 2); err == nil {
		t.Fatal("update applied while cut")
	}
	p.Restore()
	// Telegram redelivers update 2: it is applied, once.
	applied, err := apply(s, 8, 2)
	if err != nil || !applied {
		t.Fatalf("retry after Restore: applied=%v err=%v", applied, err)
	}
	if n, v := counter(t, direct, 8); n != 2 || v != 2 {
		t.Fatalf("counter %d v%d, want 2 v2", n, v)
	}
}

func TestRedisReplyLostAfterSave(t *testing.T) {
	for _, r := range faultRigs {
		t.Run(r.name, func(t *testing.T) { t.Parallel(); redisReplyLostAfterSave(t, r.rig) })
	}
}

func redisReplyLostAfterSave(t *testing.T, rig func(*testing.T) (viaProxy, direct *redisstore.Store, p *storagetest.Proxy)) {
	s, direct, p := rig(t)
	if _, err := apply(s, 9, 1); err != nil {
		t.Fatal(err)
	}
	_, v, _, _, err := s.Load(ctx, 9, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The Save reaches Redis and runs, but its reply is lost.
	p.Blackhole()
	start := time.Now()
	if err := s.Save(ctx, 9, 2, v, v+1, []byte("2"), nil); err == nil {
		t.Fatal("Save succeeded without a reply")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Save failed after %s; the read timeout is 300 ms", d)
	}
	p.Restore()
	if n, v := counter(t, direct, 9); n != 2 || v != 2 {
		t.Fatalf("the lost-reply Save did not run: counter %d v%d", n, v)
	}
	// The caller retries the update: it is recognised as applied, and not
	// applied a second time.
	applied, err := apply(s, 9, 2)
	if err != nil || applied {
		t.Fatalf("retry: applied=%v err=%v; want already applied", applied, err)
	}
	if _, _, seen, _, _ := s.Load(ctx, 9, 2); seen != redisstore.SeenApplied {
		t.Fatalf("seen = %v, want applied (replies not confirmed sent)", seen)
	}
	if n, v := counter(t, direct, 9); n != 2 || v != 2 {
		t.Fatalf("counter %d v%d after retry, want 2 v2", n, v)
	}
}
