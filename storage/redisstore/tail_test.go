package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// turn does what the bot does for one update: load (with dedup), save,
// then the tail — replies sent, reminder pushed back, message ids kept.
func turn(t *testing.T, s *redisstore.Store, chat, update int64, msg int, due time.Time) (uint64, int) {
	t.Helper()
	_, v, seen, last, err := s.Load(ctx, chat, update)
	if err != nil {
		t.Fatal(err)
	}
	if seen != redisstore.SeenNone {
		t.Fatalf("update %d already seen (%s)", update, seen)
	}
	if err := s.Save(ctx, chat, update, v, v+1, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, chat, update, msg); err != nil {
		t.Fatal(err)
	}
	if err := s.ArmReminder(ctx, chat, "uk", due, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, chat, msg); err != nil {
		t.Fatal(err)
	}
	return v + 1, last
}

// TestTailTwoRoundTripsPerTurn: with TailDelay, a turn costs two round
// trips (load, save) and the tail of each turn is written by the next
// load; without it, the same turn costs six (the arm is two). (These
// turns record a sent message id each, which the common save does not
// write: each save goes to saveScript, so the next Load reads. A turn
// after a common save is one round trip: TestWarmOneRoundTripPerTurn.)
func TestTailTwoRoundTripsPerTurn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		delay time.Duration
		want  float64
	}{{time.Minute, 2}, {0, 6}} {
		s, rdb, _ := newStore(t, redisstore.Options{TailDelay: c.delay})
		h := &roundTrips{}
		rdb.AddHook(h)
		due := time.Now().Add(24 * time.Hour)
		turn(t, s, 9, 98, 498, due) // warm the scripts up
		turn(t, s, 9, 99, 499, due)
		turn(t, s, 9, 100, 500, due)
		h.n.Store(0)
		const turns = 20
		last := 0
		for i := range turns {
			_, last = turn(t, s, 9, int64(101+i), 501+i, due)
			if last != 500+i {
				t.Fatalf("delay %s: turn %d loaded message id %d, want the previous turn's %d", c.delay, i, last, 500+i)
			}
		}
		if got := float64(h.n.Load()) / turns; got != c.want {
			t.Errorf("delay %s: %.2f round trips per turn, want %.0f", c.delay, got, c.want)
		}
	}
}

