package redisstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// A version published while interviews run: two replicas (two stores on
// one Redis) both see it and announce it; it becomes one job, leased to
// one of them, which walks the chats waiting at the form's language
// choice — not those of another form, nor one that moved on to another
// form, nor an erased one, nor one that chose its language — and, once done, is never announced again.
func TestPublicationFansOutOnce(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now, StateTTL: time.Hour})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now, StateTTL: time.Hour})

	for chat := int64(1); chat <= 250; chat++ {
		waitAt(t, a, chat, "f")
	}
	waitAt(t, b, 900, "g")
	waitAt(t, b, 2, "g")                     // moved to another form
	if err := a.Delete(ctx, 3); err != nil { // erased
		t.Fatal(err)
	}
	waitAt(t, b, 4, "") // chose a language
	if n := rdb.Exists(ctx, prefix+a.ChatTag(4)+":l").Val(); n != 0 {
		t.Fatal("the record of a chat that chose its language stays")
	}

	okA, errA := a.Announce(ctx, "f", 2)
	okB, errB := b.Announce(ctx, "f", 2)
	if errA != nil || errB != nil || okA == okB {
		t.Fatalf("announced by a: %v %v, by b: %v %v; want exactly one", okA, errA, okB, errB)
	}
	jobs, err := a.ClaimJobs(ctx, clk.Now(), 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if j.Kind != redisstore.JobPublished || j.Form != "f" || j.FormVersion != 2 || j.Kind.String() != "published" {
		t.Fatalf("job %+v", j)
	}
	if again, err := b.ClaimJobs(ctx, clk.Now(), 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("the other replica claimed it too: %v %v", again, err)
	}

	var got []int64
	if err := a.ForEachWaiting(ctx, "f", 100, func(chat int64) error { got = append(got, chat); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if len(got) != 247 || slices.Contains(got, 2) || slices.Contains(got, 3) || slices.Contains(got, 4) || slices.Contains(got, 900) ||
		got[0] != 1 || got[len(got)-1] != 250 || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("walked %d chats (%v…), want 1..250 but 2, 3 and 4, each once", len(got), got[:min(5, len(got))])
	}
	// The stale entries are gone from the index.
	if n := rdb.ZCard(ctx, prefix+"lw:f").Val(); n != 247 {
		t.Fatalf("index of f holds %d, want 247", n)
	}
	// An error stops the walk and is returned (the job is claimed again).
	boom := errors.New("boom")
	calls := 0
	if err := a.ForEachWaiting(ctx, "f", 100, func(int64) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("walk with a failing handler: %v after %d calls", err, calls)
	}

	if err := a.DoneJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Announce(ctx, "f", 2); ok || err != nil {
		t.Fatalf("announced again after the fan-out: %v %v", ok, err)
	}
	if again, err := b.ClaimJobs(ctx, clk.Now(), 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("claimed after done: %v %v", again, err)
	}
	// A newer version is a new job.
	if ok, err := b.Announce(ctx, "f", 3); !ok || err != nil {
		t.Fatalf("version 3 not announced: %v %v", ok, err)
	}
}

// A fan-out whose lease ran out (the replica died mid-way) is claimed
// again, and settling the stale lease says so.
func TestPublicationLeaseLost(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	if ok, err := s.Announce(ctx, "f", 2); !ok || err != nil {
		t.Fatalf("announce: %v %v", ok, err)
	}
	jobs, err := s.ClaimJobs(ctx, clk.Now(), 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	// The lease runs out (removed rather than waited for).
	if err := rdb.Del(ctx, prefix+"{publish}:l:f|2").Err(); err != nil {
		t.Fatal(err)
	}
	again, err := s.ClaimJobs(ctx, clk.Now(), 10, time.Minute)
	if err != nil || len(again) != 1 {
		t.Fatalf("not claimed again after its lease: %v %v", again, err)
	}
	if err := s.DoneJob(ctx, jobs[0]); !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("DoneJob with a lost lease: %v", err)
	}
	if err := s.DoneJob(ctx, again[0]); err != nil && !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"{publish}:due").Val(); n != 0 {
		t.Fatalf("%d publications still due", n)
	}
}

// SaveWaiting indexes a chat at a language choice in the save's round
// trip, moves it when the choice is of another form, and drops its record
// when a save leaves the choice; a conflicting save changes nothing.
func TestSaveWaitingIndexesInTheSave(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	h := &roundTrips{}
	rdb.AddHook(h)
	waiters := func(form string) []int64 {
		t.Helper()
		var got []int64
		if err := s.ForEachWaiting(ctx, form, 10, func(chat int64) error { got = append(got, chat); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	save := func(chat int64, expect uint64, form string) {
		t.Helper()
		if err := s.SaveWaiting(ctx, chat, 0, expect, expect+1, []byte("state"), nil, form); err != nil {
			t.Fatal(err)
		}
	}
	save(31, 0, "f")
	save(32, 0, "f")
	n := h.n.Load()
	save(33, 0, "f")
	if h.n.Load() != n+1 {
		t.Fatalf("a warm save at a language choice made %d round trips, want 1", h.n.Load()-n)
	}
	if got := waiters("f"); !slices.Equal(got, []int64{31, 32, 33}) {
		t.Fatalf("waiting at f: %v, want [31 32 33]", got)
	}
	save(32, 1, "g") // the choice of another form
	save(33, 1, "")  // a language chosen
	if got := waiters("f"); !slices.Equal(got, []int64{31}) {
		t.Fatalf("waiting at f: %v, want [31]", got)
	}
	if got := waiters("g"); !slices.Equal(got, []int64{32}) {
		t.Fatalf("waiting at g: %v, want [32]", got)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(33)+":l").Val(); n != 0 {
		t.Fatal("the record of a chat that left the choice is kept")
	}
	// A save that conflicts neither indexes nor drops.
	if err := s.SaveWaiting(ctx, 31, 0, 7, 8, []byte("state"), nil, ""); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatalf("stale save: %v, want conflict", err)
	}
	if got := waiters("f"); !slices.Equal(got, []int64{31}) {
		t.Fatalf("after a conflicting save, waiting at f: %v, want [31]", got)
	}
}

// waitAt saves a state of chat waiting at form's language choice ("" = a
// language chosen), as the core's save does (Stage.WaitingAt).
func waitAt(t *testing.T, s *redisstore.Store, chat int64, form string) {
	t.Helper()
	_, v, _, _, err := s.Load(ctx, chat, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveWaiting(ctx, chat, 0, v, v+1, []byte("state"), nil, form); err != nil {
		t.Fatal(err)
	}
}
