package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// Session 12: Go decides the common save from the turn's read and sends
// it to saveCommonScript, which checks that the state's mirror is still
// the one read and otherwise leaves the save to saveScript.

// chatDump is what is stored of a chat (its keys by kind, the record's
// random id left out) for comparisons, and the keys' TTLs (-2: no key, -1:
// none), compared apart (sameTTLs): two stores' turns run at different
// moments.
func chatDump(t *testing.T, rdb *redis.Client, s *redisstore.Store, prefix string, chat int64) (string, []time.Duration) {
	t.Helper()
	k := prefix + s.ChatTag(chat)
	var b strings.Builder
	for _, suf := range []string{":s", ":a", ":r", ":l"} {
		h := rdb.HGetAll(ctx, k+suf).Val()
		delete(h, "id")
		fmt.Fprintf(&b, "%s %v\n", suf, h)
	}
	fmt.Fprintf(&b, ":u %q\n", rdb.Get(ctx, k+":u").Val())
	fmt.Fprintf(&b, ":m %v\n", rdb.ZRangeWithScores(ctx, k+":m", 0, -1).Val())
	var ttls []time.Duration
	for _, suf := range []string{":s", ":a", ":r", ":u", ":m", ":l"} {
		ttls = append(ttls, rdb.PTTL(ctx, k+suf).Val())
	}
	return b.String(), ttls
}

// sameTTLs reports whether two chats' TTLs (chatDump) are the same: both
// absent or none, or both set within 5 s of each other.
func sameTTLs(a, b []time.Duration) bool {
	for i := range a {
		if (a[i] < 0 || b[i] < 0) && a[i] != b[i] {
			return false
		}
		if d := a[i] - b[i]; d > 5*time.Second || d < -5*time.Second {
			return false
		}
	}
	return true
}

// TestCommonSaveSameAsSaveScript: the same turns — every kind of save
// saveCommonScript writes (a record whose job moves, whose job is armed
// anew, without a job; no record; with and without the inbound count and
// the message id; the reminder checked or not armed) and the saves in
// between that it leaves to saveScript — store the same bytes whether Go
// decides them (one store) or saveScript does (another, which forgets
// what its reads found before each save), turn by turn.
func TestCommonSaveSameAsSaveScript(t *testing.T) {
	t.Parallel()
	clkA, clkB := newClock(), newClock()
	clkB.t = clkA.t
	a, rdb, pa := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clkA.Now})
	b, _, pb := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clkB.Now})
	const chat = -1001234567890
	ta, tb := newTypicalTurns(t, a, clkA, chat), newTypicalTurns(t, b, clkB, chat)
	tb.rec.Started = ta.rec.Started
	tb.beforeSave = func() { redisstore.ForgetReadStates(b) }
	h := &commonCalls{sha: redisstore.CommonScriptHash()}
	rdb.AddHook(h)
	steps := []struct {
		name  string
		set   func(tt *typicalTurns)
		turns int
	}{
		{"first turns", func(tt *typicalTurns) {}, 4},
		{"job dropped", func(tt *typicalTurns) { tt.noExpiry = true }, 2},
		{"job armed anew", func(tt *typicalTurns) { tt.noExpiry = false }, 2},
		{"no reminder", func(tt *typicalTurns) { tt.noRemind = true }, 2},
		{"no count", func(tt *typicalTurns) { tt.noCount = true }, 2},
		{"no mark", func(tt *typicalTurns) { tt.noCount, tt.noMark = false, true }, 3},
		{"a record alone", func(tt *typicalTurns) { tt.noExpiry, tt.noRemind, tt.noCount = true, true, true }, 3},
		{"no record", func(tt *typicalTurns) {
			tt.noMark, tt.noRecord, tt.noExpiry, tt.noRemind, tt.noCount = false, true, false, false, false
		}, 3},
		{"no record, no count", func(tt *typicalTurns) { tt.noCount = true }, 2},
		{"a new interview", func(tt *typicalTurns) {
			tt.noCount, tt.noRecord, tt.noRemind = false, false, false
			tt.rec.Started = tt.clk.Now()
		}, 3},
	}
	var common []string
	for _, st := range steps {
		st.set(ta)
		st.set(tb)
		for i := range st.turns {
			n := h.n.Load()
			ta.turn()
			if h.n.Load() > n {
				common = append(common, st.name+" "+strconv.Itoa(i+1))
			}
			n = h.n.Load()
			tb.turn()
			if h.n.Load() > n {
				t.Fatalf("%s, turn %d: the store that forgets its reads sent saveCommonScript", st.name, i+1)
			}
			da, ttlA := chatDump(t, rdb, a, pa, chat)
			db, ttlB := chatDump(t, rdb, b, pb, chat)
			if da != db || !sameTTLs(ttlA, ttlB) {
				t.Fatalf("%s, turn %d: stored differs\ndecided in Go:\n%s%v\nby saveScript:\n%s%v", st.name, i+1, da, ttlA, db, ttlB)
			}
		}
	}
	// The common saves among them (saveFastLua's in the release before).
	want := []string{"first turns 3", "first turns 4", "job dropped 2", "job armed anew 1", "job armed anew 2",
		"no reminder 1", "no reminder 2", "no count 1", "no count 2", "no mark 1", "no mark 2", "no mark 3",
		"a record alone 2", "a record alone 3", "no record 3", "no record, no count 1", "no record, no count 2",
		"a new interview 2", "a new interview 3"}
	t.Logf("common saves: %q", common)
	if fmt.Sprint(common) != fmt.Sprint(want) {
		t.Errorf("common saves %q, want %q", common, want)
	}
	if err := a.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	da, tta := chatDump(t, rdb, a, pa, chat)
	db, ttb := chatDump(t, rdb, b, pb, chat)
	if da != db || !sameTTLs(tta, ttb) {
		t.Fatalf("after the tails: stored differs\ndecided in Go:\n%s%v\nby saveScript:\n%s%v", da, tta, db, ttb)
	}
	if xc := rdb.HGet(ctx, pa+a.ChatTag(chat)+":a", "xc").Val(); xc != strconv.FormatInt(chat, 10) {
		t.Errorf("record's job chat %q, want %d", xc, int64(chat))
	}
}

