package storagetest_test

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/storagetest"
)

// slowOnce is a TCP proxy to target whose first connection is answered
// only after delay (the server busy on a loaded machine); later ones at
// once.
func slowOnce(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var first atomic.Bool
	first.Store(true)
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if first.Swap(false) {
					time.Sleep(delay) // sync: the slow server being emulated
				}
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.Close() }()
				io.Copy(c, s)
			}()
		}
	}()
	return ln.Addr().String()
}

// verdictTB records a storagetest helper's Fatalf or Skipf instead of
// ending the test; the helper runs in a goroutine of its own (stopped
// there by runtime.Goexit, as testing does).
type verdictTB struct {
	testing.TB
	verdict string
}

func (v *verdictTB) Fatalf(format string, args ...any) {
	v.verdict = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (v *verdictTB) Skipf(format string, args ...any) {
	v.verdict = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func verdictOf(t *testing.T, f func(tb testing.TB)) string {
	v := &verdictTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(v) }()
	<-done
	return v.verdict
}

// via returns rawURL with its host:port replaced by addr.
func via(t *testing.T, rawURL, addr string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// TestSlowServerUnderCI: under CI=true a server that is there but slow to
// answer (a loaded CI machine) is waited for, not reported unavailable —
// which fails the test. The probe's connection is answered after 7 s
// (Redis: the old 2-s probe failed it, "i/o timeout") or 5.5 s (Postgres:
// beyond the local 5-s bound), both well inside the minute CI waits.
func TestSlowServerUnderCI(t *testing.T) {
	storagetest.Redis(t)    // skips without the servers (fails under CI)
	storagetest.Postgres(t) // (before the environment changes)
	redisURL, pgURL := storagetest.RedisURL(), storagetest.PostgresURL()
	t.Setenv("CI", "true")
	t.Run("redis", func(t *testing.T) {
		u, err := url.Parse(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NEEDSBOT_TEST_REDIS_URL", via(t, redisURL, slowOnce(t, u.Host, 7000*time.Millisecond)))
		if v := verdictOf(t, func(tb testing.TB) { storagetest.Redis(tb) }); v != "" {
			t.Fatalf("a Redis slow to answer: %s", v)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(pgURL)
		if err != nil {
			t.Skipf("NEEDSBOT_TEST_DATABASE_URL is not a URL: %v", err)
		}
		t.Setenv("NEEDSBOT_TEST_DATABASE_URL", via(t, pgURL, slowOnce(t, u.Host, 5500*time.Millisecond)))
		if v := verdictOf(t, func(tb testing.TB) { storagetest.Postgres(tb) }); v != "" {
			t.Fatalf("a Postgres slow to answer: %s", v)
		}
	})
}
