package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// writeCounter counts the writes of every connection a client dials: with
// the plain client one per command (or pipeline), with Batched one per
// batch of whatever was queued (split at the write buffer's size). While
// held, writes wait for release.
type writeCounter struct {
	n    atomic.Int64
	mu   sync.RWMutex // held: writes wait
	held atomic.Bool
}

func (w *writeCounter) dialer(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countingConn{c, w}, nil
}

// hold makes writes wait until release.
func (w *writeCounter) hold() { w.mu.Lock(); w.held.Store(true) }

func (w *writeCounter) release() { w.held.Store(false); w.mu.Unlock() }

type countingConn struct {
	net.Conn
	w *writeCounter
}

func (c countingConn) Write(b []byte) (int, error) {
	c.w.n.Add(1)
	if c.w.held.Load() {
		c.w.mu.RLock()
		defer c.w.mu.RUnlock()
	}
	return c.Conn.Write(b)
}

// batchedStore returns a store over redisstore.Batched of a client of the
// test Redis (through via's address when set), that client, a direct
// store sharing the prefix, and the write counter of the client's
// connections.
func batchedStore(t testing.TB, via string, tune func(*redis.Options)) (s *redisstore.Store, bc redis.UniversalClient, direct *redisstore.Store, w *writeCounter) {
	t.Helper()
	rdb, prefix := storagetest.Redis(t)
	opts, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	if via != "" {
		u, _ := url.Parse(via)
		opts.Addr = u.Host
	}
	w = &writeCounter{}
	opts.Dialer = w.dialer
	if tune != nil {
		tune(opts)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	bc, err = redisstore.Batched(c)
	if err != nil {
		t.Fatal(err)
	}
	return redisstore.New(bc, redisstore.Options{Prefix: prefix}), bc, redisstore.New(rdb, redisstore.Options{Prefix: prefix}), w
}

// TestBatchedQueuedCommandsShareAWrite is the mechanism: while a write
// is under way, the commands of other chats queue, and the next write
// carries them all. (A chat's Save is one command; its Load is a pipeline
// of two since session 5 — the state's HMGET and the seen record's read,
// scripts.go — and 200 Loads queued so go out in ~13 writes: pipelines of
// different callers share writes less. `needsbot loadtest` still counts
// 0.28 Redis reads per update.)
func TestBatchedQueuedCommandsShareAWrite(t *testing.T) {
	t.Parallel()
	s, bc, _, w := batchedStore(t, "", nil)
	if _, err := apply(s, 1000, 1); err != nil { // scripts cached, connection up
		t.Fatal(err)
	}
	const chats = 200
	var wg sync.WaitGroup
	errs := make(chan error, chats)
	load := func(chat int64) {
		if err := s.Save(ctx, chat, 2, 0, 1, []byte("x"), nil); err != nil {
			errs <- fmt.Errorf("chat %d: %v", chat, err)
		}
	}
	w.hold()
	before := w.n.Load()
	wg.Go(func() { load(1) })
	for w.n.Load() == before { // chat 1's write is under way, held
		time.Sleep(time.Millisecond)
	}
	for chat := int64(2); chat <= chats; chat++ {
		wg.Go(func() { load(chat) })
	}
	queue := bc.(interface{ Len() int })
	for deadline := time.Now().Add(3 * time.Second); queue.Len() < chats-1; {
		if time.Now().After(deadline) {
			w.release()
			t.Fatalf("%d commands queued, want %d", queue.Len(), chats-1)
		}
		time.Sleep(time.Millisecond)
	}
	w.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// One write for chat 1, one for the 199 others.
	n := w.n.Load() - before
	t.Logf("%d writes for %d commands", n, chats)
	if n > 3 {
		t.Fatalf("%d writes for %d commands, want 2", n, chats)
	}
}

// TestBatchedConcurrentTurns: 200 chats taking turns at the same time
// through Batched each get their own result — every update applied once,
// in order per chat. Chats 1 and 2 have two writers each, so that
// compare-and-swap conflicts happen among batched commands.
func TestBatchedConcurrentTurns(t *testing.T) {
	t.Parallel()
	s, _, direct, w := batchedStore(t, "", nil)
	if _, err := apply(s, 1, 1); err != nil { // scripts cached, connection up
		t.Fatal(err)
	}
	const chats, updates = 200, 5
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, chats)
	for c := range chats {
		wg.Go(func() {
			<-start
			chat := int64(c%(chats-2) + 1)
			for u := range updates {
				if _, err := apply(s, chat, int64(c*1000+u+2)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	before := w.n.Load()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for chat := int64(1); chat <= chats-2; chat++ {
		want := updates
		switch chat {
		case 1:
			want = 2*updates + 1
		case 2:
			want = 2 * updates
		}
		if n, v := counter(t, direct, chat); n != want || v != uint64(want) {
			t.Fatalf("chat %d: counter %d at version %d, want %d", chat, n, v, want)
		}
	}
	// How much shared a write depends on scheduling (with GOMAXPROCS=1
	// the writer runs as soon as a command is queued): logged, not judged.
	t.Logf("%d writes for at least %d commands", w.n.Load()-before, 2*chats*updates)
}

// TestBatchedDoneContext: a context already done is refused before the
// command is sent, as the plain client refuses it.
func TestBatchedDoneContext(t *testing.T) {
	t.Parallel()
	s, _, direct, _ := batchedStore(t, "", nil)
	if _, err := apply(s, 3, 1); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Save(done, 3, 2, 1, 2, []byte("2"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a done context: %v", err)
	}
	if _, _, _, _, err := s.Load(done, 3, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a done context: %v", err)
	}
	if ok, _, err := s.Inbound(done, 3, 2, 10, time.Second); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Inbound with a done context: %v %v", ok, err)
	}
	if err := s.SaveWaiting(done, 3, 2, 1, 2, []byte("2"), nil, "f"); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveWaiting (a pipeline) with a done context: %v", err)
	}
	if n, v := counter(t, direct, 3); n != 1 || v != 1 {
		t.Fatalf("counter %d v%d, want 1 v1: a done context's command ran", n, v)
	}
}

// TestBatchedErrorsPerCommand: a command that fails in Redis fails alone,
// in a pipeline too (here a NOSCRIPT, which Script.Run answers with EVAL).
func TestBatchedErrorsPerCommand(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	bc, err := redisstore.Batched(rdb)
	if err != nil {
		t.Fatal(err)
	}
	// A script the server cannot know yet.
	sc := redis.NewScript("return ARGV[1] -- " + prefix)
	var evalsha *redis.Cmd
	var incr *redis.IntCmd
	_, err = bc.Pipelined(ctx, func(p redis.Pipeliner) error {
		evalsha = sc.EvalSha(ctx, p, nil, "x")
		incr = p.Incr(ctx, prefix+"n")
		return nil
	})
	if !redis.HasErrorPrefix(err, "NOSCRIPT") || !redis.HasErrorPrefix(evalsha.Err(), "NOSCRIPT") || incr.Val() != 1 || incr.Err() != nil {
		t.Fatalf("pipeline: %v; evalsha %v; incr %d %v", err, evalsha.Err(), incr.Val(), incr.Err())
	}
	if got, err := sc.Run(ctx, bc, nil, "y").Text(); got != "y" || err != nil {
		t.Fatalf("Run after NOSCRIPT = %q, %v", got, err)
	}
	if err := bc.HSet(ctx, prefix+"n", "f", "v").Err(); err == nil { // WRONGTYPE
		t.Fatal("HSET of a string succeeded")
	}
	if n, err := bc.Incr(ctx, prefix+"n").Result(); n != 2 || err != nil {
		t.Fatalf("INCR after a failed command = %d, %v", n, err)
	}
}

// proxiedBatched is proxied (fault_test.go) with Batched over the proxied
// client.
func proxiedBatched(t *testing.T) (viaProxy, direct *redisstore.Store, p *storagetest.Proxy) {
	t.Helper()
	u, err := url.Parse(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	p = storagetest.NewProxy(t, u.Host)
	viaProxy, _, direct, _ = batchedStore(t, p.Via(storagetest.RedisURL()), func(o *redis.Options) {
		// No retries inside go-redis, short timeouts: the test sees each fault.
		o.MaxRetries = -1
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, 300*time.Millisecond, 300*time.Millisecond
	})
	return viaProxy, direct, p
}

// TestBatchedCloseDrains: when the client closes under load, every
// command either ran and got its reply or was refused before it was
// queued: none is lost after being accepted, none answered without
// having run.
func TestBatchedCloseDrains(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	opts, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	bc, err := redisstore.Batched(c)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 100
	var wg sync.WaitGroup
	var ok, next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				err := bc.Set(ctx, prefix+strconv.FormatInt(next.Add(1), 10), "v", 0).Err()
				if err != nil {
					return
				}
				ok.Add(1)
			}
		})
	}
	for ok.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	keys := 0
	for i := range next.Load() + 1 {
		if rdb.Exists(ctx, prefix+strconv.FormatInt(i, 10)).Val() == 1 {
			keys++
		}
	}
	if int64(keys) != ok.Load() {
		t.Fatalf("%d keys written, %d commands answered ok", keys, ok.Load())
	}
	t.Logf("%d commands answered before the close, %d refused", keys, next.Load()-int64(keys))
}

// serverCPUReads reads the Redis server's CPU time so far (INFO cpu) and its
// reads from client sockets (INFO stats).
func serverCPUReads(b *testing.B, rdb *redis.Client) (cpu time.Duration, reads int64) {
	info, err := rdb.Info(ctx, "cpu", "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sec float64
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			sec += f
		case "total_reads_processed":
			reads, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return time.Duration(sec * float64(time.Second)), reads
}

// BenchmarkConcurrentTurns is many chats taking turns (Load, Save) at the
// same time, through the plain client and through Batched. It reports the
// client's socket writes per turn, and the Redis server's reads and CPU
// per turn (server-reads/turn, server-us/turn: whole server, point
// NEEDSBOT_TEST_REDIS_URL at a Redis of its own for meaningful figures).
func BenchmarkConcurrentTurns(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := "plain"
		if batched {
			name = "batched"
		}
		b.Run(name, func(b *testing.B) {
			rdb, prefix := storagetest.Redis(b)
			opts, err := redis.ParseURL(storagetest.RedisURL())
			if err != nil {
				b.Fatal(err)
			}
			w := &writeCounter{}
			opts.Dialer = w.dialer
			c := redis.NewClient(opts)
			defer c.Close()
			var client redis.UniversalClient = c
			if batched {
				if client, err = redisstore.Batched(c); err != nil {
					b.Fatal(err)
				}
			}
			s := redisstore.New(client, redisstore.Options{Prefix: prefix})
			if _, err := apply(s, 1, 1); err != nil {
				b.Fatal(err)
			}
			var chats atomic.Int64
			b.SetParallelism(100) // 100 × GOMAXPROCS chats at a time
			w0 := w.n.Load()
			cpu0, reads0 := serverCPUReads(b, rdb)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				chat := chats.Add(1) + 1
				for u := int64(1); pb.Next(); u++ {
					if _, err := apply(s, chat, u); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(w.n.Load()-w0)/float64(b.N), "writes/turn")
			cpu1, reads1 := serverCPUReads(b, rdb)
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "server-us/turn")
			b.ReportMetric(float64(reads1-reads0)/float64(b.N), "server-reads/turn")
		})
	}
}
