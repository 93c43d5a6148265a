package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// zadds counts the ZADD commands a client sends, alone or pipelined.
type zadds struct{ n atomic.Int64 }

func (h *zadds) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *zadds) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "zadd" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *zadds) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "zadd" {
				h.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// TestReminderIndexedOncePerInterview: turns that push a pending reminder
// back move its due time in its record only; the index member keeps the
// due time it was armed at (one ZADD per interview, not per turn), and
// the claim at that time re-scores it instead of sending it early.
func TestReminderIndexedOncePerInterview(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	h := &zadds{}
	rdb.AddHook(h)
	first := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	due := first
	for i := range 10 {
		due = first.Add(time.Duration(i) * time.Minute)
		turn(t, s, 21, int64(1+i), 800+i, due)
	}
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("%d ZADDs for 10 turns, want 1", n)
	}
	if d := rdb.HGet(ctx, prefix+s.ChatTag(21)+":r", "d").Val(); d != formatMS(due) {
		t.Fatalf("reminder due %s, want the last turn's %s", d, formatMS(due))
	}
	id := s.ChatTag(21)[3:35]
	if sc := rdb.ZScore(ctx, prefix+"remind:due", id).Val(); int64(sc) != first.UnixMilli() {
		t.Fatalf("index score %v, want the first due time %d", sc, first.UnixMilli())
	}
	if jobs, err := s.ClaimReminders(ctx, first, 10, time.Minute); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed at the first due time: %v %v", jobs, err)
	}
	if sc := rdb.ZScore(ctx, prefix+"remind:due", id).Val(); int64(sc) != due.UnixMilli() {
		t.Fatalf("index score %v after the early claim, want re-scored to %d", sc, due.UnixMilli())
	}
	jobs, err := s.ClaimReminders(ctx, due, 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Chat != 21 || !jobs[0].Due.Equal(due) {
		t.Fatalf("claim at the due time: %+v %v", jobs, err)
	}
	if err := s.DoneReminder(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}

	// A due time moved earlier (say the reminder delay was shortened) is
	// indexed at once.
	turn(t, s, 23, 1, 900, first)
	turn(t, s, 23, 2, 901, first.Add(-time.Hour))
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if sc := rdb.ZScore(ctx, prefix+"remind:due", s.ChatTag(23)[3:35]).Val(); int64(sc) != first.Add(-time.Hour).UnixMilli() {
		t.Fatalf("index score %v, want the earlier due time", sc)
	}
}

// TestReminderIndexAcrossReplicas: a replica that indexed a reminder does
// not know that another cancelled it; when it arms the next interview's
// reminder the script tells it, and the member is added all the same.
func TestReminderIndexAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix, TailDelay: time.Minute})
	due := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	turn(t, a, 22, 1, 900, due)
	if err := a.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	id := a.ChatTag(22)[3:35]
	if err := b.CancelReminder(ctx, 22, false); err != nil { // completed on b
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"remind:due").Val(); n != 0 {
		t.Fatalf("%d index members after the cancel", n)
	}
	// The next interview's turns, on a, by the next save and by a flush.
	later := due.Add(time.Hour)
	turn(t, a, 22, 2, 901, later)
	turn(t, a, 22, 3, 901, later)
	if sc, err := rdb.ZScore(ctx, prefix+"remind:due", id).Result(); err != nil || int64(sc) != later.UnixMilli() {
		t.Fatalf("index after re-arming on the other replica: %v %v", sc, err)
	}
	if err := b.CancelReminder(ctx, 22, false); err != nil {
		t.Fatal(err)
	}
	turn(t, a, 22, 4, 902, later)
	if err := a.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if sc, err := rdb.ZScore(ctx, prefix+"remind:due", id).Result(); err != nil || int64(sc) != later.UnixMilli() {
		t.Fatalf("index after a flush re-armed it: %v %v", sc, err)
	}
}

// TestExpiryIndexedOncePerInterview: saves that push an interview's
// expiry back write its due time in the record only; the index member is
// added once (and again when another replica dropped it).
func TestExpiryIndexedOncePerInterview(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	h := &zadds{}
	rdb.AddHook(h)
	started := clk.Now()
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: started}
	first := clk.Now().Add(7 * 24 * time.Hour).Truncate(time.Millisecond)
	v := uint64(0)
	for i := range 10 {
		rec.Expires = first.Add(time.Duration(i) * time.Minute)
		if err := a.Save(ctx, 31, int64(1+i), v, v+1, []byte("state"), rec); err != nil {
			t.Fatal(err)
		}
		v++
	}
	// One for the abandonment index, one for the expiry's.
	if n := h.n.Load(); n != 2 {
		t.Errorf("%d ZADDs for 10 saves, want 2", n)
	}
	id := a.ChatTag(31)[3:35]
	if sc := rdb.ZScore(ctx, prefix+"expire:due", id).Val(); int64(sc) != first.UnixMilli() {
		t.Fatalf("index score %v, want the first due time", sc)
	}
	if jobs, err := a.ClaimJobs(ctx, first, 10, time.Minute); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed at the first due time: %v %v", jobs, err)
	}
	// Another replica saves the interview without a job (the claim then
	// drops the member), and this one arms it again.
	rec.Expires = time.Time{}
	if err := b.Save(ctx, 31, 20, v, v+1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	v++
	if jobs, err := a.ClaimJobs(ctx, first.Add(time.Hour), 10, time.Minute); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed without a job: %v %v", jobs, err)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("%d members left", n)
	}
	rec.Expires = first.Add(time.Hour)
	if err := a.Save(ctx, 31, 21, v, v+1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if sc, err := rdb.ZScore(ctx, prefix+"expire:due", id).Result(); err != nil || int64(sc) != rec.Expires.UnixMilli() {
		t.Fatalf("index after re-arming: %v %v", sc, err)
	}
}

