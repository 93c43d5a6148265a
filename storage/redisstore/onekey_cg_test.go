//go:build shapes

package redisstore

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// Session 13's one-key prototypes (docs/performance.md, "Session 13:
// onekey"): the common turn's Redis side with the seen record kept as a
// field (u) of the state hash, written by two prototype scripts that are
// not the product's. Measured only (callgrind), never run by the store.

// oneKeyFieldScript: saveCommonScript with the seen record as the state
// hash's field u, appended in Lua (Redis has no APPEND of a hash field:
// the record is read into the script and written back whole). KEYS: state
// hash, abandonment record. ARGV as saveCommonScript's.
var oneKeyFieldScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'a', 'u')
if h[1] ~= ARGV[1] or not h[2] then return -2 end
local u = h[2] .. ARGV[4]
if #u > ` + strconv.Itoa(16*seenMax) + ` then return -2 end
if ARGV[6] ~= '' then
  local xd = ARGV[7] or ''
  if xd == '' then
    redis.call('HSET', KEYS[2], 'r', ARGV[6])
  elseif ARGV[11] then
    redis.call('HSET', KEYS[2], 'r', ARGV[6], 'xc', ARGV[11], 'xd', xd, 'xv', ARGV[2])
  else
    redis.call('HSET', KEYS[2], 'r', ARGV[6], 'xd', xd, 'xv', ARGV[2])
  end
end
local m, tat = ARGV[8] or '', ARGV[9] or ''
if tat ~= '' then
  if m ~= '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'm', m, 'a', ARGV[5], 'u', u)
  else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'a', ARGV[5], 'u', u)
  end
elseif m ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'm', m, 'a', ARGV[5], 'u', u)
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'a', ARGV[5], 'u', u)
end
return 1
`)

// oneKeyWholeScript: the seen record as field u, sent whole by Go (the
// record it read with the new entries appended): the mirror compare
// would have to cover it (every other writer of u dropping the mirror).
// KEYS and ARGV as oneKeyFieldScript's, ARGV 4 the whole new record.
var oneKeyWholeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'a') ~= ARGV[1] then return -2 end
if ARGV[6] ~= '' then
  local xd = ARGV[7] or ''
  if xd == '' then
    redis.call('HSET', KEYS[2], 'r', ARGV[6])
  elseif ARGV[11] then
    redis.call('HSET', KEYS[2], 'r', ARGV[6], 'xc', ARGV[11], 'xd', xd, 'xv', ARGV[2])
  else
    redis.call('HSET', KEYS[2], 'r', ARGV[6], 'xd', xd, 'xv', ARGV[2])
  end
end
local m, tat = ARGV[8] or '', ARGV[9] or ''
if tat ~= '' then
  if m ~= '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'm', m, 'a', ARGV[5], 'u', ARGV[4])
  else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'a', ARGV[5], 'u', ARGV[4])
  end
elseif m ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'm', m, 'a', ARGV[5], 'u', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'a', ARGV[5], 'u', ARGV[4])
end
return 1
`)

