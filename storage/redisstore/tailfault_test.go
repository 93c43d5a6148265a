package redisstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// proxiedTails returns a store deferring tails (TailDelay a minute) that
// reaches Redis through a Proxy, a store without deferral that does not
// (what another replica, or Redis itself, sees), and the raw client.
func proxiedTails(t *testing.T) (viaProxy, direct *redisstore.Store, rdb *redis.Client, prefix string, p *storagetest.Proxy) {
	t.Helper()
	c, rdb, prefix, p := proxiedClient(t)
	viaProxy = redisstore.New(c, redisstore.Options{Prefix: prefix, TailDelay: time.Minute})
	return viaProxy, redisstore.New(rdb, redisstore.Options{Prefix: prefix}), rdb, prefix, p
}

// tailWritten checks that what the turn of update (message msg) deferred
// is in Redis: the message id for /delete, the live card's id on the state,
// the reminder armed, the update's replies marked sent.
func tailWritten(t *testing.T, direct *redisstore.Store, rdb *redis.Client, prefix string, chat, update int64, msg int) {
	t.Helper()
	msgs, err := direct.SentMessages(ctx, chat)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(msgs, func(m redisstore.SentMessage) bool { return m.ID == msg }) {
		t.Errorf("message %d not recorded for /delete: %v", msg, msgs)
	}
	if got := rdb.HGet(ctx, prefix+direct.ChatTag(chat)+":s", "m").Val(); got != itoa(msg) {
		t.Errorf("live card on the state: %q, want %d", got, msg)
	}
	if got := rdb.HGet(ctx, prefix+direct.ChatTag(chat)+":r", "s").Val(); got != "p" {
		t.Errorf("reminder state %q, want pending", got)
	}
	if _, _, seen, _, err := direct.Load(ctx, chat, update); err != nil || seen != redisstore.SeenSent {
		t.Errorf("update %d: %s, %v; want its replies marked sent", update, seen, err)
	}
}

