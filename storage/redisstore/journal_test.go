package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestJournalKeepAndDrop: the poller's journal adds and drops updates in
// one call, returns what is kept, and expires.
func TestJournalKeepAndDrop(t *testing.T) {
	s, rdb, prefix := newStore(t, redisstore.Options{})
	if err := s.Keep(ctx, map[int64][]byte{7: []byte(`{"update_id":7}`), 8: []byte(`{"update_id":8}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Keep(ctx, map[int64][]byte{9: []byte(`{"update_id":9}`)}, []int64{7}); err != nil {
		t.Fatal(err)
	}
	kept, err := s.Kept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || string(kept[8]) != `{"update_id":8}` || string(kept[9]) != `{"update_id":9}` {
		t.Fatalf("kept %v, want 8 and 9", kept)
	}
	if ttl := rdb.PTTL(ctx, prefix+"poll:journal").Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("journal TTL %s, want ≤ 24h", ttl)
	}
	if err := s.Keep(ctx, nil, []int64{8, 9}); err != nil {
		t.Fatal(err)
	}
	if kept, _ := s.Kept(ctx); len(kept) != 0 {
		t.Fatalf("kept %v after dropping all", kept)
	}
}
