package redisstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// The expiry job is armed by Save (in the record, same script), claimed
// once when due, leased, settled by DoneJob; a later Save pushes it back,
// a Save without a record (the interview ended) drops it.
func TestExpiryJobLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now, StateTTL: time.Hour})
	started := clk.Now().Add(-time.Minute)
	rec := func(expires time.Time) *redisstore.AbandonRecord {
		return &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q",
			Started: started, Expires: expires}
	}
	due := clk.Now().Add(30 * 24 * time.Hour)
	if err := s.Save(ctx, 41, 1, 0, 1, []byte("state"), rec(due)); err != nil {
		t.Fatal(err)
	}
	// The state outlives the job's due time by ExpireGrace, whatever the
	// state TTL says.
	if ttl := rdb.PTTL(ctx, prefix+s.ChatTag(41)+":s").Val(); ttl < 30*24*time.Hour+redisstore.ExpireGrace-time.Minute {
		t.Fatalf("state TTL %v, want past the job's due time + grace", ttl)
	}
	if jobs, err := s.ClaimJobs(ctx, due.Add(-time.Second), 10, time.Minute); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed before due: %v %v", jobs, err)
	}
	// A later turn pushes it back (version 2).
	later := due.Add(time.Hour)
	if err := s.Save(ctx, 41, 2, 1, 2, []byte("state2"), rec(later)); err != nil {
		t.Fatal(err)
	}
	if jobs, err := s.ClaimJobs(ctx, due, 10, time.Minute); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed at the old due time: %v %v", jobs, err)
	}
	jobs, err := s.ClaimJobs(ctx, later, 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if j.Kind != redisstore.JobExpire || j.Chat != 41 || j.Version != 2 || !j.Due.Equal(time.UnixMilli(later.UnixMilli())) {
		t.Fatalf("job %+v", j)
	}
	// Leased: not claimed again (another replica) while the lease lasts.
	if again, _ := s.ClaimJobs(ctx, later, 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed twice: %v", again)
	}
	if err := s.DoneJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("%d index entries after DoneJob", n)
	}
	rdb.Del(ctx, prefix+s.ChatTag(41)+":xl")
	if again, _ := s.ClaimJobs(ctx, later.Add(time.Hour), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed after done: %v", again)
	}
	// The chat id left the record with the job; the record stays (the
	// sweep's).
	if r := rdb.HGetAll(ctx, prefix+s.ChatTag(41)+":a").Val(); r["xc"] != "" || r["r"] == "" {
		t.Fatalf("record after the job: %v", r)
	}

	// Re-armed, then the interview ends (Save without a record): no job.
	if err := s.Save(ctx, 41, 3, 2, 3, []byte("state3"), rec(later)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, 41, 4, 3, 4, []byte("done"), nil); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := s.ClaimJobs(ctx, later.Add(time.Hour), 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("ended interview's job claimed: %v", jobs)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("the stale index entry was not dropped by the claim")
	}
}

// A lease that ran out mid-handler: another claimer gets the job, and the
// first one's DoneJob says the lease was lost (the core's key dedups the
// second application). Erasure drops the job.
func TestExpiryJobLeaseLostAndErasure(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	due := clk.Now().Add(time.Hour)
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q",
		Started: clk.Now(), Expires: due}
	if err := s.Save(ctx, 42, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	first, err := s.ClaimJobs(ctx, due, 10, time.Minute)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v %v", first, err)
	}
	rdb.Del(ctx, prefix+s.ChatTag(42)+":xl") // the lease runs out (Redis's clock)
	second, err := s.ClaimJobs(ctx, due, 10, time.Minute)
	if err != nil || len(second) != 1 || second[0].Version != first[0].Version {
		t.Fatalf("reclaim: %v %v", second, err)
	}
	if err := s.DoneJob(ctx, first[0]); !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("DoneJob with a lost lease: %v", err)
	}
	if err := s.DoneJob(ctx, second[0]); err != nil {
		t.Fatal(err)
	}

	// Erasure: the record, the job, its lease and index entry go.
	if err := s.Save(ctx, 43, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 43); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := s.ClaimJobs(ctx, due, 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("erased interview's job claimed: %v", jobs)
	}
	for k := range dump(t, rdb, prefix) {
		if strings.Contains(k, s.ChatTag(43)) && !strings.HasSuffix(k, ":u") {
			t.Errorf("key left after Delete: %s", k)
		}
	}
}

