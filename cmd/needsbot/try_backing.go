package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/needsbot/needsbot/storage/pgstore"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// tryDatabase is the database `try` uses on a local Postgres server.
const tryDatabase = "needsbot_try"

// localRedisURL is where `try` looks for a local Redis.
const localRedisURL = "redis://127.0.0.1:6379/0"

// localPostgres lists where `try` looks for a local Postgres server, as
// user postgres: the Debian/Ubuntu socket first (peer or trust auth for
// the postgres user), then TCP on the default port.
func localPostgres() []struct{ dsn, where string } {
	return []struct{ dsn, where string }{
		{"postgres://postgres@/postgres?host=/var/run/postgresql&sslmode=disable&connect_timeout=3", "socket /var/run/postgresql"},
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3", "127.0.0.1:5432"},
	}
}

// backing is a backing service that `try` chose.
type backing struct {
	URL  string // what the app connects to
	What string // one line for the terminal: what was chosen (and why)
	stop func() // stops what try started, once; nil when nothing was started
}

// Close stops what try started for this service.
func (b backing) Close() {
	if b.stop != nil {
		b.stop()
	}
}

// probes are the outside world the choice depends on; tests replace them.
type probes struct {
	pingRedis func(ctx context.Context, url string) error
	// startRedis starts an embedded Redis and returns its URL.
	startRedis func() (url string, stop func(), err error)
	// ensureDatabase connects to a server's maintenance database and
	// creates the database name if missing; it returns name's DSN.
	ensureDatabase func(ctx context.Context, adminDSN, name string) (string, error)
	// startCluster creates and starts a throwaway Postgres cluster.
	startCluster func(ctx context.Context) (*cluster, error)
	// checkDemo refuses a database holding real data (nil: no check).
	checkDemo func(ctx context.Context, dsn string) error
}

func realProbes() probes {
	return probes{pingRedis: pingRedis, startRedis: startMiniredis, ensureDatabase: ensureDatabase, startCluster: startCluster,
		checkDemo: func(ctx context.Context, dsn string) error { return pgstore.CheckDemoDatabase(ctx, dsn, demoStaff()) }}
}

// chooseRedis picks Redis: --redis-url if given and reachable, else a
// local server on the default port if reachable, else an embedded one.
func chooseRedis(ctx context.Context, p probes, envURL string) (backing, error) {
	var why []string
	if envURL != "" {
		err := p.pingRedis(ctx, envURL)
		if err == nil {
			return backing{URL: envURL, What: redactURL(envURL) + " (--redis-url)"}, nil
		}
		why = append(why, fmt.Sprintf("--redis-url %s is not reachable: %v", redactURL(envURL), err))
	}
	if envURL != localRedisURL {
		err := p.pingRedis(ctx, localRedisURL)
		if err == nil {
			return backing{URL: localRedisURL, What: withWhy("local server at 127.0.0.1:6379", why)}, nil
		}
		why = append(why, "no Redis at 127.0.0.1:6379")
	}
	u, stop, err := p.startRedis()
	if err != nil {
		return backing{}, fmt.Errorf("embedded Redis: %w", err)
	}
	return backing{URL: u, stop: sync.OnceFunc(stop),
		What: withWhy("embedded (miniredis in this process, at "+strings.TrimPrefix(u, "redis://")+"; live interviews end when try stops)", why)}, nil
}

// choosePostgres picks Postgres: --database-url if given (it must
// work: responses would otherwise go somewhere unexpected), else a local
// server with a database needsbot_try, else a throwaway cluster made with
// the machine's initdb, else an error saying what to install.
func choosePostgres(ctx context.Context, p probes, envURL string) (backing, error) {
	if envURL != "" {
		if _, err := p.ensureDatabase(ctx, envURL, ""); err != nil {
			return backing{}, fmt.Errorf("--database-url %s: %w", redactURL(envURL), err)
		}
		return backing{URL: envURL, What: redactURL(envURL) + " (--database-url)"}, nil
	}
	var why []string
	for _, l := range localPostgres() {
		dsn, err := p.ensureDatabase(ctx, l.dsn, tryDatabase)
		if err == nil {
			return backing{URL: dsn, What: "local server (" + l.where + "), database " + tryDatabase}, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", l.where, shortErr(err)))
	}
	c, err := p.startCluster(ctx)
	if err == nil {
		return backing{URL: c.dsn, stop: sync.OnceFunc(c.stop), What: withWhy("throwaway cluster ("+c.describe()+"), deleted when try stops", []string{"no usable local server"})}, nil
	}
	why = append(why, "throwaway cluster: "+err.Error())
	return backing{}, fmt.Errorf("no PostgreSQL to use:\n  - %s\n"+
		"Install PostgreSQL (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql)\n"+
		"or give try a server with --database-url, e.g. postgres://postgres@127.0.0.1:5432/needsbot_try?sslmode=disable",
		strings.Join(why, "\n  - "))
}

func withWhy(what string, why []string) string {
	if len(why) == 0 {
		return what
	}
	return what + "; " + strings.Join(why, "; ")
}

// shortErr keeps the first line of a connection error.
func shortErr(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func pingRedis(ctx context.Context, u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	// A plain dial first: nobody listening is the usual case on a laptop,
	// and the Redis client would log its "connection refused" to stderr.
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, opt.Network, opt.Addr)
	if err != nil {
		return errors.New("nothing listening")
	}
	conn.Close()
	opt.MaxRetries = -1 // a missing server answers at once
	opt.DialTimeout = time.Second
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// startMiniredis starts an in-process Redis on a loopback port. Its clock
// follows the real one, so TTLs expire as on a real server.
func startMiniredis() (string, func(), error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.FastForward(time.Second)
			}
		}
	}()
	return "redis://" + m.Addr() + "/0", func() { close(done); m.Close() }, nil
}

// ensureDatabase checks the server behind adminDSN and, when name is not
// empty, creates database name if it does not exist (pgstore.EnsureDatabase);
// it returns the DSN of name (or adminDSN itself when name is empty).
func ensureDatabase(ctx context.Context, adminDSN, name string) (string, error) {
	if err := pgstore.EnsureDatabase(ctx, adminDSN, name); err != nil {
		return "", err
	}
	if name == "" {
		return adminDSN, nil
	}
	return dsnWithDatabase(adminDSN, name)
}

// dsnWithDatabase returns the URL dsn naming database name instead.
func dsnWithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("connect_timeout")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
