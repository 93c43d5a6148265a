package redisstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestTurnAllocations: a respondent's turn as needsbot runs it (the read
// counting the update, Inbound, a Save with its abandonment record and
// expiry job, the deferred MarkSent, ArmReminder and RecordSent) through
// the batched client allocates at most 90 objects on the bot's side,
// go-redis's included. The scripts' and reads' arguments are built in one
// argv each (client.go); boxed one by one, with their slices, the same
// turn took ~122.
func TestTurnAllocations(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are not exact under the race detector")
	}
	s, _, _ := newStore(t, redisstore.Options{TailDelay: time.Minute})
	rec := *benchRecord
	v, i := uint64(0), 0
	turn := func() {
		chat := int64(5 + i/40)
		if i%40 == 0 {
			v = 0
		}
		update := int64(1_000_000 + i)
		i++
		now := time.Now()
		if _, ver, _, _, err := s.LoadCounting(ctx, chat, update, 1_000_000, time.Second); err != nil || ver != v {
			t.Fatal(ver, err)
		}
		if ok, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		rec.Expires = now.Add(7 * 24 * time.Hour)
		if err := s.Save(ctx, chat, update, v, v+1, blob600, &rec); err != nil {
			t.Fatal(err)
		}
		v++
		if err := s.MarkSent(ctx, chat, update, 100+i); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordSent(ctx, chat, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	for range 40 {
		turn() // scripts cached, connections made, a chat's first turns
	}
	n := testing.AllocsPerRun(200, turn)
	t.Logf("%.1f allocations per turn", n)
	if n > 90 {
		t.Errorf("a turn allocates %.1f objects, want at most 90", n)
	}
}

// TestScriptsAfterFlushPlainAndBatched: the store's own script calls (the
// save's argv, alone and in a pipeline with its index updates) fall back
// to EVAL when Redis does not know the script, through the plain client
// and the batched one, and what they write reads back.
//
// Not parallel: SCRIPT FLUSH empties the cache of every test on this Redis.
func TestScriptsAfterFlushPlainAndBatched(t *testing.T) {
	for _, batched := range []bool{false, true} {
		rdb, prefix := storagetest.Redis(t)
		var s *redisstore.Store
		if batched {
			bc, err := redisstore.Batched(rdb)
			if err != nil {
				t.Fatal(err)
			}
			s = redisstore.New(bc, redisstore.Options{Prefix: prefix, TailDelay: time.Minute})
		} else {
			s = redisstore.New(rdb, redisstore.Options{Prefix: prefix, TailDelay: time.Minute})
		}
		h := &scriptCalls{}
		rdb.AddHook(h)
		const chat = 43
		rec := *benchRecord
		for i, pipelined := range []bool{false, true, false, true} {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			update := int64(700 + i)
			_, ver, seen, _, err := s.LoadCounting(ctx, chat, update, 100, time.Minute)
			if err != nil || ver != uint64(i) || seen != redisstore.SeenNone {
				t.Fatalf("batched %v, turn %d: load: version %d, %v, %v", batched, i, ver, seen, err)
			}
			blob := []byte{'s', byte('0' + i)}
			if pipelined {
				// A new interview's record: its abandonment index rides
				// in a pipeline with the script.
				rec.Started = time.Now().Add(time.Duration(i) * time.Second)
				err = s.Save(ctx, chat, update, uint64(i), uint64(i+1), blob, &rec)
			} else {
				err = s.Save(ctx, chat, update, uint64(i), uint64(i+1), blob, nil)
			}
			if err != nil {
				t.Fatalf("batched %v, turn %d: save: %v", batched, i, err)
			}
			if err := s.MarkSent(ctx, chat, update, 10+i); err != nil {
				t.Fatal(err)
			}
			got, ver, seen, msg, err := s.Load(ctx, chat, update)
			if err != nil || string(got) != string(blob) || ver != uint64(i+1) || seen != redisstore.SeenSent || msg != 10+i {
				t.Fatalf("batched %v, turn %d: read back %q version %d, %v, message %d, %v", batched, i, got, ver, seen, msg, err)
			}
		}
		h.mu.Lock()
		if !slices.Contains(h.names, "eval") || h.noScript == 0 {
			t.Errorf("batched %v: script commands %v, %d NOSCRIPT answers: the flush was not met", batched, h.names, h.noScript)
		}
		h.mu.Unlock()
	}
}