// AbandonID is the record's id for that interview only.
func TestAbandonID(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	started := time.Now().Add(-time.Hour)
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: started}
	if err := s.Save(ctx, 44, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	id, err := s.AbandonID(ctx, 44, started)
	if err != nil || id == "" || id != rdb.HGet(ctx, prefix+s.ChatTag(44)+":a", "id").Val() {
		t.Fatalf("AbandonID = %q, %v", id, err)
	}
	if other, _ := s.AbandonID(ctx, 44, started.Add(time.Second)); other != "" {
		t.Fatalf("id of another interview: %q", other)
	}
	if none, _ := s.AbandonID(ctx, 45, started); none != "" {
		t.Fatalf("id without a record: %q", none)
	}
}

// A reminder whose lease ran out mid-handler (replica A) and that another
// replica (B) claimed: A's DoneReminder says the lease was lost and leaves
// the job to B — its index entry included. If B dies before settling it,
// the reminder is claimed again once B's lease runs out, not lost.
func TestReminderDoneWithLostLeaseKeepsTheJob(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	due := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.ArmReminder(ctx, 46, "it", due, 0); err != nil {
		t.Fatal(err)
	}
	lease := prefix + s.ChatTag(46) + ":rl"
	a, err := s.ClaimReminders(ctx, due, 10, time.Minute)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim A: %v %v", a, err)
	}
	rdb.Del(ctx, lease) // A's lease runs out (Redis's clock)
	b, err := s.ClaimReminders(ctx, due, 10, time.Minute)
	if err != nil || len(b) != 1 {
		t.Fatalf("claim B: %v %v", b, err)
	}
	if err := s.DoneReminder(ctx, a[0]); !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("DoneReminder with a lost lease: %v", err)
	}
	if n := rdb.ZCard(ctx, prefix+"remind:due").Val(); n != 1 {
		t.Fatalf("%d index entries after a DoneReminder that lost its lease, want B's 1", n)
	}
	rdb.Del(ctx, lease) // B dies without settling; its lease runs out
	c, err := s.ClaimReminders(ctx, due, 10, time.Minute)
	if err != nil || len(c) != 1 || c[0].Chat != 46 || !c[0].Due.Equal(due) {
		t.Fatalf("claim after B died: %+v %v", c, err)
	}
	if err := s.DoneJob(ctx, c[0]); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"remind:due").Val(); n != 0 {
		t.Fatalf("%d index entries after the holder's DoneReminder", n)
	}
	if sent, err := s.ReminderSent(ctx, 46); err != nil || !sent {
		t.Fatalf("ReminderSent = %v, %v", sent, err)
	}
	if again, _ := s.ClaimReminders(ctx, due.Add(time.Hour), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed after done: %+v", again)
	}
}

// The same for an expiry: DoneJob with a lost lease leaves the job, index
// entry included, to the replica that holds it.
func TestExpiryDoneWithLostLeaseKeepsTheJob(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	due := clk.Now().Add(time.Hour)
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q",
		Started: clk.Now(), Expires: due}
	if err := s.Save(ctx, 47, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	lease := prefix + s.ChatTag(47) + ":xl"
	a, err := s.ClaimJobs(ctx, due, 10, time.Minute)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim A: %v %v", a, err)
	}
	rdb.Del(ctx, lease)
	if b, err := s.ClaimJobs(ctx, due, 10, time.Minute); err != nil || len(b) != 1 {
		t.Fatalf("claim B: %v %v", b, err)
	}
	if err := s.DoneJob(ctx, a[0]); !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("DoneJob with a lost lease: %v", err)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 1 {
		t.Fatalf("%d index entries after a DoneJob that lost its lease, want B's 1", n)
	}
	rdb.Del(ctx, lease) // B dies without settling it
	c, err := s.ClaimJobs(ctx, due, 10, time.Minute)
	if err != nil || len(c) != 1 || c[0].Chat != 47 || c[0].Version != a[0].Version {
		t.Fatalf("claim after B died: %+v %v", c, err)
	}
	if err := s.DoneJob(ctx, c[0]); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("%d index entries after the holder's DoneJob", n)
	}
}
