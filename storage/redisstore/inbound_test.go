package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// The per-person limit: bursts up to limit, then refused, with one "first"
// refusal per period; a period later the person is served again.
func TestInboundLimit(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{Now: clk.Now})
	const limit, per = 5, 10 * time.Second
	for i := range limit {
		if ok, first, err := s.Inbound(ctx, 4, 0, limit, per); err != nil || !ok || first {
			t.Fatalf("update %d: ok %v first %v err %v", i, ok, first, err)
		}
	}
	if ok, first, err := s.Inbound(ctx, 4, 0, limit, per); err != nil || ok || !first {
		t.Fatalf("over the limit: ok %v first %v err %v, want refused, first", ok, first, err)
	}
	for range 3 {
		if ok, first, err := s.Inbound(ctx, 4, 0, limit, per); err != nil || ok || first {
			t.Fatalf("flood: ok %v first %v err %v, want refused silently", ok, first, err)
		}
	}
	// Another person is not limited by this one.
	if ok, _, err := s.Inbound(ctx, 5, 0, limit, per); err != nil || !ok {
		t.Fatalf("other person: %v %v", ok, err)
	}
	// One emission interval later, one more fits.
	clk.Add(per / limit)
	if ok, _, err := s.Inbound(ctx, 4, 0, limit, per); err != nil || !ok {
		t.Fatalf("after %s: ok %v err %v", per/limit, ok, err)
	}
	if ok, _, _ := s.Inbound(ctx, 4, 0, limit, per); ok {
		t.Fatal("second one after one interval allowed")
	}
	clk.Add(2 * per)
	for i := range limit {
		if ok, first, err := s.Inbound(ctx, 4, 0, limit, per); err != nil || !ok || first {
			t.Fatalf("next period, update %d: ok %v first %v err %v", i, ok, first, err)
		}
	}
	if ok, first, _ := s.Inbound(ctx, 4, 0, limit, per); ok || !first {
		t.Fatalf("next flood: ok %v first %v, want told again", ok, first)
	}
}