// commonCalls counts the calls of saveCommonScript (its SHA).
type commonCalls struct {
	sha string
	n   atomic.Int64
}

func (h *commonCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commonCalls) count(cmd redis.Cmder) {
	if a := cmd.Args(); len(a) > 1 && cmd.Name() == "evalsha" {
		if sha, ok := a[1].(*string); ok && *sha == h.sha {
			h.n.Add(1)
		} else if sha, ok := a[1].(string); ok && sha == h.sha {
			h.n.Add(1)
		}
	}
}

func (h *commonCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}

func (h *commonCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.count(c)
		}
		return next(ctx, cmds)
	}
}

// TestCommonSaveChecksTheMirror: what Go decided from its read is checked
// in the script. Another replica's save between the read and the save
// (the version moved on) is a conflict: nothing of the state changes, and
// the tail's marks are still written into the seen record; a mirror
// dropped between them (DoneJob, CancelReminder) sends the save to
// saveScript, which reads the record and the reminder and writes it anew.
func TestCommonSaveChecksTheMirror(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	bc, err := redisstore.Batched(rdb)
	if err != nil {
		t.Fatal(err)
	}
	other := redisstore.New(bc, redisstore.Options{Prefix: prefix, TailDelay: time.Minute, Now: clk.Now})
	h := &commonCalls{sha: redisstore.CommonScriptHash()}
	rdb.AddHook(h)
	const chat = 91
	key := prefix + s.ChatTag(chat)
	tt := newTypicalTurns(t, s, clk, chat)
	for range 4 {
		tt.turn()
	}
	marked := tt.next - 1 // marked sent in the tail the next save writes
	read := func(u int64) {
		t.Helper()
		if _, ver, _, _, err := s.LoadCounting(ctx, chat, u, 1_000_000, time.Second); err != nil || ver != tt.v {
			t.Fatalf("read: v%d (want %d) %v", ver, tt.v, err)
		}
	}

	// Another replica saves between the read and the save.
	u := tt.next
	tt.next++
	read(u)
	if _, ver, _, _, err := other.LoadCounting(ctx, chat, 7001, 1_000_000, time.Second); err != nil || ver != tt.v {
		t.Fatalf("other replica's read: v%d %v", ver, err)
	}
	if err := other.Save(ctx, chat, 7001, tt.v, tt.v+1, []byte("other"), &tt.rec); err != nil {
		t.Fatal(err)
	}
	n := h.n.Load()
	if err := s.Save(ctx, chat, u, tt.v, tt.v+1, []byte("mine"), &tt.rec); err != redisstore.ErrConflict {
		t.Fatalf("save after another replica's: %v, want ErrConflict", err)
	}
	if h.n.Load() == n {
		t.Error("the save did not go to saveCommonScript first")
	}
	tt.v++
	if b := rdb.HGet(ctx, key+":s", "b").Val(); b != "other" {
		t.Fatalf("state %q after the conflict, want the other replica's", b)
	}
	if a := rdb.HGet(ctx, key+":s", "a").Val(); !strings.HasPrefix(a, strconv.FormatUint(tt.v, 10)+" ") {
		t.Errorf("mirror %q, want the other replica's (version %d)", a, tt.v)
	}
	rec := rdb.Get(ctx, key+":u").Val()
	if !strings.Contains(rec, " "+strconv.FormatInt(marked, 10)+":s") || strings.Contains(rec, " "+strconv.FormatInt(u, 10)+":") {
		t.Errorf("seen record %q: want update %d marked sent and %d not applied", rec, marked, u)
	}

	// The mirror dropped between the read and the save (two turns
	// first: the conflicting save wrote the tail's arm, so the next one
	// arms none and the mirror forgets the reminder).
	tt.turn()
	tt.turn()
	tt.beforeSave = func() { rdb.HDel(ctx, key+":s", "a") }
	n = h.n.Load()
	tt.turn()
	if h.n.Load() == n {
		t.Error("the save did not go to saveCommonScript first")
	}
	a := rdb.HGet(ctx, key+":s", "a").Val()
	want := strconv.FormatUint(tt.v, 10) + " " + strconv.FormatInt(tt.rec.Started.UnixMilli(), 10) + " "
	if !strings.HasPrefix(a, want) || !strings.HasSuffix(a, " uk") {
		t.Errorf("mirror %q after the save, want %q… uk", a, want)
	}
	if v := rdb.HGet(ctx, key+":s", "v").Val(); v != strconv.FormatUint(tt.v, 10) {
		t.Errorf("state at version %s, want %d", v, tt.v)
	}
}
