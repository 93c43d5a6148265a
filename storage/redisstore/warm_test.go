package redisstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestWarmOneRoundTripPerTurn: with TailDelay, a turn after a common save
// of its chat is one round trip — the save; its Load (with the inbound
// count) answers from what that save left (warm.go) — where it was two.
// A chat idle longer than the entry is kept reads again; without
// TailDelay nothing is kept.
func TestWarmOneRoundTripPerTurn(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, _ := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	tt := newTypicalTurns(t, s, clk, 61)
	for range 3 {
		tt.turn()
	}
	h.n.Store(0)
	const turns = 40
	for range turns {
		tt.turn() // checks the version and that the update is not seen
	}
	if got := float64(h.n.Load()) / turns; got != 1 {
		t.Errorf("%.2f round trips per common turn, want 1 (the save)", got)
	}
	if n, b := s.WarmChats(); n != 1 || b <= 0 || b > 4096 {
		t.Errorf("%d entries of %d bytes kept, want 1 of a few hundred", n, b)
	}
	// Idle past the entry's time: the read comes back.
	clk.Add(3 * time.Minute)
	h.n.Store(0)
	tt.turn()
	if got := h.n.Load(); got != 2 {
		t.Errorf("a turn after 3 idle minutes made %d round trips, want 2 (read, save)", got)
	}

	// Without TailDelay: no entry.
	s0, rdb0, _ := newStore(t, redisstore.Options{Now: clk.Now})
	h0 := &roundTrips{}
	rdb0.AddHook(h0)
	t0 := newTypicalTurns(t, s0, clk, 62)
	t0.noMark, t0.noRemind = true, true
	for range 3 {
		t0.turn()
	}
	h0.n.Store(0)
	for range 5 {
		t0.turn()
	}
	if got := float64(h0.n.Load()) / 5; got != 2 {
		t.Errorf("without TailDelay: %.2f round trips per turn, want 2", got)
	}
	if n, _ := s0.WarmChats(); n != 0 {
		t.Errorf("without TailDelay: %d entries kept", n)
	}
}