// TestTailWrittenByNextSave: what a turn deferred is in Redis once the
// chat's next update is saved (session 6: the load runs no script): the
// redelivered update is SeenSent (from the tail in memory until then), the
// message id is returned, the reminder is armed and indexed, the message
// ids are kept for /delete, the message id is on the state.
func TestTailWrittenByNextSave(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	due := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	turn(t, s, 11, 1, 700, due)
	if s.PendingTails() != 1 {
		t.Fatalf("pending tails %d, want 1", s.PendingTails())
	}
	// Nothing of the tail is in Redis yet.
	if n := rdb.Exists(ctx, prefix+s.ChatTag(11)+":r", prefix+s.ChatTag(11)+":m").Val(); n != 0 {
		t.Fatalf("%d tail keys written before the next load", n)
	}
	_, v, seen, last, err := s.Load(ctx, 11, 1) // the update again
	if err != nil {
		t.Fatal(err)
	}
	if seen != redisstore.SeenSent || last != 700 {
		t.Fatalf("redelivery: seen %s, last message %d; want sent, 700", seen, last)
	}
	if s.PendingTails() != 1 || rdb.HGet(ctx, prefix+s.ChatTag(11)+":s", "m").Val() != "" {
		t.Fatalf("pending tails %d after the load, want the message id's", s.PendingTails())
	}
	if _, _, _, last, _ := s.Load(ctx, 11, 2); last != 700 {
		t.Fatalf("next load: last message %d, want 700", last)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(11)+":r", prefix+s.ChatTag(11)+":m").Val(); n != 0 || s.PendingTails() != 1 {
		t.Fatalf("%d tail keys written by the load (pending tails %d), want them left to the save", n, s.PendingTails())
	}
	if err := s.Save(ctx, 11, 2, v, v+1, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	if m := rdb.HGet(ctx, prefix+s.ChatTag(11)+":s", "m").Val(); m != "700" || s.PendingTails() != 0 {
		t.Fatalf("after the save: m %q, pending tails %d; want 700, 0", m, s.PendingTails())
	}
	r := rdb.HGetAll(ctx, prefix+s.ChatTag(11)+":r").Val()
	if r["s"] != "p" || r["l"] != "uk" || r["d"] != formatMS(due) {
		t.Fatalf("reminder record %v", r)
	}
	if sc, err := rdb.ZScore(ctx, prefix+"remind:due", s.ChatTag(11)[3:35]).Result(); err != nil || int64(sc) != due.UnixMilli() {
		t.Fatalf("reminder index %v, %v", sc, err)
	}
	msgs, err := s.SentMessages(ctx, 11)
	if err != nil || len(msgs) != 1 || msgs[0].ID != 700 {
		t.Fatalf("sent messages %v, %v", msgs, err)
	}
}

func formatMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// TestTailFlushedAfterDelay: a chat that sends nothing more gets its tail
// written by FlushTails once it is TailDelay old, and not before.
func TestTailFlushedAfterDelay(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: 30 * time.Second, Now: clk.Now})
	turn(t, s, 12, 1, 800, clk.Now().Add(time.Hour))
	if err := s.FlushTails(ctx, clk.Now().Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s.PendingTails() != 1 {
		t.Fatal("a fresh tail was flushed")
	}
	clk.Add(31 * time.Second)
	if err := s.FlushTails(ctx, clk.Now().Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s.PendingTails() != 0 {
		t.Fatal("an old tail was not flushed")
	}
	if rdb.HGet(ctx, prefix+s.ChatTag(12)+":r", "s").Val() != "p" {
		t.Fatal("reminder not armed by the flush")
	}
	if rdb.HGet(ctx, prefix+s.ChatTag(12)+":s", "m").Val() != "800" {
		t.Fatal("message id not written by the flush")
	}
	_, _, seen, _, err := s.Load(ctx, 12, 1)
	if err != nil || seen != redisstore.SeenSent {
		t.Fatalf("after flush: %s, %v", seen, err)
	}
}

// TestTailDroppedByDeleteAndCancel: after /delete nothing deferred is
// written (no chat id comes back in a reminder record); a cancelled
// reminder is not armed by its deferred arm.
func TestTailDroppedByDeleteAndCancel(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	turn(t, s, 13, 1, 900, time.Now().Add(time.Hour))
	if msgs, _ := s.SentMessages(ctx, 13); len(msgs) != 1 {
		t.Fatalf("deferred message ids not listed for /delete: %v", msgs)
	}
	if err := s.Delete(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(13)+":r", prefix+s.ChatTag(13)+":m", prefix+s.ChatTag(13)+":s").Val(); n != 0 {
		t.Fatalf("%d keys written after Delete", n)
	}

	turn(t, s, 14, 1, 901, time.Now().Add(time.Hour))
	if err := s.CancelReminder(ctx, 14, false); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(14)+":r").Val(); n != 0 {
		t.Fatal("a cancelled reminder was armed by its deferred arm")
	}
	if rdb.HGet(ctx, prefix+s.ChatTag(14)+":s", "m").Val() != "901" {
		t.Fatal("the rest of the tail was lost")
	}
}