// Inbound reads the chat for the Load that follows: a turn with the limit
// is still two round trips, and what Load returns is what a Load of its
// own would have returned.
func TestInboundFoldsIntoLoad(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t, redisstore.Options{TailDelay: time.Minute})
	h := &roundTrips{}
	rdb.AddHook(h)
	due := time.Now().Add(24 * time.Hour)
	for i := range 3 { // warm the scripts up
		if ok, _, err := s.Inbound(ctx, 9, 0, 100, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		turn(t, s, 9, int64(90+i), 490+i, due)
	}
	h.n.Store(0)
	const turns = 10
	for i := range turns {
		if ok, _, err := s.Inbound(ctx, 9, 0, 100, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		want := 499 + i // the previous turn's card
		if i == 0 {
			want = 492 // the last warm-up turn's
		}
		if _, last := turn(t, s, 9, int64(100+i), 500+i, due); last != want {
			t.Fatalf("turn %d: last message %d, want %d", i, last, want)
		}
	}
	if got := float64(h.n.Load()) / turns; got != 2 {
		t.Fatalf("%.2f round trips per turn with the inbound limit, want 2", got)
	}
	// A redelivery after Inbound is recognised from the folded read.
	if ok, _, err := s.Inbound(ctx, 9, 0, 100, time.Second); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, _, seen, _, err := s.Load(ctx, 9, 105); err != nil || seen != redisstore.SeenSent {
		t.Fatalf("redelivered 105 after Inbound: %v %v, want sent", seen, err)
	}
	// The folded read serves one Load only; the next reads Redis again.
	n := h.n.Load()
	if _, _, seen, _, err := s.Load(ctx, 9, 109); err != nil || seen != redisstore.SeenSent {
		t.Fatalf("109: %v %v, want sent (Inbound wrote the last turn's tail)", seen, err)
	}
	if h.n.Load() != n+1 {
		t.Fatalf("second Load made %d round trips, want 1", h.n.Load()-n)
	}
}

// A read by Inbound is a snapshot: when another writer saves in between,
// the turn's save conflicts and the reload sees the other write.
func TestInboundSnapshotConflict(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	other := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if ok, err := apply(s, 12, 1); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, _, err := s.Inbound(ctx, 12, 0, 100, time.Second); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := apply(other, 12, 2); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := apply(s, 12, 2); err != nil || ok {
		t.Fatalf("update 2 applied twice: %v %v", ok, err)
	}
	if ok, err := apply(s, 12, 3); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n, v := counter(t, s, 12); n != 3 || v != 3 {
		t.Fatalf("counter %d v%d, want 3 v3", n, v)
	}
}

// An update id counts once against the limit (a copy handled by another
// replica, a redelivery), an older one not at all, and each call is one
// round trip.
func TestInboundCountsAnUpdateOnce(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, _ := newStore(t, redisstore.Options{Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	const limit, per = 2, 10 * time.Second
	if _, _, err := s.Inbound(ctx, 99, 1, limit, per); err != nil { // warm the script up
		t.Fatal(err)
	}
	call := func(update int64, wantOK, wantFirst bool) {
		t.Helper()
		n := h.n.Load()
		ok, first, err := s.Inbound(ctx, 7, update, limit, per)
		if err != nil || ok != wantOK || first != wantFirst {
			t.Fatalf("update %d: ok %v first %v err %v, want ok %v first %v", update, ok, first, err, wantOK, wantFirst)
		}
		if got := h.n.Load() - n; got != 1 {
			t.Fatalf("update %d: %d round trips, want 1", update, got)
		}
	}
	call(100, true, false)
	call(100, true, false) // a copy: not counted
	call(100, true, false)
	call(99, true, false) // older than one counted: not counted
	call(101, true, false)
	call(102, false, true) // the third distinct update is over the limit
	call(102, true, false) // its copy is let through uncounted, as before
	call(103, false, false)
	// Another person's ids are their own.
	if ok, _, err := s.Inbound(ctx, 8, 100, limit, per); err != nil || !ok {
		t.Fatalf("other person: %v %v", ok, err)
	}
}

// LoadCounting counts the update as it loads the chat: the Inbound of the
// turn then makes no round trip, so that a turn with the limit is two
// round trips (load, save) again; the verdicts are Inbound's. The count is
// made in Go from the read and written by the Save (no script in the
// read); the first refusal of a flood takes inboundScript, which writes it.
func TestLoadCountingFoldsInbound(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, _ := newStore(t, redisstore.Options{Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	const limit, per = 3, 10 * time.Second
	// Warm the scripts up.
	if _, _, _, _, err := s.LoadCounting(ctx, 98, 1, limit, per); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, 98, 1, 0, 1, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	var v uint64
	step := func(update int64, wantOK, wantFirst bool) {
		t.Helper()
		n := h.n.Load()
		_, ver, seen, _, err := s.LoadCounting(ctx, 11, update, limit, per)
		if err != nil || seen != redisstore.SeenNone || ver != v {
			t.Fatalf("load %d: seen %v v%d err %v, want none v%d", update, seen, ver, err, v)
		}
		ok, first, err := s.Inbound(ctx, 11, update, limit, per)
		if err != nil || ok != wantOK || first != wantFirst {
			t.Fatalf("update %d: ok %v first %v err %v, want ok %v first %v", update, ok, first, err, wantOK, wantFirst)
		}
		if err := s.Save(ctx, 11, update, v, v+1, []byte("state"), nil); err != nil {
			t.Fatal(err)
		}
		v++
		// The first refusal of a flood is written by a script of its
		// own (told): one more round trip, once per flood.
		want := int64(2)
		if wantFirst {
			want = 3
		}
		if got := h.n.Load() - n; got != want {
			t.Fatalf("update %d: %d round trips, want %d", update, got, want)
		}
	}
	step(200, true, false)
	step(201, true, false)
	step(202, true, false)
	step(203, false, true)
	step(204, false, false)
	// A redelivery of an applied update is seen and not counted.
	if _, _, seen, _, err := s.LoadCounting(ctx, 11, 204, limit, per); err != nil || seen == redisstore.SeenNone {
		t.Fatalf("redelivered 204: %v %v, want seen", seen, err)
	}
	clk.Add(2 * per)
	step(205, true, false)
	// The verdict serves its own update only: another update's Inbound
	// reads Redis.
	if _, _, _, _, err := s.LoadCounting(ctx, 11, 206, limit, per); err != nil {
		t.Fatal(err)
	}
	n := h.n.Load()
	if ok, _, err := s.Inbound(ctx, 11, 207, limit, per); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if h.n.Load() != n+1 {
		t.Fatalf("Inbound of another update made %d round trips, want 1", h.n.Load()-n)
	}
}