// TestWarmLoadAsRead walks a chat through an interview's kinds of turns
// and checks, after each, that what the replica keeps for the chat's next
// Load is exactly what a read of Redis returns (the state's fields and
// the seen record), or that it keeps nothing when the turn wrote what it
// cannot know; and that the Loads give the verdicts a read gives:
// redelivery of the last update, a tap answered without a save, the tail
// flushed, a language choice, a flood refused, completion, erasure, and
// another replica's save.
func TestWarmLoadAsRead(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	const chat = 71
	same := func(step string) {
		t.Helper()
		warm, read, ok, err := redisstore.WarmVsRead(s, ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("%s: nothing kept for the next Load", step)
		}
		if !slices.Equal(warm, read) {
			t.Fatalf("%s: kept %q, Redis holds %q", step, warm, read)
		}
	}
	cold := func(step string) {
		t.Helper()
		if _, _, ok, err := redisstore.WarmVsRead(s, ctx, chat); err != nil || ok {
			t.Fatalf("%s: an entry kept (%v)", step, err)
		}
	}
	load := func(update int64) (uint64, redisstore.Seen, int, int64) {
		t.Helper()
		n := h.n.Load()
		_, v, seen, last, err := s.Load(ctx, chat, update)
		if err != nil {
			t.Fatal(err)
		}
		return v, seen, last, h.n.Load() - n
	}
	tt := newTypicalTurns(t, s, clk, chat)
	for range 3 {
		tt.turn()
	}
	same("common turns")
	last := tt.turn()
	same("a common turn")

	// The last update again (a redelivery: not newer than the record's
	// updates): read, and sent by the tail.
	if v, seen, msg, rt := load(last); seen != redisstore.SeenSent || v != tt.v || msg != int(last)+5000 || rt != 1 {
		t.Fatalf("redelivery: v%d %s message %d, %d round trips; want v%d sent %d, 1", v, seen, msg, rt, tt.v, last+5000)
	}
	cold("after a Load read")
	tt.turn()
	same("a turn after a redelivery")

	// A tap answered without a save: its mark waits in the tail; a
	// redelivery of it is dropped, before and after the next save wrote
	// the mark.
	tap := tt.next
	tt.next++
	if _, seen, _, rt := load(tap); seen != redisstore.SeenNone || rt != 0 {
		t.Fatalf("tap: %s, %d round trips", seen, rt)
	}
	if err := s.MarkSent(ctx, chat, tap, int(tap)+5000); err != nil {
		t.Fatal(err)
	}
	cold("after a Load took the entry")
	if _, seen, _, _ := load(tap); seen != redisstore.SeenSent {
		t.Fatalf("tap again: %s, want sent", seen)
	}
	tt.turn()
	same("a turn after a tap without a save")
	if _, seen, _, rt := load(tap); seen != redisstore.SeenSent || rt != 1 {
		t.Fatalf("tap after the save: %s, %d round trips; want sent, 1", seen, rt)
	}
	tt.turn()
	same("a turn after the tap's redelivery")

	// The tail written by the flush: the entry is dropped; the read
	// finds the mark.
	last = tt.turn()
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	cold("after the tail's flush")
	if _, seen, msg, rt := load(last); seen != redisstore.SeenSent || msg != int(last)+5000 || rt != 1 {
		t.Fatalf("redelivery after the flush: %s message %d, %d round trips", seen, msg, rt)
	}
	tt.turn()
	same("a turn after the flush")

	// A language choice entered and left: saves the common save is not.
	u := tt.next
	tt.next += 2
	if _, v, _, _, err := s.Load(ctx, chat, u); err != nil || v != tt.v {
		t.Fatal(v, err)
	}
	if err := s.SaveWaiting(ctx, chat, u, tt.v, tt.v+1, []byte("choosing"), &tt.rec, "f"); err != nil {
		t.Fatal(err)
	}
	tt.v++
	cold("after entering a language choice")
	if blob, v, _, _, err := s.Load(ctx, chat, u+1); err != nil || v != tt.v || string(blob) != "choosing" {
		t.Fatal(string(blob), v, err)
	}
	if err := s.Save(ctx, chat, u+1, tt.v, tt.v+1, []byte("chosen"), &tt.rec); err != nil {
		t.Fatal(err)
	}
	tt.v++
	cold("after leaving a language choice")
	// (The second turn arms the reminder the mirror does not know yet:
	// saveScript's.)
	for range 3 {
		tt.turn()
	}
	same("turns after a language choice")

	// Another replica (an old one, or one the chat's update reached) saves
	// an update: this replica's entry cannot know. Its Load answers from
	// memory, its save conflicts and drops the entry, and the reload sees
	// the other's state and seen record: the update the other applied,
	// delivered here too, is dropped.
	other := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	x := tt.next
	tt.next++
	_, v2, seen2, _, err := other.Load(ctx, chat, x)
	if err != nil || seen2 != redisstore.SeenNone || v2 != tt.v {
		t.Fatal(v2, seen2, err)
	}
	if err := other.Save(ctx, chat, x, v2, v2+1, []byte("theirs"), &tt.rec); err != nil {
		t.Fatal(err)
	}
	if v, seen, _, rt := load(x); v != tt.v || seen != redisstore.SeenNone || rt != 0 {
		t.Fatalf("this replica's Load of the other's update: v%d %s, %d round trips; want its own v%d, none, 0 (from memory)", v, seen, rt, tt.v)
	}
	if err := s.Save(ctx, chat, x, tt.v, tt.v+1, []byte("mine"), &tt.rec); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatalf("save over the other's: %v, want a conflict", err)
	}
	cold("after a conflict")
	if blob, v, seen, _, err := s.Load(ctx, chat, x); err != nil || v != v2+1 || seen != redisstore.SeenApplied || string(blob) != "theirs" {
		t.Fatalf("reload: %q v%d %s %v; want the other's v%d, applied", blob, v, seen, err, v2+1)
	}
	tt.v = v2 + 1
	if err := other.MarkSent(ctx, chat, x, 9999); err != nil {
		t.Fatal(err)
	}
	if _, seen, msg, _ := load(x); seen != redisstore.SeenSent || msg != 9999 {
		t.Fatalf("the other's update after its mark: %s message %d; want sent 9999", seen, msg)
	}
	for range 3 {
		tt.turn()
	}
	same("turns after the other replica's")

	// The other replica marks an update it answered without a save (its
	// MarkSent writes the seen record and the card's id, and moves no
	// version) while this replica's turn runs: the common save finds the
	// record longer than this replica knows it and nothing is kept; the
	// mark is then seen.
	y := tt.next
	tt.next++
	tt.beforeSave = func() {
		if err := other.MarkSent(ctx, chat, y, 7777); err != nil {
			t.Fatal(err)
		}
	}
	tt.turn()
	tt.beforeSave = nil
	cold("after the other replica's mark during a turn")
	if _, seen, _, rt := load(y); seen != redisstore.SeenSent || rt != 1 {
		t.Fatalf("the other's mark: %s, %d round trips; want sent, read", seen, rt)
	}
	for range 2 {
		tt.turn()
	}
	same("turns after the other replica's mark")

	// Completion: kept DoneTTL, a save the common save is not.
	u = tt.next
	tt.next++
	if _, v, _, _, err := s.Load(ctx, chat, u); err != nil || v != tt.v {
		t.Fatal(v, err)
	}
	if err := s.SaveDone(ctx, chat, u, tt.v, tt.v+1, []byte("done")); err != nil {
		t.Fatal(err)
	}
	tt.v++
	cold("after completion")

	// Erasure mid-way (of the interview begun again): the entry goes
	// with the state.
	tt.rec.Started = clk.Now()
	for range 3 {
		tt.turn()
	}
	same("turns of a new interview")
	if err := s.Delete(ctx, chat); err != nil {
		t.Fatal(err)
	}
	cold("after erasure")
	if v, seen, _, rt := load(tt.next); v != 0 || seen != redisstore.SeenNone || rt != 1 {
		t.Fatalf("after erasure: v%d %s, %d round trips; want no state, read", v, seen, rt)
	}
	if n, _ := s.WarmChats(); n > 1 {
		t.Errorf("%d entries for one chat", n)
	}
}

