package schedule_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/schedule"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

var ctx = context.Background()

func rome(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	loc := rome(t)
	q, err := schedule.ParseQuiet("21-9", loc)
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, loc) }
	for _, c := range []struct {
		t     time.Time
		quiet bool
		next  time.Time
	}{
		{at(6, 20, 59), false, at(6, 20, 59)},
		{at(6, 21, 0), true, at(7, 9, 0)},
		{at(6, 23, 30), true, at(7, 9, 0)},
		{at(7, 3, 0), true, at(7, 9, 0)},
		{at(7, 8, 59), true, at(7, 9, 0)},
		{at(7, 9, 0), false, at(7, 9, 0)},
		{at(7, 12, 0).UTC(), false, at(7, 12, 0)},
		// 20:30 UTC is 21:30 in Rome in winter.
		{time.Date(2026, 12, 6, 20, 30, 0, 0, time.UTC), true, at(7, 9, 0)},
	} {
		if got := q.In(c.t); got != c.quiet {
			t.Errorf("In(%v) = %v, want %v", c.t, got, c.quiet)
		}
		if got := q.Next(c.t); !got.Equal(c.next) {
			t.Errorf("Next(%v) = %v, want %v", c.t, got, c.next)
		}
	}
	if q, _ := schedule.ParseQuiet("off", loc); q.In(at(6, 23, 0)) {
		t.Error("off is quiet")
	}
	for _, bad := range []string{"21", "a-9", "25-9", "21-24"} {
		if _, err := schedule.ParseQuiet(bad, loc); err == nil {
			t.Errorf("ParseQuiet(%q) accepted", bad)
		}
	}
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// Two replicas on one Redis, racing: every due reminder is handled exactly
// once, none before it is due, none in the quiet hours.
func TestTwoSchedulersEachJobOnce(t *testing.T) {
	t.Parallel()
	loc := rome(t)
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 6, 20, 0, 0, 0, loc)}
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	q, _ := schedule.ParseQuiet("21-9", loc)

	var mu sync.Mutex
	got := map[int64]int{}
	handle := func(_ context.Context, j redisstore.Job) error {
		if j.Lang != "uk" || j.Kind != redisstore.JobRemind {
			t.Errorf("job %v lang %q", j.Kind, j.Lang)
		}
		mu.Lock()
		got[j.Chat]++
		mu.Unlock()
		return nil
	}
	a := &schedule.Scheduler{Store: st, Handle: handle, Now: clk.Now, Quiet: q, Batch: 7}
	b := &schedule.Scheduler{Store: st, Handle: handle, Now: clk.Now, Quiet: q, Batch: 7}

	const n = 60
	for chat := int64(1); chat <= n; chat++ {
		// half due at 20:30, half at 22:00 (quiet: they wait for 09:00)
		due := clk.Now().Add(30 * time.Minute)
		if chat%2 == 0 {
			due = clk.Now().Add(2 * time.Hour)
		}
		if err := st.ArmReminder(ctx, chat, "uk", due, 0); err != nil {
			t.Fatal(err)
		}
	}
	race := func() int {
		var wg sync.WaitGroup
		total := 0
		var tm sync.Mutex
		for _, s := range []*schedule.Scheduler{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k, err := s.RunOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					tm.Lock()
					total += k
					tm.Unlock()
					if k == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		return total
	}
	if k := race(); k != 0 {
		t.Fatalf("%d handled before due", k)
	}
	clk.Set(time.Date(2026, 12, 6, 20, 45, 0, 0, loc))
	if k := race(); k != n/2 {
		t.Fatalf("handled %d at 20:45, want %d", k, n/2)
	}
	clk.Set(time.Date(2026, 12, 6, 23, 0, 0, 0, loc))
	if k := race(); k != 0 {
		t.Fatalf("handled %d in the quiet hours", k)
	}
	clk.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	if k := race(); k != n/2 {
		t.Fatalf("handled %d at 09:00, want %d", k, n/2)
	}
	clk.Add(24 * time.Hour)
	if k := race(); k != 0 {
		t.Fatalf("handled %d again", k)
	}
	if len(got) != n {
		t.Fatalf("%d chats reminded, want %d", len(got), n)
	}
	for chat, c := range got {
		if c != 1 {
			t.Errorf("chat %d reminded %d times", chat, c)
		}
	}
	// Sent: never armed again for this interview.
	if err := st.ArmReminder(ctx, 1, "uk", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if k, _ := a.RunOnce(ctx); k != 0 {
		t.Fatal("a reminder was armed twice for one interview")
	}
	// No chat id is left once sent.
	keys, _ := rdb.Keys(ctx, prefix+"*").Result()
	for _, k := range keys {
		if typ := rdb.Type(ctx, k).Val(); typ == "hash" {
			if rdb.HExists(ctx, k, "c").Val() {
				t.Errorf("%s still holds a chat id", k)
			}
		}
	}
}

// A failed handler leaves the job leased; when the lease ends (a crashed
// replica) it is claimed again and handled once.
func TestLeaseRetryAndCancel(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	fail := true
	calls := 0
	s := &schedule.Scheduler{Store: st, Now: clk.Now, Handle: func(context.Context, redisstore.Job) error {
		calls++
		if fail {
			return errors.New("telegram down")
		}
		return nil
	}}
	for chat := int64(1); chat <= 3; chat++ {
		if err := st.ArmReminder(ctx, chat, "en", clk.Now(), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Chat 2 pressed Stop, chat 3 completed: neither is reminded, and Stop
	// sticks.
	if err := st.CancelReminder(ctx, 2, true); err != nil {
		t.Fatal(err)
	}
	if err := st.CancelReminder(ctx, 3, false); err != nil {
		t.Fatal(err)
	}
	if err := st.ArmReminder(ctx, 2, "en", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if k, err := s.RunOnce(ctx); err != nil || k != 0 || calls != 1 {
		t.Fatalf("first run: %d handled, %d calls, %v", k, calls, err)
	}
	// Leased: not handed out again while the lease lasts.
	if k, _ := s.RunOnce(ctx); k != 0 || calls != 1 {
		t.Fatalf("leased job handled again (%d calls)", calls)
	}
	// The lease ends (simulated: Redis expires it by its own clock).
	keys, _ := rdb.Keys(ctx, prefix+"*:rl").Result()
	if len(keys) != 1 {
		t.Fatalf("leases %v", keys)
	}
	rdb.Del(ctx, keys...)
	fail = false
	if k, err := s.RunOnce(ctx); err != nil || k != 1 || calls != 2 {
		t.Fatalf("retry: %d handled, %d calls, %v", k, calls, err)
	}
	if sent, _ := st.ReminderSent(ctx, 1); !sent {
		t.Error("ReminderSent false after sending")
	}
}

// A publication's fan-out says nothing to anyone: it runs in the quiet
// hours, once, while a reminder due then waits.
func TestPublicationRunsInQuietHours(t *testing.T) {
	t.Parallel()
	loc := rome(t)
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 6, 23, 0, 0, 0, loc)}
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	q, _ := schedule.ParseQuiet("21-9", loc)
	var got []redisstore.Job
	s := &schedule.Scheduler{Store: st, Now: clk.Now, Quiet: q,
		Handle: func(_ context.Context, j redisstore.Job) error { got = append(got, j); return nil }}
	if err := st.ArmReminder(ctx, 1, "uk", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Announce(ctx, "f", 2); !ok || err != nil {
		t.Fatalf("announce: %v %v", ok, err)
	}
	for range 2 {
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].Kind != redisstore.JobPublished || got[0].Form != "f" || got[0].FormVersion != 2 {
		t.Fatalf("handled in the quiet hours: %+v, want the publication once", got)
	}
	clk.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	if _, err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Kind != redisstore.JobRemind {
		t.Fatalf("after the quiet hours: %+v, want the reminder", got)
	}
}

// Two replicas announce the same publication and race to run it: the
// fan-out runs once, and each waiting chat is handed it once.
func TestTwoSchedulersPublicationOnce(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	a := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	const n = 120
	for chat := int64(1); chat <= n; chat++ {
		waitAt(t, a, chat, "f")
	}
	var mu sync.Mutex
	got := map[int64]int{}
	jobs := 0
	handler := func(st *redisstore.Store) schedule.Handler {
		return func(ctx context.Context, j redisstore.Job) error {
			mu.Lock()
			jobs++
			mu.Unlock()
			return st.ForEachWaiting(ctx, j.Form, 7, func(chat int64) error {
				mu.Lock()
				got[chat]++
				mu.Unlock()
				return nil
			})
		}
	}
	sa := &schedule.Scheduler{Store: a, Handle: handler(a), Now: clk.Now}
	sb := &schedule.Scheduler{Store: b, Handle: handler(b), Now: clk.Now}
	for _, st := range []*redisstore.Store{a, b} {
		if _, err := st.Announce(ctx, "f", 2); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, s := range []*schedule.Scheduler{sa, sb, sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RunOnce(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, st := range []*redisstore.Store{a, b} {
		if _, err := st.Announce(ctx, "f", 2); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*schedule.Scheduler{sa, sb} {
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if jobs != 1 || len(got) != n {
		t.Fatalf("fan-out ran %d times over %d chats, want once over %d", jobs, len(got), n)
	}
	for chat, c := range got {
		if c != 1 {
			t.Errorf("chat %d handed the publication %d times", chat, c)
		}
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
