package redisstore_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// typicalTurns runs turns of one chat as needsbot runs them (TailDelay,
// the count, an abandonment record with its expiry job, a reminder pushed
// back, the message id marked): after the first two, each save is the
// common one that saveScript's head writes on its own (saveFastLua).
type typicalTurns struct {
	t    testing.TB
	s    *redisstore.Store
	clk  *clock
	chat int64
	rec  redisstore.AbandonRecord
	v    uint64
	next int64
	// noRemind: no reminder (an arm is a write, not a check, once this
	// replica's last write of it is over a minute old).
	noRemind bool
	// noRecord: no abandonment record (none before consent).
	noRecord bool
	// noExpiry: the record arms no expiry job.
	noExpiry bool
	// lang: the reminder's language ("uk" when empty); sent: the turn
	// records its message id for /delete.
	lang string
	sent bool
	// beforeSave runs between the turn's read and its save.
	beforeSave func()
	// noCount: the turn reads with Load (no inbound count) and makes no
	// Inbound; noMark: it makes no MarkSent.
	noCount, noMark bool
}

func newTypicalTurns(t testing.TB, s *redisstore.Store, clk *clock, chat int64) *typicalTurns {
	return &typicalTurns{t: t, s: s, clk: clk, chat: chat, next: 1000,
		rec: redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "uk", Started: clk.Now()}}
}

