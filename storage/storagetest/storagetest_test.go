package storagetest_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestRedisPrefixCleanup(t *testing.T) {
	t.Parallel()
	var prefix string
	var rdb *redis.Client
	t.Run("inner", func(t *testing.T) {
		rdb, prefix = storagetest.Redis(t)
		if err := rdb.Set(context.Background(), prefix+"k", "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	})
	check, _ := storagetest.Redis(t)
	n, err := check.Exists(context.Background(), prefix+"k").Result()
	if err != nil || n != 0 {
		t.Fatalf("key left after cleanup: n=%d err=%v", n, err)
	}
}

func TestPostgresDatabase(t *testing.T) {
	t.Parallel()
	var dsn string
	t.Run("inner", func(t *testing.T) {
		dsn = storagetest.Postgres(t)
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		// An open connection must not stop the drop at cleanup.
		var name string
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(dsn)
		if "/"+name != u.Path {
			t.Fatalf("connected to %s, want %s", name, u.Path)
		}
	})
	admin, err := pgx.Connect(context.Background(), storagetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	u, _ := url.Parse(dsn)
	var exists bool
	if err := admin.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", u.Path[1:]).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s not dropped", u.Path)
	}
}

func TestProxyCutRestore(t *testing.T) {
	t.Parallel()
	_, _ = storagetest.Redis(t) // skips when Redis is down
	p := storagetest.NewProxy(t, mustHost(t, storagetest.RedisURL()))
	opts, err := redis.ParseURL(p.Via(storagetest.RedisURL()))
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout = time.Second, 300*time.Millisecond
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()

	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("Ping succeeded through a cut proxy")
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("new connection accepted through a cut proxy")
	}
	p.Restore()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	p.Blackhole()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("reply arrived through a blackhole")
	}
	p.Restore()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
