package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

func ptr[T any](v T) *T { return &v }

// abandonTTL is the tests' state TTL: long enough that Redis never expires
// a state during a test, so expiry happens only when a test says so.
const abandonTTL = 30 * time.Minute

// expire does what Redis does when a chat's state outlives its TTL — the
// state key disappears — and moves the store's clock past that TTL, so
// that no test waits for a real TTL. That Save gives the state its TTL
// is checked in TestAbandonedAfterExpiry.
func expire(t *testing.T, s *redisstore.Store, rdb *redis.Client, prefix string, clk *clock, chats ...int64) {
	t.Helper()
	for _, chat := range chats {
		if n := rdb.Del(ctx, prefix+s.ChatTag(chat)+":s").Val(); n != 1 {
			t.Fatalf("chat %d has no state to expire", chat)
		}
	}
	clk.Add(abandonTTL + time.Second)
}

func TestAbandonedAfterExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: abandonTTL, Now: clk.Now})
	started := clk.Now().Add(-time.Hour).Truncate(time.Millisecond)
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
	if due, err := s.DueAbandoned(ctx, clk.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("alive interview reported abandoned: %v %v", due, err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 1 {
		t.Fatalf("alive interview dropped from the index (%d members)", n)
	}
	// Redis itself will expire the state: Save gave it the state TTL.
	if ttl := rdb.PTTL(ctx, prefix+s.ChatTag(11)+":s").Val(); ttl <= abandonTTL-time.Minute || ttl > abandonTTL {
		t.Fatalf("state TTL %v, want about %v", ttl, abandonTTL)
	}

	expire(t, s, rdb, prefix, clk, 11)
	due, err := s.DueAbandoned(ctx, clk.Now(), 10)
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
	if a.At.IsZero() || a.At.After(clk.Now()) {
		t.Fatalf("At = %s", a.At)
	}
	// Until acknowledged it is returned again (the writer may have failed).
	if again, _ := s.DueAbandoned(ctx, clk.Now(), 10); len(again) != 1 || again[0].ID != a.ID {
		t.Fatalf("before Ack: %+v", again)
	}
	if err := s.Ack(ctx, a); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.DueAbandoned(ctx, clk.Now(), 10); len(again) != 0 {
		t.Fatalf("after Ack: %+v", again)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(11)+":a", prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("%d keys left after Ack", n)
	}
	if err := s.Ack(ctx, redisstore.Abandoned{}); err == nil {
		t.Fatal("Ack of a made-up Abandoned succeeded")
	}
}

func TestAbandonNotCounted(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: abandonTTL, Now: clk.Now})
	rec := func(q string) *redisstore.AbandonRecord {
		return &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, LastQuestion: q, Started: clk.Now()}
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

	// Chat 22's state is gone already; the others expire now. (A completed
	// interview keeps its state for DoneTTL only; expired here as well.)
	expire(t, s, rdb, prefix, clk, 21, 23)
	due, err := s.DueAbandoned(ctx, clk.Now(), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due = %+v, %v; want none", due, err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("index keeps %d stale members", n)
	}
}

func TestAbandonRecordIdentity(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: abandonTTL, Now: clk.Now})
	first := clk.Now().Add(-time.Minute)
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
	expire(t, s, rdb, prefix, clk, 31)
	due, err := s.DueAbandoned(ctx, clk.Now(), 10)
	if err != nil || len(due) != 1 || due[0].LastQuestion != "q9" {
		t.Fatalf("due = %+v, %v; want the second interview only", due, err)
	}
	id := due[0].ID

	// The same chat comes back after expiry and is abandoned again: that
	// is a new interview, under a new ID.
	if err := s.Ack(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	r3 := &redisstore.AbandonRecord{Form: "f", LastQuestion: "q2", Started: clk.Now()}
	if err := s.Save(ctx, 31, 4, 0, 1, []byte("w"), r3); err != nil {
		t.Fatal(err)
	}
	expire(t, s, rdb, prefix, clk, 31)
	due, err = s.DueAbandoned(ctx, clk.Now(), 10)
	if err != nil || len(due) != 1 || due[0].ID == id || due[0].LastQuestion != "q2" {
		t.Fatalf("due = %+v, %v; want the third interview under a new ID", due, err)
	}
}

func TestAckSparesNewInterview(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: abandonTTL, Now: clk.Now})
	if err := s.Save(ctx, 41, 1, 0, 1, []byte("x"), &redisstore.AbandonRecord{LastQuestion: "old", Started: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	expire(t, s, rdb, prefix, clk, 41)
	due, _ := s.DueAbandoned(ctx, clk.Now(), 10)
	if len(due) != 1 {
		t.Fatalf("due = %+v", due)
	}
	// Between DueAbandoned and Ack the respondent begins again.
	if err := s.Save(ctx, 41, 2, 0, 1, []byte("y"), &redisstore.AbandonRecord{LastQuestion: "new", Started: clk.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	expire(t, s, rdb, prefix, clk, 41)
	due, _ = s.DueAbandoned(ctx, clk.Now(), 10)
	if len(due) != 1 || due[0].LastQuestion != "new" {
		t.Fatalf("the new interview was lost by the old one's Ack: %+v", due)
	}
}