// TestTailMessageIDOnlyOntoItsState: a deferred message id is not written
// over a state another replica has moved on meanwhile.
func TestTailMessageIDOnlyOntoItsState(t *testing.T) {
	t.Parallel()
	a, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix}) // another replica, writing at once
	v, _ := turn(t, a, 15, 1, 1000, time.Now().Add(time.Hour))
	if err := b.Save(ctx, 15, 2, v, v+1, []byte("newer"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkSent(ctx, 15, 2, 1001); err != nil {
		t.Fatal(err)
	}
	if err := a.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if m := rdb.HGet(ctx, prefix+a.ChatTag(15)+":s", "m").Val(); m != "1001" {
		t.Fatalf("message id %s, want the newer state's 1001", m)
	}
	// The sent mark itself still counts: update 1 is not replayed.
	if _, _, seen, _, _ := b.Load(ctx, 15, 1); seen != redisstore.SeenSent {
		t.Fatalf("update 1: %s", seen)
	}
}

// TestRunTailsFlushesAtShutdown: what is deferred when the replica stops
// is written.
func TestRunTailsFlushesAtShutdown(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Hour})
	turn(t, s, 16, 1, 1100, time.Now().Add(time.Hour))
	c, cancel := contextWithCancel()
	done := make(chan struct{})
	go func() { s.RunTails(c); close(done) }()
	cancel()
	<-done
	if rdb.HGet(ctx, prefix+s.ChatTag(16)+":s", "m").Val() != "1100" || s.PendingTails() != 0 {
		t.Fatal("tail not written at shutdown")
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }

// scripts counts the EVAL and EVALSHA commands the client sends.
// scripts counts script calls (n) and their words (the command's Args:
// EVALSHA, SHA, key count, keys, arguments).
type scripts struct{ n, words atomic.Int64 }

func (h *scripts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scripts) count(cmd redis.Cmder) {
	if name := cmd.Name(); name == "evalsha" || name == "eval" {
		h.n.Add(1)
		h.words.Add(int64(len(cmd.Args())))
	}
}

func (h *scripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}

func (h *scripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.count(c)
		}
		return next(ctx, cmds)
	}
}