// TestWarmFloodRefusal: the inbound limit's verdicts from memory are a
// read's; the first refusal of a flood writes the state hash, and what
// this replica kept is dropped.
func TestWarmFloodRefusal(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	const chat = 73
	tt := newTypicalTurns(t, s, clk, chat)
	tt.noCount = true
	for range 3 {
		tt.turn()
	}
	count := func(update int64, limit int) (ok, first bool) {
		t.Helper()
		if _, _, _, _, err := s.LoadCounting(ctx, chat, update, limit, time.Hour); err != nil {
			t.Fatal(err)
		}
		ok, first, err := s.Inbound(ctx, chat, update, limit, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ok, first
	}
	// Two per hour: the first two counted (and saved), the third refused
	// first, the fourth silently.
	for i := range 2 {
		u := tt.next
		tt.next++
		if ok, _ := count(u, 2); !ok {
			t.Fatalf("update %d refused", i)
		}
		if err := s.Save(ctx, chat, u, tt.v, tt.v+1, []byte("state"), &tt.rec); err != nil {
			t.Fatal(err)
		}
		tt.v++
		warm, read, kept, err := redisstore.WarmVsRead(s, ctx, chat)
		if err != nil || !kept || !slices.Equal(warm, read) {
			t.Fatalf("after counted update %d: kept %v %q, Redis %q (%v)", i, kept, warm, read, err)
		}
	}
	if ok, first := count(tt.next, 2); ok || !first {
		t.Fatalf("third: ok %v first %v; want the first refusal", ok, first)
	}
	if _, _, kept, _ := redisstore.WarmVsRead(s, ctx, chat); kept {
		t.Fatal("an entry kept after the first refusal wrote the state hash")
	}
	if ok, first := count(tt.next+1, 2); ok || first {
		t.Fatalf("fourth: ok %v first %v; want a silent refusal", ok, first)
	}
}

// TestWarmConfirm: a turn that saves nothing has no compare-and-swap; when
// its Load came from memory and another replica moved the chat meanwhile
// (no chat affinity), Confirm says so (ErrConflict, the entry dropped) and
// the reload reads the other's state. It costs a round trip only after a
// Load from memory, none after a read, and nothing without TailDelay.
func TestWarmConfirm(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	const chat = 73
	tt := newTypicalTurns(t, s, clk, chat)
	for range 3 {
		tt.turn()
	}
	confirm := func(step string, v uint64, wantErr error, wantRT int64) {
		t.Helper()
		n := h.n.Load()
		if err := s.Confirm(ctx, chat, v); !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
			t.Fatalf("%s: Confirm v%d = %v, want %v", step, v, err, wantErr)
		}
		if rt := h.n.Load() - n; rt != wantRT {
			t.Fatalf("%s: Confirm made %d round trips, want %d", step, rt, wantRT)
		}
	}
	// From memory, nobody else wrote: confirmed, one round trip.
	x := tt.next
	tt.next++
	n := h.n.Load()
	if _, v, _, _, err := s.Load(ctx, chat, x); err != nil || v != tt.v || h.n.Load() != n {
		t.Fatalf("Load: v%d %v, %d round trips; want v%d from memory", v, err, h.n.Load()-n, tt.v)
	}
	confirm("from memory, unchanged", tt.v, nil, 1)

	// The next Load reads (the blob was taken, no save since): no round
	// trip to confirm a read.
	y := tt.next
	tt.next++
	if _, v, _, _, err := s.Load(ctx, chat, y); err != nil || v != tt.v {
		t.Fatal(v, err)
	}
	confirm("after a read", tt.v, nil, 0)
	for range 2 {
		tt.turn()
	}

	// Another replica saves; this replica's next Load answers from memory
	// (the version it saved), and a turn that saves nothing is told the
	// state moved; the reload reads the other's.
	other := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	z := tt.next
	tt.next++
	_, v2, _, _, err := other.Load(ctx, chat, z)
	if err != nil || v2 != tt.v {
		t.Fatal(v2, err)
	}
	if err := other.Save(ctx, chat, z, v2, v2+1, []byte("theirs"), &tt.rec); err != nil {
		t.Fatal(err)
	}
	w := tt.next
	tt.next++
	if _, v, _, _, err := s.Load(ctx, chat, w); err != nil || v != tt.v {
		t.Fatalf("Load after the other's save: v%d %v; want this replica's v%d (from memory)", v, err, tt.v)
	}
	confirm("from memory, moved by another replica", tt.v, redisstore.ErrConflict, 1)
	if blob, v, _, _, err := s.Load(ctx, chat, w); err != nil || v != v2+1 || string(blob) != "theirs" {
		t.Fatalf("reload after Confirm: %q v%d %v; want the other's v%d", blob, v, err, v2+1)
	}

	// Without TailDelay nothing is served from memory: no round trip.
	s0, rdb0, _ := newStore(t, redisstore.Options{Now: clk.Now})
	h0 := &roundTrips{}
	rdb0.AddHook(h0)
	if err := s0.Confirm(ctx, chat, 1); err != nil || h0.n.Load() != 0 {
		t.Fatalf("without TailDelay: %v, %d round trips; want nil, 0", err, h0.n.Load())
	}
}