// TestTailKeptWhenItsWriteFails: a deferred tail whose write fails — the
// flush (connection refused, or the reply lost after the script ran) or
// the save it rides with — is kept and written once Redis is back: /delete
// then finds every message id, the live card is known, the reminder is
// armed, a redelivery is dropped. (Before session 11 the tail was taken
// and lost.)
func TestTailKeptWhenItsWriteFails(t *testing.T) {
	for _, fault := range []string{"cut", "blackhole"} {
		t.Run("flush/"+fault, func(t *testing.T) {
			t.Parallel()
			s, direct, rdb, prefix, p := proxiedTails(t)
			turn(t, s, 31, 1, 800, time.Now().Add(time.Hour))
			if fault == "cut" {
				p.Cut()
			} else {
				p.Blackhole()
			}
			if err := s.FlushTails(ctx, time.Time{}); err == nil {
				t.Fatal("FlushTails succeeded without Redis")
			}
			p.Restore()
			if n := s.PendingTails(); n != 1 {
				t.Fatalf("%d tails pending after a failed flush, want it kept", n)
			}
			if err := s.FlushTails(ctx, time.Time{}); err != nil {
				t.Fatal(err)
			}
			tailWritten(t, direct, rdb, prefix, 31, 1, 800)
		})
	}
	t.Run("save", func(t *testing.T) {
		t.Parallel()
		s, direct, rdb, prefix, p := proxiedTails(t)
		turn(t, s, 32, 1, 700, time.Now().Add(time.Hour))
		_, v, _, _, err := s.Load(ctx, 32, 2)
		if err != nil {
			t.Fatal(err)
		}
		p.Cut()
		if err := s.Save(ctx, 32, 2, v, v+1, []byte("next"), nil); err == nil {
			t.Fatal("Save succeeded without Redis")
		}
		p.Restore()
		if n := s.PendingTails(); n != 1 {
			t.Fatalf("%d tails pending after a failed save, want it kept", n)
		}
		// The update comes again: loaded and saved, its tail with it.
		_, v, _, _, err = s.Load(ctx, 32, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, 32, 2, v, v+1, []byte("next"), nil); err != nil {
			t.Fatal(err)
		}
		tailWritten(t, direct, rdb, prefix, 32, 1, 700)
	})
	// Erased, or the reminder cancelled, while the failing write was in
	// flight: the erased chat's tail is not kept (nothing is written after
	// /delete), the cancelled reminder is not armed again.
	for _, drop := range []string{"delete", "cancel"} {
		t.Run("dropped during the write/"+drop, func(t *testing.T) {
			t.Parallel()
			s, _, rdb, prefix, p := proxiedTails(t)
			const chat = 33
			turn(t, s, chat, 1, 900, time.Now().Add(time.Hour))
			p.Blackhole()
			done := make(chan error, 1)
			go func() { done <- s.FlushTails(ctx, time.Time{}) }()
			for s.PendingTails() != 0 {
				time.Sleep(time.Millisecond) // sync: until the flush took the tail
			}
			if drop == "delete" {
				_ = s.Delete(ctx, chat) // its Redis calls fail: only its drop matters here
			} else {
				_ = s.CancelReminder(ctx, chat, false)
			}
			if err := <-done; err == nil {
				t.Fatal("FlushTails succeeded without replies")
			}
			p.Restore()
			// What the blackholed calls did in Redis is not the point:
			// start from nothing, and see what the store still writes.
			tag := prefix + s.ChatTag(chat)
			rdb.Del(ctx, tag+":s", tag+":m", tag+":r")
			if drop == "delete" {
				if n := s.PendingTails(); n != 0 {
					t.Fatalf("the tail of a chat erased meanwhile was kept (%d pending)", n)
				}
				return
			}
			if n := s.PendingTails(); n != 1 {
				t.Fatalf("%d tails pending, want the rest of the tail kept", n)
			}
			if err := s.FlushTails(ctx, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if rdb.Exists(ctx, tag+":r").Val() != 0 {
				t.Fatal("a reminder cancelled meanwhile was armed again")
			}
			if ids := rdb.ZRange(ctx, tag+":m", 0, -1).Val(); !slices.Equal(ids, []string{"900"}) {
				t.Fatalf("message ids %v, want [900]", ids)
			}
		})
	}
}

// Without TailDelay (several webhook replicas without chat affinity) the
// message ids are written by RecordSent's own round trip: when it fails,
// they are kept, listed for /delete meanwhile, and written with the chat's
// next RecordSent. Before session 11 they were lost, and /delete left
// those messages in the chat.
func TestSentIDsKeptWhenRecordSentFails(t *testing.T) {
	for _, r := range faultRigs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			s, direct, p := r.rig(t)
			const chat = 34
			if err := s.RecordSent(ctx, chat, 10); err != nil {
				t.Fatal(err)
			}
			p.Cut()
			if err := s.RecordSent(ctx, chat, 11, 12); err == nil {
				t.Fatal("RecordSent succeeded without Redis")
			}
			p.Restore()
			ids := func(st *redisstore.Store) []int {
				t.Helper()
				msgs, err := st.SentMessages(ctx, chat)
				if err != nil {
					t.Fatal(err)
				}
				var out []int
				for _, m := range msgs {
					out = append(out, m.ID)
				}
				slices.Sort(out)
				return out
			}
			if got := ids(s); !slices.Equal(got, []int{10, 11, 12}) {
				t.Fatalf("/delete would find %v, want [10 11 12]", got)
			}
			if err := s.RecordSent(ctx, chat, 13); err != nil {
				t.Fatal(err)
			}
			if got := ids(direct); !slices.Equal(got, []int{10, 11, 12, 13}) {
				t.Fatalf("in Redis after the next record: %v, want [10 11 12 13]", got)
			}
			if n := s.PendingTails(); n != 0 {
				t.Fatalf("%d chats still hold ids once written", n)
			}
		})
	}
}

