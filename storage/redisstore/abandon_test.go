package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

func ptr[T any](v T) *T { return &v }

func TestAbandonedAfterExpiry(t *testing.T) {
	t.Parallel()
	// Real expiry: Redis expires the state key by its own clock.
	const ttl = 300 * time.Millisecond
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: ttl})
	started := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	rec := redisstore.AbandonRecord{
		Form: "immigrants", FormVersion: 3, MunicipalityID: 2, ServiceID: ptr(int64(7)),
		Language: "uk", LastQuestion: "consent", Started: started,
	}
	if err := s.Save(ctx, 11, 1, 0, 1, []byte("s1"), &rec); err != nil {
		t.Fatal(err)
	}
	rec.LastQuestion = "q_work"
	if err := s.Save(ctx, 11, 2, 1, 2, []byte("s2"), &rec); err != nil {
		t.Fatal(err)
	}

	// Alive: nothing due, even asked about a time past the index's score
	// (the index is re-scored from the state's real TTL).
	if due, err := s.DueAbandoned(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("alive interview reported abandoned: %v %v", due, err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 1 {
		t.Fatalf("alive interview dropped from the index (%d members)", n)
	}

	time.Sleep(ttl + 200*time.Millisecond)
	due, err := s.DueAbandoned(ctx, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 {
		t.Fatalf("due = %+v, want one", due)
	}
	a := due[0]
	if len(a.ID) != 32 || a.AbandonRecord.LastQuestion != "q_work" || a.Form != "immigrants" ||
		a.FormVersion != 3 || a.MunicipalityID != 2 || a.ServiceID == nil || *a.ServiceID != 7 ||
		a.Language != "uk" || !a.Started.Equal(started) {
		t.Fatalf("due[0] = %+v", a)
	}
	if a.At.IsZero() || a.At.After(time.Now()) {
		t.Fatalf("At = %s", a.At)
	}
	// Until acknowledged it is returned again (the writer may have failed).
	if again, _ := s.DueAbandoned(ctx, time.Now(), 10); len(again) != 1 || again[0].ID != a.ID {
		t.Fatalf("before Ack: %+v", again)
	}
	if err := s.Ack(ctx, a); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.DueAbandoned(ctx, time.Now(), 10); len(again) != 0 {
		t.Fatalf("after Ack: %+v", again)
	}
	if n := rdb.Exists(ctx, prefix+"{c:11}:a", prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("%d keys left after Ack", n)
	}
	if err := s.Ack(ctx, redisstore.Abandoned{}); err == nil {
		t.Fatal("Ack of a made-up Abandoned succeeded")
	}
}

func TestAbandonNotCounted(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: ttl})
	rec := func(q string) *redisstore.AbandonRecord {
		return &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, LastQuestion: q, Started: time.Now()}
	}
	// Completed: the final Save carries no record.
	if err := s.Save(ctx, 21, 1, 0, 1, []byte("x"), rec("q1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, 21, 2, 1, 2, []byte("done"), nil); err != nil {
		t.Fatal(err)
	}
	// Erased with /delete.
	if err := s.Save(ctx, 22, 1, 0, 1, []byte("x"), rec("q1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 22); err != nil {
		t.Fatal(err)
	}
	// Never reached consent: no record at all.
	if err := s.Save(ctx, 23, 1, 0, 1, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}

	time.Sleep(ttl + 200*time.Millisecond)
	due, err := s.DueAbandoned(ctx, time.Now(), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due = %+v, %v; want none", due, err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("index keeps %d stale members", n)
	}
}

func TestAbandonRecordIdentity(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	s, _, _ := newStore(t, redisstore.Options{StateTTL: ttl})
	first := time.Now().Add(-time.Minute)
	r1 := &redisstore.AbandonRecord{Form: "f", LastQuestion: "q1", Started: first}
	if err := s.Save(ctx, 31, 1, 0, 1, []byte("x"), r1); err != nil {
		t.Fatal(err)
	}
	// The respondent restarts: a new interview replaces the first, which
	// then is not counted; only the second is.
	r2 := &redisstore.AbandonRecord{Form: "f", LastQuestion: "q9", Started: first.Add(time.Second)}
	if err := s.Save(ctx, 31, 2, 1, 2, []byte("y"), r2); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, 31, 3, 2, 3, []byte("z"), r2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	due, err := s.DueAbandoned(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 || due[0].LastQuestion != "q9" {
		t.Fatalf("due = %+v, %v; want the second interview only", due, err)
	}
	id := due[0].ID

	// The same chat comes back after expiry and is abandoned again: that
	// is a new interview, under a new ID.
	if err := s.Ack(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	r3 := &redisstore.AbandonRecord{Form: "f", LastQuestion: "q2", Started: time.Now()}
	if err := s.Save(ctx, 31, 4, 0, 1, []byte("w"), r3); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	due, err = s.DueAbandoned(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 || due[0].ID == id || due[0].LastQuestion != "q2" {
		t.Fatalf("due = %+v, %v; want the third interview under a new ID", due, err)
	}
}

func TestAckSparesNewInterview(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	s, _, _ := newStore(t, redisstore.Options{StateTTL: ttl})
	if err := s.Save(ctx, 41, 1, 0, 1, []byte("x"), &redisstore.AbandonRecord{LastQuestion: "old", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	due, _ := s.DueAbandoned(ctx, time.Now(), 10)
	if len(due) != 1 {
		t.Fatalf("due = %+v", due)
	}
	// Between DueAbandoned and Ack the respondent begins again.
	if err := s.Save(ctx, 41, 2, 0, 1, []byte("y"), &redisstore.AbandonRecord{LastQuestion: "new", Started: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	due, _ = s.DueAbandoned(ctx, time.Now(), 10)
	if len(due) != 1 || due[0].LastQuestion != "new" {
		t.Fatalf("the new interview was lost by the old one's Ack: %+v", due)
	}
}
