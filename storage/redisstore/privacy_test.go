package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// dump returns every key under prefix with a rendering of its value (hash
// fields and values, set/zset members, strings).
func dump(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var v string
		switch rdb.Type(ctx, k).Val() {
		case "hash":
			for f, x := range rdb.HGetAll(ctx, k).Val() {
				v += f + "=" + x + ";"
			}
		case "zset":
			v = strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), ";")
		case "set":
			v = strings.Join(rdb.SMembers(ctx, k).Val(), ";")
		default:
			v = rdb.Get(ctx, k).Val()
		}
		out[k] = v
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoRawChatIDInAnyKeyOrValue(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{KeySecret: []byte("0123456789abcdef0123456789abcdef")})
	const chat = 987654321
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: time.Now()}
	if err := s.Save(ctx, chat, 55, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, chat, 55, 321); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, chat, 321); err != nil {
		t.Fatal(err)
	}
	d := dump(t, rdb, prefix)
	if len(d) < 4 {
		t.Fatalf("expected state, seen, record, sent and index keys, got %v", d)
	}
	for k, v := range d {
		if strings.Contains(k, "987654321") || strings.Contains(v, "987654321") {
			t.Errorf("raw chat id in %s = %s", k, v)
		}
	}
	// Another secret, other keys: the derivation is keyed.
	other := redisstore.New(rdb, redisstore.Options{Prefix: prefix, KeySecret: []byte("another secret, another key part!")})
	if other.ChatTag(chat) == s.ChatTag(chat) {
		t.Fatal("chat tag does not depend on the secret")
	}
}

func TestDeleteRemovesIndexMemberAndSentMessages(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: time.Now()}
	if err := s.Save(ctx, 31, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, 31, 900); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 1 {
		t.Fatalf("index has %d members, want 1", n)
	}
	if err := s.Delete(ctx, 31); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("index member survived Delete")
	}
	msgs, err := s.SentMessages(ctx, 31)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("sent messages after Delete: %v %v", msgs, err)
	}
	for k := range dump(t, rdb, prefix) {
		if !strings.HasSuffix(k, ":u") {
			t.Errorf("key left after Delete: %s", k)
		}
	}
}

func TestSentMessagesExpireAfter48h(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, _, _ := newStore(t, redisstore.Options{Now: clk.Now})
	if err := s.RecordSent(ctx, 7, 1); err != nil {
		t.Fatal(err)
	}
	clk.Add(47 * time.Hour)
	if err := s.RecordSent(ctx, 7, 2); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.SentMessages(ctx, 7)
	if len(msgs) != 2 || msgs[0].ID != 1 || msgs[1].ID != 2 {
		t.Fatalf("got %v, want 1 and 2", msgs)
	}
	clk.Add(2 * time.Hour)
	msgs, _ = s.SentMessages(ctx, 7)
	if len(msgs) != 1 || msgs[0].ID != 2 {
		t.Fatalf("got %v, want only 2 (1 is older than 48 h)", msgs)
	}
}

func TestSaveDoneUsesShortTTL(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: 720 * time.Hour, DoneTTL: time.Hour})
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: time.Now()}
	if err := s.Save(ctx, 8, 1, 0, 1, []byte("asking"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDone(ctx, 8, 2, 1, 2, []byte("done")); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, prefix+s.ChatTag(8)+":s").Val(); ttl > time.Hour || ttl <= 0 {
		t.Fatalf("done state TTL %s, want ≤ 1h", ttl)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(8)+":a").Val(); n != 0 {
		t.Fatal("abandonment record kept after completion")
	}
}

func TestEraseOwnerDeletesQueuedAndDeadEntries(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now, DeadTTL: 24 * time.Hour})
	for _, e := range []struct{ key, owner string }{{"a1", "alice"}, {"a2", "alice"}, {"b1", "bob"}} {
		if err := s.EnqueueFor(ctx, e.key, e.owner, []byte("payload of "+e.owner)); err != nil {
			t.Fatal(err)
		}
	}
	// a2 is rejected for good: a dead letter.
	o := s.Outbox(redisstore.OutboxOptions{Batch: 10})
	if _, err := o.Flush(ctx, func(_ context.Context, p []byte) error {
		return redisstore.Permanent(errors.New("no"))
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.DeadLetters(ctx); n != 3 {
		t.Fatalf("dead letters %d, want 3", n)
	}
	if err := s.EnqueueFor(ctx, "a3", "alice", []byte("payload of alice")); err != nil {
		t.Fatal(err)
	}
	n, err := s.EraseOwner(ctx, "alice")
	if err != nil || n != 3 {
		t.Fatalf("EraseOwner = %d, %v; want 3", n, err)
	}
	for k, v := range dump(t, rdb, prefix) {
		if strings.Contains(v, "alice") || strings.Contains(k, "alice") {
			t.Errorf("alice's data left in %s = %s", k, v)
		}
	}
	if n, _ := s.DeadLetters(ctx); n != 1 {
		t.Fatalf("bob's dead letter gone too: %d", n)
	}
	// Dead letters last DeadTTL: the next bury drops older ones.
	clk.Add(25 * time.Hour)
	if err := s.EnqueueFor(ctx, "c1", "carol", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Flush(ctx, func(_ context.Context, p []byte) error {
		return redisstore.Permanent(errors.New("no"))
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.DeadLetters(ctx); n != 1 {
		t.Fatalf("dead letters after DeadTTL: %d, want only carol's", n)
	}
	if ttl := rdb.PTTL(ctx, prefix+"{outbox}:dead").Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("dead-letter hash TTL %s", ttl)
	}
}

func TestIndexMemberGoesWithTheRecord(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	start := time.Now()
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", LastQuestion: "q", Started: start}
	if err := s.Save(ctx, 12, 1, 0, 1, []byte("a"), rec); err != nil {
		t.Fatal(err)
	}
	// A new interview replaces the record: one member, the new one.
	rec2 := *rec
	rec2.Started = start.Add(time.Minute)
	if err := s.Save(ctx, 12, 2, 1, 2, []byte("b"), &rec2); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 1 {
		t.Fatalf("%d index members after a restart, want 1", n)
	}
	// Completion: no record, no member.
	if err := s.SaveDone(ctx, 12, 3, 2, 3, []byte("done")); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"abandon:due").Val(); n != 0 {
		t.Fatalf("%d index members after completion, want 0", n)
	}
}