// TestKeptWithoutTailDelay: without TailDelay (several webhook replicas
// without chat affinity) a turn's MarkSent, ArmReminder and RecordSent
// write at once; when Redis fails between the send and these writes, all
// three are kept and written once Redis is back (RunTails, every second;
// here FlushTails): the live card's id on the state, the update's replies
// marked sent, the reminder armed, the message id listed for /delete.
// Before, only the message ids were kept (session 11): the card's id and
// the arm were lost. A kept card id never moves the state's card back (a
// later MarkSent went through first), and a kept arm is dropped when a
// later ArmReminder goes through or the reminder is cancelled.
func TestKeptWithoutTailDelay(t *testing.T) {
	rig := func(t *testing.T) (s, direct *redisstore.Store, rdb *redis.Client, prefix string, p *storagetest.Proxy) {
		t.Helper()
		c, rdb, prefix, p := proxiedClient(t)
		return redisstore.New(c, redisstore.Options{Prefix: prefix}), redisstore.New(rdb, redisstore.Options{Prefix: prefix}), rdb, prefix, p
	}
	// failedTail: the state saved, then Redis gone as the turn's tail is
	// written.
	failedTail := func(t *testing.T, s *redisstore.Store, p *storagetest.Proxy, chat, update int64, msg int) {
		t.Helper()
		_, v, _, _, err := s.Load(ctx, chat, update)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, chat, update, v, v+1, []byte("state"), nil); err != nil {
			t.Fatal(err)
		}
		p.Cut()
		if err := s.MarkSent(ctx, chat, update, msg); err == nil {
			t.Fatal("MarkSent succeeded without Redis")
		}
		if err := s.ArmReminder(ctx, chat, "uk", time.Now().Add(time.Hour), time.Hour); err == nil {
			t.Fatal("ArmReminder succeeded without Redis")
		}
		if err := s.RecordSent(ctx, chat, msg); err == nil {
			t.Fatal("RecordSent succeeded without Redis")
		}
		_ = s.FlushTails(ctx, time.Time{}) // a retry during the outage fails and keeps them
		p.Restore()
		if n := s.PendingTails(); n != 1 {
			t.Fatalf("%d tails kept after the failed writes, want 1", n)
		}
	}
	t.Run("written once Redis is back", func(t *testing.T) {
		t.Parallel()
		s, direct, rdb, prefix, p := rig(t)
		failedTail(t, s, p, 41, 1, 500)
		if err := s.FlushTails(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		tailWritten(t, direct, rdb, prefix, 41, 1, 500)
		if n := s.PendingTails(); n != 0 {
			t.Errorf("%d tails kept after they were written", n)
		}
		if n := rdb.ZCard(ctx, prefix+"remind:due").Val(); n != 1 {
			t.Errorf("%d reminders indexed, want 1", n)
		}
	})
	t.Run("a later card is not moved back", func(t *testing.T) {
		t.Parallel()
		s, direct, rdb, prefix, p := rig(t)
		failedTail(t, s, p, 42, 1, 500)
		due := time.Now().Add(2 * time.Hour).UnixMilli()
		if err := s.MarkSent(ctx, 42, 2, 510); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmReminder(ctx, 42, "uk", time.UnixMilli(due), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.FlushTails(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := rdb.HGet(ctx, prefix+direct.ChatTag(42)+":s", "m").Val(); got != "510" {
			t.Errorf("live card on the state: %q, want the later 510", got)
		}
		if got := rdb.HGet(ctx, prefix+direct.ChatTag(42)+":r", "d").Val(); got != itoa(int(due)) {
			t.Errorf("reminder due %s, want the later arm's %d", got, due)
		}
		if _, _, seen, _, err := direct.Load(ctx, 42, 1); err != nil || seen != redisstore.SeenSent {
			t.Errorf("update 1: %s, %v; want its replies marked sent", seen, err)
		}
	})
	// Session 13: before the retry writes them, this replica's reads see
	// the kept mark: a redelivery of the update is dropped (SeenSent), not
	// shown again, and the live card is the kept one — unless a later
	// MarkSent that went through names a newer card.
	t.Run("read before the retry", func(t *testing.T) {
		t.Parallel()
		s, _, _, _, p := rig(t)
		failedTail(t, s, p, 45, 1, 500)
		for _, load := range []struct {
			name string
			f    func(update int64) (redisstore.Seen, int, error)
		}{
			{"Load", func(u int64) (redisstore.Seen, int, error) {
				_, _, seen, m, err := s.Load(ctx, 45, u)
				return seen, m, err
			}},
			{"LoadCounting", func(u int64) (redisstore.Seen, int, error) {
				_, _, seen, m, err := s.LoadCounting(ctx, 45, u, 100, time.Minute)
				return seen, m, err
			}},
		} {
			seen, m, err := load.f(1)
			if err != nil || seen != redisstore.SeenSent || m != 500 {
				t.Errorf("%s of the redelivered update 1: %s, card %d, %v; want its replies marked sent, card 500", load.name, seen, m, err)
			}
		}
		if _, _, seen, m, err := s.Load(ctx, 45, 2); err != nil || seen != redisstore.SeenNone || m != 500 {
			t.Errorf("Load of a new update 2: %s, card %d, %v; want new, card 500", seen, m, err)
		}
		if err := s.MarkSent(ctx, 45, 2, 510); err != nil {
			t.Fatal(err)
		}
		if _, _, seen, m, err := s.Load(ctx, 45, 1); err != nil || seen != redisstore.SeenSent || m != 510 {
			t.Errorf("after a later mark: update 1 %s, card %d, %v; want sent, the later card 510", seen, m, err)
		}
	})
	t.Run("cancelled or erased meanwhile", func(t *testing.T) {
		t.Parallel()
		s, direct, rdb, prefix, p := rig(t)
		failedTail(t, s, p, 43, 1, 500)
		if err := s.CancelReminder(ctx, 43, true); err != nil {
			t.Fatal(err)
		}
		if err := s.FlushTails(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := rdb.HGet(ctx, prefix+direct.ChatTag(43)+":r", "s").Val(); got != "n" {
			t.Errorf("reminder state %q after a refusal, want n", got)
		}
		failedTail(t, s, p, 44, 1, 600)
		if err := s.Delete(ctx, 44); err != nil {
			t.Fatal(err)
		}
		if err := s.FlushTails(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if keys := rdb.Keys(ctx, prefix+direct.ChatTag(44)+":[smr]").Val(); len(keys) != 0 {
			t.Errorf("written after the erasure: %v", keys)
		}
	})
}
