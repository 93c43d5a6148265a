package trykit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/pgstore"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Database is the database `try` uses on a local Postgres server.
const Database = "needsbot_try"

// LocalRedisURL is where `try` looks for a local Redis.
const LocalRedisURL = "redis://127.0.0.1:6379/0"

// LocalPostgres lists where `try` looks for a local Postgres server, as
// user postgres: the Debian/Ubuntu socket first (peer or trust auth for
// the postgres user), then TCP on the default port.
func LocalPostgres() []struct{ dsn, where string } {
	return []struct{ dsn, where string }{
		{"postgres://postgres@/postgres?host=/var/run/postgresql&sslmode=disable&connect_timeout=3", "socket /var/run/postgresql"},
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3", "127.0.0.1:5432"},
	}
}

// Backing is a backing service that `try` chose.
type Backing struct {
	URL  string // what the app connects to
	What string // one line for the terminal: what was chosen (and why)
	stop func() // stops what try started, once; nil when nothing was started
}

// Close stops what try started for this service.
func (b Backing) Close() {
	if b.stop != nil {
		b.stop()
	}
}

// Probes are the outside world the choice depends on; tests replace them.
type Probes struct {
	PingRedis func(ctx context.Context, url string) error
	// StartRedis starts an embedded Redis and returns its URL.
	StartRedis func() (url string, stop func(), err error)
	// EnsureDatabase connects to a server's maintenance database and
	// creates the database name if missing; it returns name's DSN.
	EnsureDatabase func(ctx context.Context, adminDSN, name string) (string, error)
	// StartCluster creates and starts a throwaway Postgres cluster.
	StartCluster func(ctx context.Context) (*Cluster, error)
	// CheckDemo refuses a database holding real data (nil: no check).
	CheckDemo func(ctx context.Context, dsn string) error
}

// RealProbes are the machine's: a Redis ping, miniredis, the local
// Postgres servers and initdb, and a check that a database holds only demo
// data.
func RealProbes() Probes {
	return Probes{PingRedis: PingRedis, StartRedis: StartMiniredis, EnsureDatabase: EnsureDatabase, StartCluster: StartCluster,
		CheckDemo: func(ctx context.Context, dsn string) error { return pgstore.CheckDemoDatabase(ctx, dsn, DemoStaff()) }}
}

// ChooseRedis picks Redis: --redis-url if given and reachable, else a
// local server on the default port if reachable, else an embedded one.
func ChooseRedis(ctx context.Context, p Probes, envURL string) (Backing, error) {
	var why []string
	if envURL != "" {
		err := p.PingRedis(ctx, envURL)
		if err == nil {
			return Backing{URL: envURL, What: storage.RedactURL(envURL) + " (--redis-url)"}, nil
		}
		why = append(why, fmt.Sprintf("--redis-url %s is not reachable: %v", storage.RedactURL(envURL), err))
	}
	if envURL != LocalRedisURL {
		err := p.PingRedis(ctx, LocalRedisURL)
		if err == nil {
			return Backing{URL: LocalRedisURL, What: withWhy("local server at 127.0.0.1:6379", why)}, nil
		}
		why = append(why, "no Redis at 127.0.0.1:6379")
	}
	u, stop, err := p.StartRedis()
	if err != nil {
		return Backing{}, fmt.Errorf("embedded Redis: %w", err)
	}
	return Backing{URL: u, stop: sync.OnceFunc(stop),
		What: withWhy("embedded (miniredis in this process, at "+strings.TrimPrefix(u, "redis://")+"; live interviews end when try stops)", why)}, nil
}

// ChoosePostgres picks Postgres: --database-url if given (it must
// work: responses would otherwise go somewhere unexpected), else a local
// server with a database needsbot_try, else a throwaway cluster made with
// the machine's initdb, else an error saying what to install.
func ChoosePostgres(ctx context.Context, p Probes, envURL string) (Backing, error) {
	if envURL != "" {
		if _, err := p.EnsureDatabase(ctx, envURL, ""); err != nil {
			return Backing{}, fmt.Errorf("--database-url %s: %w", storage.RedactURL(envURL), err)
		}
		return Backing{URL: envURL, What: storage.RedactURL(envURL) + " (--database-url)"}, nil
	}
	var why []string
	for _, l := range LocalPostgres() {
		dsn, err := p.EnsureDatabase(ctx, l.dsn, Database)
		if err == nil {
			return Backing{URL: dsn, What: "local server (" + l.where + "), database " + Database}, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", l.where, shortErr(err)))
	}
	c, err := p.StartCluster(ctx)
	if err == nil {
		return Backing{URL: c.dsn, stop: sync.OnceFunc(c.stop), What: withWhy("throwaway cluster ("+c.describe()+"), deleted when try stops", []string{"no usable local server"})}, nil
	}
	why = append(why, "throwaway cluster: "+err.Error())
	return Backing{}, fmt.Errorf("no PostgreSQL to use:\n  - %s\n"+
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

func PingRedis(ctx context.Context, u string) error {
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

// StartMiniredis starts an in-process Redis on a loopback port. Its clock
// follows the real one, so TTLs expire as on a real server.
func StartMiniredis() (string, func(), error) {
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

// EnsureDatabase checks the server behind adminDSN and, when name is not
// empty, creates database name if it does not exist (pgstore.EnsureDatabase);
// it returns the DSN of name (or adminDSN itself when name is empty).
func EnsureDatabase(ctx context.Context, adminDSN, name string) (string, error) {
	if err := pgstore.EnsureDatabase(ctx, adminDSN, name); err != nil {
		return "", err
	}
	if name == "" {
		return adminDSN, nil
	}
	return DSNWithDatabase(adminDSN, name)
}

// DSNWithDatabase returns the URL dsn naming database name instead.
func DSNWithDatabase(dsn, name string) (string, error) {
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