// turn runs one turn and returns its update id.
func (tt *typicalTurns) turn() int64 {
	t := tt.t
	t.Helper()
	update := tt.next
	tt.next++
	now := tt.clk.Now()
	if tt.noCount {
		if _, ver, seen, _, err := tt.s.Load(ctx, tt.chat, update); err != nil || seen != redisstore.SeenNone || ver != tt.v {
			t.Fatalf("update %d: v%d (want %d) %v %v", update, ver, tt.v, seen, err)
		}
	} else {
		if _, ver, seen, _, err := tt.s.LoadCounting(ctx, tt.chat, update, 1_000_000, time.Second); err != nil || seen != redisstore.SeenNone || ver != tt.v {
			t.Fatalf("update %d: v%d (want %d) %v %v", update, ver, tt.v, seen, err)
		}
		if ok, _, err := tt.s.Inbound(ctx, tt.chat, update, 1_000_000, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if tt.beforeSave != nil {
		tt.beforeSave()
	}
	tt.rec.LastQuestion = "q" + strconv.FormatInt(update, 10)
	tt.rec.Expires = now.Add(7 * 24 * time.Hour)
	if tt.noExpiry {
		tt.rec.Expires = time.Time{}
	}
	rec := &tt.rec
	if tt.noRecord {
		rec = nil
	}
	if err := tt.s.Save(ctx, tt.chat, update, tt.v, tt.v+1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	tt.v++
	if !tt.noMark {
		if err := tt.s.MarkSent(ctx, tt.chat, update, int(update)+5000); err != nil {
			t.Fatal(err)
		}
	}
	if !tt.noRemind {
		lang := tt.lang
		if lang == "" {
			lang = "uk"
		}
		if err := tt.s.ArmReminder(ctx, tt.chat, lang, now.Add(24*time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if tt.sent {
		if err := tt.s.RecordSent(ctx, tt.chat, int(update)+5000); err != nil {
			t.Fatal(err)
		}
	}
	tt.clk.Add(time.Millisecond)
	return update
}

// TestFastSaveSeenRecordBounded: the common save appends to the seen
// record; once the record is long the rest of the script reads it back and
// trims it (the head only appended): however many turns, it stays bounded
// and the trimmed updates stay handled.
func TestFastSaveSeenRecordBounded(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	tt := newTypicalTurns(t, s, clk, 51)
	first := tt.turn()
	for range 2000 {
		tt.turn()
	}
	rec := rdb.Get(ctx, prefix+s.ChatTag(51)+":u").Val()
	if len(rec) > 16*1000+64 {
		t.Fatalf("seen record holds %d bytes, want it bounded", len(rec))
	}
	for id, want := range map[int64]redisstore.Seen{first: redisstore.SeenSent, tt.next - 2: redisstore.SeenSent, tt.next: redisstore.SeenNone} {
		if _, _, seen, _, err := s.Load(ctx, 51, id); err != nil || seen != want {
			t.Errorf("update %d: %v %v, want %v", id, seen, err, want)
		}
	}
}

// TestFastSaveSeenRecordGone: a seen record gone after the turn's read
// (it expired, or was deleted) while the state lives is written anew by
// the common save, with its header and TTL, not left a bare list of
// marks: in a turn as needsbot runs it and in a plain Save.
func TestFastSaveSeenRecordGone(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	check := func(s *redisstore.Store, prefix string, chat, u int64, want redisstore.Seen) {
		t.Helper()
		key := prefix + s.ChatTag(chat) + ":u"
		rec := rdb.Get(ctx, key).Val()
		if !strings.HasPrefix(rec, strconv.FormatInt(clk.Now().Add(-time.Millisecond).UnixMilli(), 10)+" 0 0 0 ") || !strings.HasSuffix(rec, " "+strconv.FormatInt(u, 10)+":a") {
			t.Fatalf("seen record %q, want a header and update %d applied", rec, u)
		}
		if ttl := rdb.PTTL(ctx, key).Val(); ttl < 23*time.Hour {
			t.Fatalf("seen record's TTL %s, want ~24h", ttl)
		}
		if _, _, seen, _, err := s.Load(ctx, chat, u); err != nil || seen != want {
			t.Fatalf("update %d: %v %v, want %v", u, seen, err, want)
		}
	}
	tt := newTypicalTurns(t, s, clk, 52)
	for range 4 {
		tt.turn()
	}
	tt.beforeSave = func() { rdb.Del(ctx, prefix+s.ChatTag(52)+":u") }
	u := tt.turn()
	check(s, prefix, 52, u, redisstore.SeenSent)

	// A Save without tail or count (15 arguments).
	plain, _, pprefix := newStore(t, redisstore.Options{Now: clk.Now})
	for v := range uint64(3) {
		if err := plain.Save(ctx, 54, int64(10+v), v, v+1, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	rdb.Del(ctx, pprefix+plain.ChatTag(54)+":u")
	if err := plain.Save(ctx, 54, 13, 3, 4, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Millisecond)
	check(plain, pprefix, 54, 13, redisstore.SeenApplied)
}

// TestFastSaveWritesMarkAndMovesTTL: the common save writes the previous
// turn's message id onto the state it replaces, and the state's expiry
// once it would move by more than the slack (the rest of the script does).
func TestFastSaveWritesMarkAndMovesTTL(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, StateTTL: time.Hour, Now: clk.Now})
	tt := newTypicalTurns(t, s, clk, 53)
	tt.noRemind, tt.noRecord = true, true
	key := prefix + s.ChatTag(53) + ":s"
	var u int64
	for range 5 {
		u = tt.turn()
	}
	tt.turn()
	if m := rdb.HGet(ctx, key, "m").Val(); m != strconv.FormatInt(u+5000, 10) {
		t.Fatalf("state's message id %q, want %d (the previous turn's)", m, u+5000)
	}
	// The state's slack is 2.5 min, the seen record's an hour: the save
	// stays an append.
	e0 := rdb.HGet(ctx, key, "e").Val()
	clk.Add(time.Minute)
	tt.turn()
	if e := rdb.HGet(ctx, key, "e").Val(); e != e0 {
		t.Fatalf("state's expiry moved within the slack: %s, was %s", e, e0)
	}
	clk.Add(3 * time.Minute)
	tt.turn()
	want := clk.Now().Add(-time.Millisecond).Add(time.Hour).UnixMilli()
	if e := rdb.HGet(ctx, key, "e").Val(); e != strconv.FormatInt(want, 10) {
		t.Fatalf("state's expiry %s past the slack, want %d", e, want)
	}
}

// TestFastSaveLeavesTheRest: what the common save does not write on its
// own goes to the rest of the script: the sent ids of /delete, a reminder
// armed in another language, the record's expiry once past its slack.
func TestFastSaveLeavesTheRest(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, StateTTL: time.Hour, Now: clk.Now})
	tt := newTypicalTurns(t, s, clk, 55)
	tag := prefix + s.ChatTag(55)
	for range 4 {
		tt.turn()
	}
	tt.sent = true
	u := tt.turn()
	tt.sent = false
	tt.turn()
	if ids := rdb.ZRange(ctx, tag+":m", 0, -1).Val(); len(ids) != 1 || ids[0] != strconv.FormatInt(u+5000, 10) {
		t.Fatalf("sent ids %v, want [%d]", ids, u+5000)
	}
	tt.lang = "it"
	tt.turn()
	tt.turn()
	if l := rdb.HGet(ctx, tag+":r", "l").Val(); l != "it" {
		t.Fatalf("reminder's language %q, want it", l)
	}

	// Without an expiry job the record's slack is an hour (its TTL is
	// the state's and the grace), the state's 2.5 min: at 60.5 min the record's expiry is due
	// while the state's (set at 58.5) is not, the seen record's neither
	// (written anew at 30).
	tt.noRemind, tt.noExpiry = true, true
	tt.turn()
	clk.Add(30 * time.Minute)
	rdb.Del(ctx, tag+":u")
	tt.turn()
	clk.Add(28*time.Minute + 30*time.Second)
	tt.turn()
	clk.Add(2 * time.Minute)
	tt.turn()
	want := clk.Now().Add(-time.Millisecond).Add(time.Hour + redisstore.DefaultAbandonGrace).UnixMilli()
	if e := rdb.HGet(ctx, tag+":a", "e").Val(); e != strconv.FormatInt(want, 10) {
		t.Fatalf("record's expiry %s past its slack, want %d", e, want)
	}
}
