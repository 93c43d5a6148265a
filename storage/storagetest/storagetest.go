// Package storagetest gives tests real, isolated backing services: each test
// gets its own Redis key prefix (Redis) or its own Postgres database
// (Postgres), removed at cleanup, so tests run in parallel against the same
// servers. Proxy sits between a client and a server to cut connections on
// demand for fault tests.
//
// The servers come from NEEDSBOT_TEST_REDIS_URL (default
// redis://127.0.0.1:6379/0) and NEEDSBOT_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). When one is
// unreachable the test is skipped, except under CI=true where it fails: a
// CI run must not pass by testing nothing.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Defaults for the test servers' addresses.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// RedisURL returns the Redis server tests use.
func RedisURL() string { return envOr("NEEDSBOT_TEST_REDIS_URL", DefaultRedisURL) }

// PostgresURL returns the Postgres server (and maintenance database) tests
// use; Postgres creates per-test databases next to it.
func PostgresURL() string { return envOr("NEEDSBOT_TEST_DATABASE_URL", DefaultPostgresURL) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// underCI reports whether CI=true: a missing server fails the test
// instead of skipping it.
func underCI() bool { return os.Getenv("CI") == "true" }

// probeTimeout bounds how long a test waits for a server to answer its
// first request before it is taken as unavailable. A server that is not
// there refuses the connection at once whatever the bound; the bound only
// decides when a server that is there but slow counts as missing. Without
// CI that skips the test, so the wait is short (2 s for Redis, 5 s for
// Postgres: a local run without the servers is not held up). Under CI it
// would fail the test: a loaded CI machine (two cores running the race
// detector beside every package's tests, load 20–38 seen) took more than
// 2 s to answer a PING, and tests failed "unavailable" with their server
// up, so the wait is a minute.
func probeTimeout(local time.Duration) time.Duration {
	if underCI() {
		return ciProbeTimeout
	}
	return local
}

const ciProbeTimeout = time.Minute

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if underCI() {
		t.Fatalf("storagetest: %s unavailable under CI=true: %v", what, err)
	}
	t.Skipf("storagetest: %s unavailable, skipping: %v", what, err)
}

// Redis returns a client of the test Redis server and a key prefix unique to
// this test. Every key under the prefix is deleted at cleanup, as are
// redis_rate's keys for it ("rate:" + prefix + …), and the client is closed.
func Redis(t testing.TB) (client *redis.Client, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("storagetest: NEEDSBOT_TEST_REDIS_URL: %v", err)
	}
	// Probe without go-redis's dial retries, so that a missing server
	// skips at once.
	probe := *opts
	probe.MaxRetries = -1
	wait := probeTimeout(2 * time.Second)
	// go-redis's own timeouts (dial 5 s, read 3 s) would end a slow
	// answer before the context does.
	probe.DialTimeout, probe.ReadTimeout, probe.WriteTimeout = wait, wait, wait
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pc := redis.NewClient(&probe)
	err = pc.Ping(ctx).Err()
	pc.Close()
	if err != nil {
		unavailable(t, "redis at "+opts.Addr, err)
	}
	client = redis.NewClient(opts)
	prefix = "needsbot_test:" + Random() + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("storagetest: scanning %s: %v", pattern, err)
				return
			}
			for len(keys) > 0 {
				n := min(len(keys), 500)
				if err := client.Unlink(ctx, keys[:n]...).Err(); err != nil {
					t.Errorf("storagetest: deleting test keys: %v", err)
					return
				}
				keys = keys[n:]
			}
		}
	})
	return client, prefix
}

// Postgres creates a fresh, empty database (needsbot_test_<random>) for this
// test and returns its connection string. The database is dropped at cleanup
// WITH (FORCE), so connections a test left open do not keep it alive.
func Postgres(t testing.TB) (dsn string) {
	t.Helper()
	admin := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout(5*time.Second))
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "postgres", err)
	}
	defer conn.Close(context.Background())

	name := "needsbot_test_" + Random()
	// template0, not the default template1: CREATE DATABASE fails while
	// anyone is connected to its template, and nobody connects to template0.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("storagetest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("storagetest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storagetest: drop database %s: %v", name, err)
		}
	})
	dsn, err = withDatabase(admin, name)
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	return dsn
}

// withDatabase returns dsn (URL or key=value form) naming database name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("NEEDSBOT_TEST_DATABASE_URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// key=value form: a later key overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// Random returns 16 random hex digits, for names that must not collide
// between tests running in parallel (or between runs).
func Random() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
