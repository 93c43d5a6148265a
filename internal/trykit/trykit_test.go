package trykit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/storage/storagetest"
)

// fakeWorld answers the probes: which Redis URLs answer, which Postgres
// admin DSNs work, whether a cluster can be made.
type fakeWorld struct {
	redisUp    map[string]bool
	pgUp       map[string]bool
	clusterErr error
	calls      []string
	stopped    []string
}

func (w *fakeWorld) probes() Probes {
	return Probes{
		PingRedis: func(_ context.Context, u string) error {
			w.calls = append(w.calls, "ping "+u)
			if w.redisUp[u] {
				return nil
			}
			return errors.New("connection refused")
		},
		StartRedis: func() (string, func(), error) {
			w.calls = append(w.calls, "miniredis")
			return "redis://127.0.0.1:40000/0", func() { w.stopped = append(w.stopped, "miniredis") }, nil
		},
		EnsureDatabase: func(_ context.Context, admin, name string) (string, error) {
			w.calls = append(w.calls, "pg "+admin+" "+name)
			if !w.pgUp[admin] {
				return "", errors.New("connection refused\nmore detail")
			}
			if name == "" {
				return admin, nil
			}
			return DSNWithDatabase(admin, name)
		},
		StartCluster: func(context.Context) (*Cluster, error) {
			w.calls = append(w.calls, "cluster")
			if w.clusterErr != nil {
				return nil, w.clusterErr
			}
			return &Cluster{dir: "/tmp/x", bindir: "/usr/lib/postgresql/15/bin", port: 45000, dsn: "postgres://postgres@127.0.0.1:45000/needsbot_try"}, nil
		},
	}
}

