package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestLoadCountingAllocations: the turn's read of a chat with a state
// (LoadCounting's plain read: HMGET and GET, the update counted in Go)
// allocates at most 26 objects, go-redis's included. The inbound limit's
// state read with it is returned apart from the chat's reply, and the
// message id as go-redis read it: both were boxed again into the reply's
// []any (30 before). Session 12: the state's HMGET is read as strings and
// the chat returned as a struct (chatReply), no string made an any (28
// before, with three fields fewer read).
func TestLoadCountingAllocations(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are not exact under the race detector")
	}
	s, _, _ := newStore(t, redisstore.Options{})
	if err := s.Save(ctx, 1, 1, 0, 1, blob600, benchRecord); err != nil {
		t.Fatal(err)
	}
	update := int64(10)
	read := func() {
		update++
		if _, v, _, _, err := s.LoadCounting(ctx, 1, update, 1_000_000, time.Second); err != nil || v != 1 {
			t.Fatal(v, err)
		}
	}
	for range 10 {
		read()
	}
	n := testing.AllocsPerRun(200, read)
	t.Logf("%.1f allocations per read", n)
	if n > 26 {
		t.Errorf("a turn's read allocates %.1f objects, want at most 26", n)
	}
}
