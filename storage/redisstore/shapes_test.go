//go:build shapes

package redisstore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

func procCPU(t *testing.T, pid string) [2]float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return [2]float64{u * 1e4, s * 1e4} // µs (CLK_TCK 100)
}

func cmdStats(t *testing.T, rdb *redis.Client) (usec, scriptUsec, calls float64) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if !strings.HasPrefix(k, "cmdstat_") || k == "cmdstat_info" || k == "cmdstat_config" {
			continue
		}
		c, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		n, _ := strconv.ParseFloat(c, 64)
		calls += n
		_, u, _ := strings.Cut(v, "usec=")
		u, _, _ = strings.Cut(u, ",")
		x, _ := strconv.ParseFloat(u, 64)
		usec += x
		if k == "cmdstat_eval" || k == "cmdstat_evalsha" || k == "cmdstat_fcall" {
			scriptUsec += x
		}
	}
	return
}

// TestMeasureShapes is session 9's measurement (docs/performance.md,
// "Session 9: nolua"), built only with -tags shapes: what a turn's read
// and save cost Redis (its process CPU from /proc, user and system, with
// NB_REDIS_PID; INFO commandstats) when done as
//   - a-store: the Store as needsbot runs it (read counting, Inbound, Save
//     with record and expiry job, MarkSent, ArmReminder; TailDelay);
//   - a2-evalsha: the read's pipeline and saveScript by EVALSHA with a
//     typical argument list (NB_SCRIPT: another script's source; NB_KEYS:
//     fewer keys after a chat's second turn);
//   - c-fcall: the same as a library function (FUNCTION LOAD, FCALL);
//   - b-watch-pinned: WATCH in the read on a pinned connection, the save
//     as MULTI/HSET/APPEND/HSET/EXEC (plain commands, computed in Go);
//   - b2-shared-read-watch-save: the read on the shared connection, the
//     save as WATCH+HMGET, then MULTI…EXEC, on a pooled connection.
//
// NB_WORKERS chats at a time (100), NB_TURNS turns each (60; a new chat
// every 40), NB_REPS rounds (3), NB_SHAPE: only shapes whose name holds it.
// Point NEEDSBOT_TEST_REDIS_URL at a Redis of its own.
func TestMeasureShapes(t *testing.T) {
	pid := os.Getenv("NB_REDIS_PID")
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	bc, _ := redisstore.Batched(rdb)
	workers := 100
	if n, _ := strconv.Atoi(os.Getenv("NB_WORKERS")); n > 0 {
		workers = n
	}
	turns := 60
	if n, _ := strconv.Atoi(os.Getenv("NB_TURNS")); n > 0 {
		turns = n
	}
	blob := blob600
	rec := *benchRecord
	recJSON, _ := json.Marshal(rec)
	started := strconv.FormatInt(rec.Started.UnixMilli(), 10)
	src := redisstore.SaveScriptSrc()
	if f := os.Getenv("NB_SCRIPT"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = string(b)
	}
	sc := redis.NewScript(src)
	if err := sc.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	lib := "#!lua name=nbshape\nredis.register_function('nbshape_save', function(KEYS, ARGV)\n" + src + "\nend)\n"
	if err := rdb.FunctionLoadReplace(ctx, lib).Err(); err != nil {
		t.Fatal(err)
	}
	keysOf := func(chat int64) []string {
		k := prefix + s.ChatTag(chat)
		return []string{k + ":s", k + ":u", k + ":a", k + ":l", k + ":c", k + ":r", k + ":m"}
	}
	// typical save arguments (needsbot: count, tail with a mark and a reminder check)
	saveArgs := func(chat int64, v uint64, update int64) []any {
		now := time.Now()
		ms := now.UnixMilli()
		se := now.Add(30 * 24 * time.Hour).UnixMilli()
		re := now.Add(31 * 24 * time.Hour).UnixMilli()
		// saveScript's arguments since session 11 (its comment).
		return []any{v, v + 1, blob, fmt.Sprintf(" %d:s %d:a", update-1, update), se, se - 3600000, recJSON, started, re, re - 3600000,
			now.Add(7 * 24 * time.Hour).UnixMilli(), "", fmt.Sprintf("%d %d", ms, update), "cuk",
			fmt.Sprintf("%d %d %d %d - %d %d %d %d %d", 2592000000, ms, 172800000, 2678400000, chat, ms+86400000, 3600000, ms+3600000, ms+3600000-150000)}
	}
	type shape struct {
		name string
		turn func(chat int64, i int) error
	}
	vers := sync.Map{}
	getV := func(chat int64) uint64 {
		v, _ := vers.Load(chat)
		if v == nil {
			return 0
		}
		return v.(uint64)
	}
	rawEval := func(run func(keys []string, args []any) *redis.Cmd) func(chat int64, i int) error {
		return func(chat int64, i int) error {
			k := keysOf(chat)
			update := int64(1_000_000 + i)
			if _, err := bc.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HMGet(ctx, k[0], "v", "b", "m", "t", "h", "o")
				p.Get(ctx, k[1])
				return nil
			}); err != nil && err != redis.Nil {
				return err
			}
			v := getV(chat)
			nk := 7
			if n, _ := strconv.Atoi(os.Getenv("NB_KEYS")); n > 0 && i%40 >= 2 {
				nk = n
			}
			r, err := run(k[:nk], saveArgs(chat, v, update)).Result()
			if err != nil {
				return err
			}
			// 1 + idx (the common save since session 11) or {1, …}.
			if n, ok := r.(int64); ok && n != 1 && n != 2 {
				return fmt.Errorf("conflict or refused: %d", n)
			} else if t, ok := r.([]any); ok && t[0].(int64) != 1 {
				return fmt.Errorf("conflict")
			}
			vers.Store(chat, v+1)
			return nil
		}
	}
	shapes := []shape{
		{"a-store", func(chat int64, i int) error {
			update := int64(1_000_000 + i)
			now := time.Now()
			_, ver, _, _, err := s.LoadCounting(ctx, chat, update, 1_000_000, time.Second)
			if err != nil {
				return err
			}
			if _, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil {
				return err
			}
			r := rec
			r.Expires = now.Add(7 * 24 * time.Hour)
			if err := s.Save(ctx, chat, update, ver, ver+1, blob, &r); err != nil {
				return err
			}
			if err := s.MarkSent(ctx, chat, update, 100+i); err != nil {
				return err
			}
			return s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour)
		}},
		{"a2-evalsha", rawEval(func(k []string, a []any) *redis.Cmd { return sc.EvalSha(ctx, bc, k, a...) })},
		{"c-fcall", rawEval(func(k []string, a []any) *redis.Cmd { return bc.FCall(ctx, "nbshape_save", k, a...) })},
		{"b-watch-pinned", func(chat int64, i int) error {
			k := keysOf(chat)
			update := int64(1_000_000 + i)
			cn := rdb.Conn()
			defer cn.Close()
			var hv *redis.SliceCmd
			if _, err := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, "WATCH", k[0])
				hv = p.HMGet(ctx, k[0], "v", "b", "m", "t", "h", "o", "l", "e", "a")
				p.Get(ctx, k[1])
				return nil
			}); err != nil && err != redis.Nil {
				return err
			}
			v := getV(chat)
			if x, _ := hv.Val()[0].(string); x != strconv.FormatUint(v, 10) && !(v == 0 && x == "") {
				return fmt.Errorf("version %q, want %d", x, v)
			}
			now := time.Now()
			nv := strconv.FormatUint(v+1, 10)
			cmds, err := cn.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, k[0], "v", nv, "b", blob, "t", now.UnixMilli(), "h", update, "m", 100+i,
					"a", nv+" "+started+" 1790000000000 1790000000000 uk")
				p.Append(ctx, k[1], " "+strconv.FormatInt(update-1, 10)+":s "+strconv.FormatInt(update, 10)+":a")
				p.HSet(ctx, k[2], "r", recJSON, "xc", chat, "xd", now.Add(7*24*time.Hour).UnixMilli(), "xv", nv)
				return nil
			})
			if err == redis.TxFailedErr {
				return fmt.Errorf("conflict")
			}
			if err != nil {
				return err
			}
			_ = cmds
			vers.Store(chat, v+1)
			return nil
		}},
		{"b2-shared-read-watch-save", func(chat int64, i int) error {
			k := keysOf(chat)
			update := int64(1_000_000 + i)
			if _, err := bc.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HMGet(ctx, k[0], "v", "b", "m", "t", "h", "o")
				p.Get(ctx, k[1])
				return nil
			}); err != nil && err != redis.Nil {
				return err
			}
			v := getV(chat)
			cn := rdb.Conn()
			defer cn.Close()
			var hv *redis.SliceCmd
			if _, err := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, "WATCH", k[0])
				hv = p.HMGet(ctx, k[0], "v", "l", "e", "a")
				return nil
			}); err != nil {
				return err
			}
			if x, _ := hv.Val()[0].(string); x != strconv.FormatUint(v, 10) && !(v == 0 && x == "") {
				return fmt.Errorf("version %q, want %d", x, v)
			}
			now := time.Now()
			nv := strconv.FormatUint(v+1, 10)
			_, err := cn.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, k[0], "v", nv, "b", blob, "t", now.UnixMilli(), "h", update, "m", 100+i,
					"a", nv+" "+started+" 1790000000000 1790000000000 uk")
				p.Append(ctx, k[1], " "+strconv.FormatInt(update-1, 10)+":s "+strconv.FormatInt(update, 10)+":a")
				p.HSet(ctx, k[2], "r", recJSON, "xc", chat, "xd", now.Add(7*24*time.Hour).UnixMilli(), "xv", nv)
				return nil
			})
			if err != nil {
				return err
			}
			vers.Store(chat, v+1)
			return nil
		}},
	}
	only := os.Getenv("NB_SHAPE")
	reps := 3
	if n, _ := strconv.Atoi(os.Getenv("NB_REPS")); n > 0 {
		reps = n
	}
	base := int64(10_000_000)
	for rep := range reps {
		for _, sh := range shapes {
			if only != "" && !strings.Contains(sh.name, only) {
				continue
			}
			base += 1_000_000
			chat0 := base
			// warm: one turn per chat
			var wg sync.WaitGroup
			run := func(from, n int) {
				errs := make(chan error, workers)
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := from; i < from+n; i++ {
							if err := sh.turn(chat0+int64(w)*1000+int64(i/40), i); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(sh.name, err)
				}
			}
			run(0, 2)
			c0 := procCPU(t, pid)
			u0, s0, n0 := cmdStats(t, rdb)
			t0 := time.Now()
			run(2, turns)
			el := time.Since(t0)
			c1 := procCPU(t, pid)
			u1, s1, n1 := cmdStats(t, rdb)
			N := float64(workers * turns)
			t.Logf("rep %d %-26s proc %.1f (user %.1f + sys %.1f) µs/turn · cmdstats all %.1f · scripts %.1f µs/turn · %.2f calls/turn · %.0f turns/s",
				rep, sh.name, (c1[0]+c1[1]-c0[0]-c0[1])/N, (c1[0]-c0[0])/N, (c1[1]-c0[1])/N, (u1-u0)/N, (s1-s0)/N, (n1-n0)/N, N/el.Seconds())
		}
	}
}