func TestTryChooseRedis(t *testing.T) {
	const mine = "redis://10.1.1.1:6379/3"
	tests := []struct {
		name     string
		env      string
		up       []string
		wantURL  string
		wantWhat []string
		embedded bool
	}{
		{"set and reachable", mine, []string{mine, LocalRedisURL}, mine, []string{"(--redis-url)"}, false},
		{"set but unreachable: the local server", mine, []string{LocalRedisURL}, LocalRedisURL,
			[]string{"local server at 127.0.0.1:6379", "--redis-url redis://10.1.1.1:6379/3 is not reachable"}, false},
		{"set, nothing reachable: embedded", mine, nil, "redis://127.0.0.1:40000/0",
			[]string{"embedded (miniredis", "is not reachable", "no Redis at 127.0.0.1:6379"}, true},
		{"unset, local server", "", []string{LocalRedisURL}, LocalRedisURL, []string{"local server at 127.0.0.1:6379"}, false},
		{"unset, no server: embedded", "", nil, "redis://127.0.0.1:40000/0", []string{"embedded (miniredis in this process", "no Redis at 127.0.0.1:6379"}, true},
		{"set to the local default, down: embedded", LocalRedisURL, nil, "redis://127.0.0.1:40000/0", []string{"embedded"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &fakeWorld{redisUp: map[string]bool{}}
			for _, u := range tt.up {
				w.redisUp[u] = true
			}
			b, err := ChooseRedis(context.Background(), w.probes(), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if b.URL != tt.wantURL {
				t.Errorf("URL %q, want %q (calls %v)", b.URL, tt.wantURL, w.calls)
			}
			for _, s := range tt.wantWhat {
				if !strings.Contains(b.What, s) {
					t.Errorf("What %q lacks %q", b.What, s)
				}
			}
			b.Close()
			if got := len(w.stopped) == 1; got != tt.embedded {
				t.Errorf("embedded Redis stopped at close: %v, want %v", got, tt.embedded)
			}
		})
	}
}

func TestTryChoosePostgres(t *testing.T) {
	socket, tcp := LocalPostgres()[0].dsn, LocalPostgres()[1].dsn
	const mine = "postgres://me@db.example:5432/needs?sslmode=disable"
	tests := []struct {
		name       string
		env        string
		up         []string
		clusterErr error
		wantURL    string
		wantWhat   string
		wantErr    []string
	}{
		{name: "set and reachable", env: mine, up: []string{mine, socket}, wantURL: mine, wantWhat: "(--database-url)"},
		{name: "set but unreachable is an error, not a surprise elsewhere", env: mine, up: []string{socket},
			wantErr: []string{"--database-url postgres://me@db.example:5432/needs", "connection refused"}},
		{name: "the local socket", up: []string{socket, tcp},
			wantURL: "postgres://postgres@/needsbot_try?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable", wantWhat: "local server (socket /var/run/postgresql), database needsbot_try"},
		{name: "local TCP when the socket refuses", up: []string{tcp},
			wantURL: "postgres://postgres@127.0.0.1:5432/needsbot_try?sslmode=disable", wantWhat: "local server (127.0.0.1:5432)"},
		{name: "no local server: a throwaway cluster", wantURL: "postgres://postgres@127.0.0.1:45000/needsbot_try",
			wantWhat: "throwaway cluster (PostgreSQL 15 at 127.0.0.1:45000, data in /tmp/x), deleted when try stops"},
		{name: "nothing at all: what to install", clusterErr: ErrNoInitdb,
			wantErr: []string{"no PostgreSQL to use", "socket /var/run/postgresql: connection refused", "127.0.0.1:5432: connection refused",
				"initdb not found", "apt-get install postgresql", "--database-url"}},
		{name: "initdb fails", clusterErr: errors.New("initdb: exit status 1"), wantErr: []string{"throwaway cluster: initdb: exit status 1", "apt-get install postgresql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &fakeWorld{pgUp: map[string]bool{}, clusterErr: tt.clusterErr}
			for _, u := range tt.up {
				w.pgUp[u] = true
			}
			b, err := ChoosePostgres(context.Background(), w.probes(), tt.env)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("chose %+v, want an error", b)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
				if tt.env == "" && strings.Contains(err.Error(), "more detail") {
					t.Errorf("error not kept to one line per attempt:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.URL != tt.wantURL || !strings.Contains(b.What, tt.wantWhat) {
				t.Errorf("chose %q (%s), want %q (%s); calls %v", b.URL, b.What, tt.wantURL, tt.wantWhat, w.calls)
			}
		})
	}
}

func TestTryEnsureDatabase(t *testing.T) {
	storagetest.Postgres(t) // skips (or fails under CI) without a server
	admin := storagetest.PostgresURL()
	name := "needsbot_try_test_" + storagetest.Random()
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	for i := range 2 { // creating, then finding it
		dsn, err := EnsureDatabase(context.Background(), admin, name)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatalf("round %d: %s: %v", i, dsn, err)
		}
		var got string
		_ = c.QueryRow(context.Background(), "SELECT current_database()").Scan(&got)
		c.Close(context.Background())
		if got != name {
			t.Fatalf("connected to %q, want %q", got, name)
		}
	}
}

// TestTryThrowawayCluster makes a real cluster with the machine's initdb,
// as `try` does when no Postgres server is around, and removes it.
func TestTryThrowawayCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("initdb takes a few seconds")
	}
	if _, err := FindInitdb(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("under CI=true the PostgreSQL server binaries must be installed: %v", err)
		}
		t.Skip(err)
	}
	start := time.Now()
	c, err := StartCluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("throwaway cluster up in %v: %s", time.Since(start).Round(time.Millisecond), c.describe())
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			c.stop()
		}
	})
	if !strings.HasSuffix(strings.SplitN(c.dsn, "?", 2)[0], "/"+Database) {
		t.Fatalf("dsn %q", c.dsn)
	}
	conn, err := pgx.Connect(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	_ = conn.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync)
	conn.Close(context.Background())
	if fsync != "off" {
		t.Errorf("fsync = %q: the throwaway cluster should not pay for durability", fsync)
	}
	start = time.Now()
	c.stop()
	stopped = true
	t.Logf("stopped and removed in %v", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", c.dir, err)
	}
	if _, err := pgx.Connect(context.Background(), c.dsn); err == nil {
		t.Fatal("the cluster still answers after stop")
	}
}

func TestDSNWithDatabase(t *testing.T) {
	got, err := DSNWithDatabase("postgres://postgres@/postgres?host=/var/run/postgresql&sslmode=disable&connect_timeout=3", "needsbot_try")
	if err != nil || got != "postgres://postgres@/needsbot_try?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable" {
		t.Fatalf("%q %v", got, err)
	}
}

// TestRemoveStaleClusters: the throwaway cluster of a try that is gone
// (killed) is deleted by the next try; one whose try still runs, or a
// fresh directory without an owner, is left alone.
func TestRemoveStaleClusters(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name, owner string) string {
		dir := filepath.Join(tmp, ClusterPrefix+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, OwnerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// A process that certainly ended: a child that exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no `true` to make a finished process: %v", err)
		}
		t.Skip("no `true` to make a finished process")
	}
	dead := mk("dead", strconv.Itoa(cmd.Process.Pid))
	alive := mk("alive", strconv.Itoa(os.Getpid()))
	fresh := mk("fresh", "")
	removed := RemoveStaleClusters(context.Background(), t.TempDir(), tmp)
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("removed %v, want only %s", removed, dead)
	}
	for _, d := range []string{alive, fresh} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
}