// TestSaveSetsTTLWhenItMoves: a save sets the state's and the record's
// TTL when it is new, shorter, or moves by more than the slack (an hour at
// most), not on every save; the expiry set is kept in field e.
func TestSaveSetsTTLWhenItMoves(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: clk.Now()}
	sk, ak := prefix+s.ChatTag(32)+":s", prefix+s.ChatTag(32)+":a"
	e := func(k string) int64 {
		n, _ := rdb.HGet(ctx, k, "e").Int64()
		return n
	}
	if err := s.Save(ctx, 32, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	se, ae := e(sk), e(ak)
	if se != clk.Now().Add(redisstore.DefaultStateTTL).UnixMilli() || ae == 0 {
		t.Fatalf("state e %d, record e %d", se, ae)
	}
	if ttl := rdb.PTTL(ctx, sk).Val(); ttl < redisstore.DefaultStateTTL-time.Minute {
		t.Fatalf("state TTL %v", ttl)
	}
	clk.Add(30 * time.Minute)
	if err := s.Save(ctx, 32, 2, 1, 2, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if e(sk) != se || e(ak) != ae {
		t.Fatalf("TTLs set again 30 min later: state e %d→%d, record e %d→%d", se, e(sk), ae, e(ak))
	}
	clk.Add(31 * time.Minute)
	if err := s.Save(ctx, 32, 3, 2, 3, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if e(sk) != clk.Now().Add(redisstore.DefaultStateTTL).UnixMilli() || e(ak) <= ae {
		t.Fatalf("TTLs not set again 61 min later: state e %d, record e %d→%d", e(sk), ae, e(ak))
	}
	// Done: the shorter TTL is set at once.
	if err := s.SaveDone(ctx, 32, 4, 3, 4, []byte("done")); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, sk).Val(); ttl > redisstore.DefaultDoneTTL {
		t.Fatalf("done state TTL %v, want at most %v", ttl, redisstore.DefaultDoneTTL)
	}
	if e(sk) != clk.Now().Add(redisstore.DefaultDoneTTL).UnixMilli() {
		t.Fatalf("done state e %d", e(sk))
	}
	// A state that is new again (erased meanwhile) always gets a TTL.
	if err := s.Delete(ctx, 32); err != nil {
		t.Fatal(err)
	}
	rdb.HSet(ctx, sk, "m", "1") // a stray field, no TTL
	if err := s.Save(ctx, 32, 5, 0, 1, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, sk).Val(); ttl <= 0 {
		t.Fatalf("new state TTL %v", ttl)
	}
}

// TestReminderWrittenOncePerSlack: turns that push a reminder back by less
// than the slack (1/1440 of its delay, at most a minute) since this
// replica last wrote it only check it (its due time stays); a push past
// the slack, another language, or a reminder found cancelled is written.
func TestReminderWrittenOncePerSlack(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	key := prefix + s.ChatTag(24) + ":r"
	due := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	d := func() string { return rdb.HGet(ctx, key, "d").Val() }
	flush := func() {
		t.Helper()
		if err := s.FlushTails(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	turn(t, s, 24, 1, 900, due)
	flush()
	want := strconv.FormatInt(due.UnixMilli(), 10)
	if got := d(); got != want {
		t.Fatalf("first arm: d = %s, want %s", got, want)
	}
	turn(t, s, 24, 2, 901, due.Add(10*time.Second))
	flush()
	if got := d(); got != want {
		t.Fatalf("pushed back 10 s: d = %s, want %s (checked only)", got, want)
	}
	later := due.Add(2 * time.Minute)
	turn(t, s, 24, 3, 902, later)
	flush()
	if got, want := d(), strconv.FormatInt(later.UnixMilli(), 10); got != want {
		t.Fatalf("pushed back past the slack: d = %s, want %s", got, want)
	}
	if err := rdb.Del(ctx, key).Err(); err != nil { // cancelled elsewhere
		t.Fatal(err)
	}
	turn(t, s, 24, 4, 903, later.Add(time.Second))
	flush()
	if got, want := d(), strconv.FormatInt(later.Add(time.Second).UnixMilli(), 10); got != want || rdb.HGet(ctx, key, "s").Val() != "p" {
		t.Fatalf("after a cancel: d = %s, want %s, pending", got, want)
	}
}
