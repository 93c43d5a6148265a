package redisstore_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// saveScript's arguments (session 11): the seen entries built in Go
// (" <id>:s … <update>:a"), the job's chat and the arm's numbers read from
// the seldom argument, the keys beyond the first three given only when
// Go knows the save needs them.

// TestSaveSeenEntriesOnConflict: a save that loses its compare-and-swap
// still writes its tail's marks (":s" entries of ARGV 4) into the seen
// record, but not its own update (the ":a" entry) — appended (Go read the
// record's TTL fresh) and rewritten (it did not). Negative ids (inputs
// that are not Telegram updates) included.
func TestSaveSeenEntriesOnConflict(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{TailDelay: time.Minute})
	for _, c := range []struct {
		name string
		chat int64
		read bool
	}{{"appended", 71, true}, {"rewritten", 72, false}} {
		if err := s.Save(ctx, c.chat, 1001, 0, 1, []byte("state"), nil); err != nil {
			t.Fatal(err)
		}
		if c.read {
			if _, _, _, _, err := s.Load(ctx, c.chat, 1002); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []int64{1001, -4242} {
			if err := s.MarkSent(ctx, c.chat, u, 7); err != nil {
				t.Fatal(err)
			}
		}
		// Expects no state: the stored version is 1.
		if err := s.Save(ctx, c.chat, -5151, 0, 1, []byte("other"), nil); err != redisstore.ErrConflict {
			t.Fatalf("%s: conflicting save: %v, want ErrConflict", c.name, err)
		}
		for u, want := range map[int64]redisstore.Seen{1001: redisstore.SeenSent, -4242: redisstore.SeenSent, -5151: redisstore.SeenNone} {
			if _, _, seen, _, err := s.Load(ctx, c.chat, u); err != nil || seen != want {
				t.Errorf("%s: update %d: %v %v, want %v", c.name, u, seen, err, want)
			}
		}
		// And a save that wins writes its own entry.
		if err := s.Save(ctx, c.chat, -5151, 1, 2, []byte("other"), nil); err != nil {
			t.Fatal(err)
		}
		if _, _, seen, _, err := s.Load(ctx, c.chat, -5151); err != nil || seen != redisstore.SeenApplied {
			t.Errorf("%s: update -5151 after its save: %v %v, want applied", c.name, seen, err)
		}
	}
}

// TestSaveChatFromSeldom: the expiry job's chat (xc) and the reminder's
// chat are read from the seldom argument, in the head (a job armed while
// the mirror names none) and in the rest (a first arm, a new interview):
// a group chat's negative id must come back whole.
func TestSaveChatFromSeldom(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	const chat = -1001234567890
	tt := newTypicalTurns(t, s, clk, chat)
	tt.noExpiry = true
	for range 3 {
		tt.turn()
	}
	key := prefix + s.ChatTag(chat)
	if xc := rdb.HGet(ctx, key+":a", "xc").Val(); xc != "" {
		t.Fatalf("record's job chat %q before any job", xc)
	}
	tt.noExpiry = false
	tt.turn() // the job armed by the common save (saveFastLua)
	want := strconv.FormatInt(chat, 10)
	if xc := rdb.HGet(ctx, key+":a", "xc").Val(); xc != want {
		t.Errorf("record's job chat %q, want %q", xc, want)
	}
	if c := rdb.HGet(ctx, key+":r", "c").Val(); c != want {
		t.Errorf("reminder's chat %q, want %q", c, want)
	}
	// A new interview (the rest of the script: a fresh record).
	tt.rec.Started = clk.Now().Add(time.Second)
	tt.turn()
	if xc := rdb.HGet(ctx, key+":a", "xc").Val(); xc != want {
		t.Errorf("new interview's job chat %q, want %q", xc, want)
	}
}

// TestSaveKeysOnDemand: a common save gives saveScript three keys; one
// whose rest needs another — a check of a reminder that the mirror does
// not know, leaving a language choice — is refused before it writes and
// sent again with all seven, and does what it did with them.
func TestSaveKeysOnDemand(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	h := &scripts{}
	rdb.AddHook(h)
	tt := newTypicalTurns(t, s, clk, 81)
	for range 3 {
		tt.turn()
	}
	key := prefix + s.ChatTag(81)
	n, w := h.n.Load(), h.words.Load()
	tt.turn()
	if got := h.n.Load() - n; got != 1 {
		t.Fatalf("a common turn made %d script calls, want 1", got)
	}
	// EVALSHA, SHA, key count, 3 keys, 10 arguments (saveCommonScript,
	// session 12: 15 to saveScript before).
	if got := h.words.Load() - w; got != 3+3+10 {
		t.Errorf("a common save sent %d words, want %d", got, 3+3+10)
	}
	// The mirror gone (as expireDoneScript or a replica of an older
	// release leaves it): the check of the reminder reads it. The turn's
	// Load answers from what this replica's last save left (warm.go),
	// which still names the mirror: the common save finds it gone and
	// writes nothing (saveCommonMissed), then the rest is refused for
	// its keys and sent again with all.
	rdb.HDel(ctx, key+":s", "a")
	n = h.n.Load()
	tt.turn()
	if got := h.n.Load() - n; got != 3 {
		t.Errorf("a save checking an unknown reminder made %d script calls, want 3 (common missed, refused, then all keys)", got)
	}
	if a := rdb.HGet(ctx, key+":s", "a").Val(); !strings.HasSuffix(a, " uk") {
		t.Errorf("mirror %q after the check, want the reminder pending in uk", a)
	}
	if v := rdb.HGet(ctx, key+":s", "v").Val(); v != strconv.FormatUint(tt.v, 10) {
		t.Errorf("state at version %s, want %d", v, tt.v)
	}

	// Leaving a language choice.
	if err := s.SaveWaiting(ctx, 82, 0, 0, 1, []byte("state"), nil, "f"); err != nil {
		t.Fatal(err)
	}
	n = h.n.Load()
	if err := s.Save(ctx, 82, 0, 1, 2, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	if got := h.n.Load() - n; got != 2 {
		t.Errorf("a save leaving a language choice made %d script calls, want 2", got)
	}
	k82 := prefix + s.ChatTag(82)
	if rdb.Exists(ctx, k82+":l").Val() != 0 || rdb.HExists(ctx, k82+":s", "l").Val() {
		t.Error("the language choice left is still recorded")
	}
}