// TestTurnOneScript: a turn as needsbot runs it (LoadCounting, Inbound,
// Save, then the deferred tail) runs one script, the Save's: the load is
// plain commands (the count is made in Go and written by the Save, which
// also writes the previous turn's tail), still two round trips.
func TestTurnOneScript(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	h, rt := &scripts{}, &roundTrips{}
	rdb.AddHook(h)
	rdb.AddHook(rt)
	due := time.Now().Add(24 * time.Hour)
	v := uint64(0)
	const turns = 10
	for i := range turns + 1 {
		if i == 1 { // the first turn warmed the scripts up
			h.n.Store(0)
			h.words.Store(0)
			rt.n.Store(0)
		}
		update := int64(300 + i)
		_, ver, seen, last, err := s.LoadCounting(ctx, 13, update, 100, time.Second)
		if err != nil || seen != redisstore.SeenNone || ver != v {
			t.Fatalf("turn %d: v%d seen %v err %v", i, ver, seen, err)
		}
		if i > 0 && last != 800+i-1 {
			t.Fatalf("turn %d: last message %d, want the previous turn's %d", i, last, 800+i-1)
		}
		if ok, _, err := s.Inbound(ctx, 13, update, 100, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := s.Save(ctx, 13, update, v, v+1, []byte("state"), nil); err != nil {
			t.Fatal(err)
		}
		v++
		if err := s.MarkSent(ctx, 13, update, 800+i); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmReminder(ctx, 13, "uk", due, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordSent(ctx, 13, 800+i); err != nil {
			t.Fatal(err)
		}
	}
	if got := float64(h.n.Load()) / turns; got != 1 {
		t.Errorf("%.2f scripts per turn, want 1", got)
	}
	if got := float64(rt.n.Load()) / turns; got != 2 {
		t.Errorf("%.2f round trips per turn, want 2", got)
	}
	// The save of a turn with a count and a tail (a mark, a reminder, a
	// sent id) passes 7 keys and 22 arguments: 15, then the completion,
	// the count and the seen record's pxafter, then the arm (2), the sent
	// ids (1) and one mark. Session 6 passed 30 (an unused mark pair, now,
	// the seen TTL and the oldest sent id twice over, two completion
	// arguments, the arm and the sent ids' time apart).
	if got := float64(h.words.Load()) / turns; got > 3+7+22 {
		t.Errorf("%.2f words per script call, want at most %d", got, 3+7+22)
	}
	// The updates were counted: the limit's state (t, h, o) is in the
	// state hash, written by the saves.
	if h := rdb.HGet(ctx, prefix+s.ChatTag(13)+":s", "h").Val(); h != "310" {
		t.Errorf("highest update counted %q, want the last one (310)", h)
	}
	for _, id := range []int64{300, 305, 310} {
		if _, _, seen, _, err := s.Load(ctx, 13, id); err != nil || seen == redisstore.SeenNone {
			t.Errorf("update %d: %v %v, want seen", id, seen, err)
		}
	}
}

// TestTurnSeenAppended: the turn's Save appends the previous turn's marks
// and its own update to the seen record instead of rewriting it (an id
// may then be listed twice: "s" wins), rewrites it once its TTL is to be
// set again (past the slack), and trims it once it is long: however many
// turns, the record stays bounded and trimmed updates stay handled.
func TestTurnSeenAppended(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, SeenTTL: time.Hour, Now: clk.Now})
	key := prefix + s.ChatTag(14) + ":u"
	written := func() string { w, _, _ := strings.Cut(rdb.Get(ctx, key).Val(), " "); return w }
	v := uint64(0)
	turn := func(update int64) {
		t.Helper()
		_, ver, seen, _, err := s.LoadCounting(ctx, 14, update, 1_000_000, time.Second)
		if err != nil || seen != redisstore.SeenNone || ver != v {
			t.Fatalf("update %d: v%d seen %v err %v", update, ver, seen, err)
		}
		if err := s.Save(ctx, 14, update, v, v+1, []byte("state"), nil); err != nil {
			t.Fatal(err)
		}
		v++
		if err := s.MarkSent(ctx, 14, update, int(update)); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Millisecond)
	}
	for u := int64(1); u <= 3; u++ {
		turn(u)
	}
	rec := rdb.Get(ctx, key).Val()
	if !strings.Contains(rec, " 2:a") || !strings.Contains(rec, " 2:s") {
		t.Fatalf("record %q: want update 2 appended applied, then sent", rec)
	}
	if _, _, seen, _, err := s.Load(ctx, 14, 2); err != nil || seen != redisstore.SeenSent {
		t.Fatalf("update 2: %v %v, want sent", seen, err)
	}
	w0 := written()
	clk.Add(2 * time.Minute) // within the slack (2.5 min): appended, TTL kept
	turn(4)
	if w := written(); w != w0 {
		t.Fatalf("within the slack the record's TTL was set again (written %s, was %s)", w, w0)
	}
	clk.Add(time.Minute) // past it: rewritten, TTL set
	turn(5)
	if w, want := written(), strconv.FormatInt(clk.Now().Add(-time.Millisecond).UnixMilli(), 10); w != want {
		t.Fatalf("past the slack: written %s, want %s (TTL set)", w, want)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 59*time.Minute {
		t.Fatalf("TTL %s after it was set again", ttl)
	}
	for u := int64(6); u <= 1300; u++ {
		turn(u)
	}
	if n := len(rdb.Get(ctx, key).Val()); n > 16*1000+64 {
		t.Fatalf("seen record holds %d bytes, want it bounded", n)
	}
	for id, want := range map[int64]redisstore.Seen{10: redisstore.SeenSent, 1299: redisstore.SeenSent, 1301: redisstore.SeenNone} {
		if _, _, seen, _, err := s.Load(ctx, 14, id); err != nil || seen != want {
			t.Errorf("update %d: %v %v, want %v", id, seen, err, want)
		}
	}
}