// oneKeyPerIDScript: each seen entry a field of the state hash of its
// own ("u<id>" = "a" or "s"), so that the save appends without reading
// (no trim, no TTL of its own: a sketch of the cost only). KEYS as
// oneKeyFieldScript's; ARGV as saveCommonScript's 1-10 but 4, the field
// of the update applied, and 11, the field of the update marked sent.
var oneKeyPerIDScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'a') ~= ARGV[1] then return -2 end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], 'r', ARGV[6], 'xd', ARGV[7], 'xv', ARGV[2])
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', ARGV[9], 'h', ARGV[10], 'm', ARGV[8], 'a', ARGV[5], ARGV[11], 's', ARGV[4], 'a')
return 1
`)

// TestCallgrindOneKey measures the common turn's Redis commands in three
// layouts against a Redis under valgrind --tool=callgrind whose pid is
// NB_CG_PID (zeroed before the measured turns, dumped after them), one
// layout per run (NB_CG_LAYOUT):
//
//   - base: today's — the read's HMGET of the state and GET of the seen
//     record (one pipeline), then saveCommonScript (3 keys, 10 arguments)
//     with its HGET, APPEND and two HSETs;
//   - field: the seen record as the state hash's field u — the read one
//     HMGET (u its tenth field), then oneKeyFieldScript (2 keys): HMGET a
//     u, two HSETs;
//   - fielda: as field, the read's GET of the seen record's key kept
//     (it finds none): the first release of a rollout with the setting
//     on, while a replica with it off may still write the key;
//   - perid: each entry a field of the state hash (oneKeyPerIDScript):
//     the read asks for the update's own field, the save adds two fields
//     in the state's HSET;
//   - whole: as field, the record sent whole by Go (oneKeyWholeScript:
//     HGET a, two HSETs).
//
// The arguments are those TestCallgrindTurns's common turn sends (taken
// with MONITOR: a 600-byte state, the record naming the next question,
// its expiry job moving, the mark's message id and the inbound count),
// the seen record starts with NB_SEEN turns' entries (20: two entries a
// turn) and grows by one turn's per measured turn. NB_CHATS chats (100),
// NB_TURNS measured turns each (20), round robin, on one connection.
func TestCallgrindOneKey(t *testing.T) {
	layout := os.Getenv("NB_CG_LAYOUT")
	if layout == "" {
		layout = "base"
	}
	chats, turns, seen0 := envInt("NB_CHATS", 100), envInt("NB_TURNS", 20), envInt("NB_SEEN", 20)
	rdb, prefix := storagetest.Redis(t)
	ctx := context.Background()
	blob := strings.Repeat("state-", 100)
	const now = int64(1796677910120)
	rec := `{"f":"immigrants","fv":1,"m":1,"l":"uk","q":"q_36","t":"2026-12-07T21:11:50.120654063Z"}`
	key := func(c int, k byte) string {
		return prefix + "{c:" + strconv.Itoa(1_000_000+c) + "}:" + string(k)
	}
	mirror := func(v int, xd int64) string {
		return strconv.Itoa(v) + " " + strconv.FormatInt(now, 10) + " 1799874710121 " + strconv.FormatInt(xd, 10) + " uk"
	}
	type chat struct {
		v    int
		seen string
		xd   int64
	}
	cs := make([]chat, chats)
	update := int64(1_000_000)
	entries := func() string {
		update += 2
		return " " + strconv.FormatInt(update-1, 10) + ":s " + strconv.FormatInt(update, 10) + ":a"
	}
	for c := range cs {
		st := &cs[c]
		st.v, st.xd = 4, now+7*24*3600*1000
		st.seen = strconv.FormatInt(now, 10) + " 0 1796677910129:1000009 0"
		for range seen0 {
			st.seen += entries()
		}
		var perid []any
		if layout == "perid" {
			for i := range 2 * seen0 {
				perid = append(perid, "u"+strconv.FormatInt(update-int64(i), 10), []string{"a", "s"}[i%2])
			}
		}
		h := []any{"v", st.v, "b", blob, "e", "1799874710121", "a", mirror(st.v, st.xd), "t", "1796677910129", "h", "1000009", "m", "5007"}
		switch layout {
		case "perid":
			h = append(h, perid...)
		case "base":
			if err := rdb.Set(ctx, key(c, 'u'), st.seen, 0).Err(); err != nil {
				t.Fatal(err)
			}
		default:
			h = append(h, "u", st.seen)
		}
		if err := rdb.HSet(ctx, key(c, 's'), h...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, key(c, 'a'), "r", rec, "xc", "x", "xd", st.xd, "xv", st.v, "id", "id", "st", now, "e", "1799874710121").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range []*redis.Script{saveCommonScript, oneKeyFieldScript, oneKeyWholeScript, oneKeyPerIDScript} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	turn := func(c int) {
		st := &cs[c]
		fields := []string{"v", "b", "m", "t", "h", "o", "a", "e", "l"}
		switch layout {
		case "base":
		case "perid":
			fields = append(fields, "u"+strconv.FormatInt(update+2, 10))
		default:
			fields = append(fields, "u")
		}
		var hm *redis.SliceCmd
		var get *redis.StringCmd
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			hm = p.HMGet(ctx, key(c, 's'), fields...)
			if layout == "base" || layout == "fielda" {
				get = p.Get(ctx, key(c, 'u'))
			}
			return nil
		}); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		read := hm.Val()[6].(string)
		got := ""
		switch layout {
		case "base":
			got = get.Val()
		case "perid":
			if hm.Val()[9] != nil {
				t.Fatalf("chat %d: update %d seen", c, update+2)
			}
			got = st.seen
		default:
			got, _ = hm.Val()[9].(string)
		}
		if read != mirror(st.v, st.xd) || got != st.seen {
			t.Fatalf("chat %d: read %q, seen %q", c, read, got)
		}
		e := entries()
		st.xd++
		args := []any{read, st.v + 1, blob, e, mirror(st.v+1, st.xd), rec, st.xd, 5007, 1796677910129, update}
		var err error
		var n int64
		switch layout {
		case "base":
			n, err = saveCommonScript.EvalSha(ctx, rdb, []string{key(c, 's'), key(c, 'u'), key(c, 'a')}, args...).Int64()
		case "field", "fielda":
			n, err = oneKeyFieldScript.EvalSha(ctx, rdb, []string{key(c, 's'), key(c, 'a')}, args...).Int64()
		case "perid":
			args[3] = "u" + strconv.FormatInt(update, 10)
			args = append(args, "u"+strconv.FormatInt(update-1, 10))
			n, err = oneKeyPerIDScript.EvalSha(ctx, rdb, []string{key(c, 's'), key(c, 'a')}, args...).Int64()
		case "whole":
			args[3] = st.seen + e
			n, err = oneKeyWholeScript.EvalSha(ctx, rdb, []string{key(c, 's'), key(c, 'a')}, args...).Int64()
		default:
			t.Fatalf("NB_CG_LAYOUT %q", layout)
		}
		if layout == "base" && n > int64(len(e)) {
			n = 1 // saveCommonScript's: the seen record's length after its append (session 14)
		}
		if err != nil || n != 1 {
			t.Fatalf("chat %d: save %d %v", c, n, err)
		}
		st.v++
		st.seen += e
	}
	pid := os.Getenv("NB_CG_PID")
	cg := func(flag string) {
		if pid == "" {
			return
		}
		if out, err := exec.Command("callgrind_control", flag, pid).CombinedOutput(); err != nil {
			t.Fatalf("callgrind_control %s: %v %s", flag, err, out)
		}
	}
	// One warm turn each: the scripts' first runs and the connection.
	for c := range cs {
		turn(c)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cg("-z")
	for range turns {
		for c := range cs {
			turn(c)
		}
	}
	cg("-d")
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := float64(chats * turns)
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if !strings.HasPrefix(k, "cmdstat_") || strings.HasPrefix(k, "cmdstat_config") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		f, _ := strconv.ParseFloat(calls, 64)
		t.Logf("  %s %.3f per turn", strings.TrimPrefix(k, "cmdstat_"), f/n)
	}
	t.Logf("layout %s: %d turns measured, seen record %d bytes at the end", layout, chats*turns, len(cs[0].seen))
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}
