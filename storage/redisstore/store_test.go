package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t testing.TB, opts redisstore.Options) (*redisstore.Store, *redis.Client, string) {
	t.Helper()
	rdb, prefix := storagetest.Redis(t)
	opts.Prefix = prefix
	// The client `needsbot run` gives the store (NEEDSBOT_REDIS_BATCHING
	// on); fault_test.go's proxied store uses the plain one.
	bc, err := redisstore.Batched(rdb)
	if err != nil {
		t.Fatal(err)
	}
	return redisstore.New(bc, opts), rdb, prefix
}

var ctx = context.Background()

// apply handles one update the way the bot does: load with dedup, step,
// save with compare-and-swap, and on conflict reload and step again. The
// "state" is a counter; step adds one. It reports whether the update was
// applied now (false when it had been already).
func apply(s *redisstore.Store, chat, updateID int64) (bool, error) {
	for {
		blob, v, seen, _, err := s.Load(ctx, chat, updateID)
		if err != nil {
			return false, err
		}
		if seen != redisstore.SeenNone {
			return false, nil
		}
		n := 0
		if blob != nil {
			n, _ = strconv.Atoi(string(blob))
		}
		err = s.Save(ctx, chat, updateID, v, v+1, []byte(strconv.Itoa(n+1)), nil)
		if errors.Is(err, redisstore.ErrConflict) {
			continue
		}
		return err == nil, err
	}
}

func counter(t *testing.T, s *redisstore.Store, chat int64) (int, uint64) {
	t.Helper()
	blob, v, _, _, err := s.Load(ctx, chat, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(string(blob))
	return n, v
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	blob, v, seen, _, err := s.Load(ctx, 42, 1000)
	if err != nil || blob != nil || v != 0 || seen != redisstore.SeenNone {
		t.Fatalf("Load = %q, %d, %v, %v; want nil, 0, none, nil", blob, v, seen, err)
	}
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{StateTTL: time.Hour})
	blob := []byte("\x00binary\xffstate")
	if err := s.Save(ctx, 42, 1000, 0, 1, blob, nil); err != nil {
		t.Fatal(err)
	}
	got, v, seen, _, err := s.Load(ctx, 42, 1001)
	if err != nil || string(got) != string(blob) || v != 1 || seen != redisstore.SeenNone {
		t.Fatalf("Load = %q, %d, %v, %v; want %q, 1, none", got, v, seen, err, blob)
	}
	if err := s.Save(ctx, 42, 1001, 1, 2, []byte("two"), nil); err != nil {
		t.Fatal(err)
	}
	if got, v, _, _, _ := s.Load(ctx, 42, 1002); string(got) != "two" || v != 2 {
		t.Fatalf("Load = %q, %d; want two, 2", got, v)
	}
	ttl := rdb.PTTL(ctx, prefix+s.ChatTag(42)+":s").Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("state TTL = %s, want ~1h", ttl)
	}
	// Negative chat ids (groups) are keys like any other.
	if err := s.Save(ctx, -100123, 1, 0, 1, []byte("group"), nil); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _, _ := s.Load(ctx, -100123, 2); string(got) != "group" {
		t.Fatalf("group Load = %q", got)
	}
}

func TestSaveRejectsBadArguments(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	if err := s.Save(ctx, 1, 1, 3, 3, []byte("x"), nil); err == nil {
		t.Error("Save with newVersion == expect succeeded")
	}
	if err := s.Save(ctx, 1, 1, 0, 1, nil, nil); err == nil {
		t.Error("Save of an empty blob succeeded")
	}
	if err := s.Save(ctx, 1, 1, 0, 1, []byte("x"), &redisstore.AbandonRecord{Form: "f"}); err == nil {
		t.Error("Save with a record without start succeeded")
	}
}

func TestSaveConflict(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	if err := s.Save(ctx, 7, 1, 0, 1, []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	// Two writers loaded version 1; A saves first.
	if err := s.Save(ctx, 7, 2, 1, 2, []byte("A"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, 7, 3, 1, 2, []byte("B"), nil); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatalf("second writer: err = %v, want ErrConflict", err)
	}
	// The loser changed nothing: neither state nor its update id.
	blob, v, seen, _, _ := s.Load(ctx, 7, 3)
	if string(blob) != "A" || v != 2 || seen != redisstore.SeenNone {
		t.Fatalf("after conflict: %q v%d %v; want A v2 none", blob, v, seen)
	}
	// Creating a state that exists is a conflict too.
	if err := s.Save(ctx, 7, 4, 0, 1, []byte("new"), nil); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatalf("create over existing: err = %v, want ErrConflict", err)
	}
}

func TestConcurrentWritersApplyEachUpdateOnce(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	const writers, updates = 8, 25
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			<-start
			for u := range updates {
				if _, err := apply(s, 99, int64(w*1000+u+1)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, v := counter(t, s, 99)
	if n != writers*updates || v != writers*updates {
		t.Fatalf("counter %d at version %d; want %d at %d", n, v, writers*updates, writers*updates)
	}
}

func TestCASRaceOneWinner(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for round := range 20 {
		chat := int64(500 + round)
		var wg sync.WaitGroup
		results := make([]error, 2)
		start := make(chan struct{})
		for i := range 2 {
			wg.Go(func() {
				<-start
				results[i] = s.Save(ctx, chat, int64(i+1), 0, 1, []byte{'a' + byte(i)}, nil)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, redisstore.ErrConflict):
			default:
				t.Fatal(err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners (%v), want exactly 1", round, wins, results)
		}
		// The loser reloads and re-applies on top of the winner.
		for i, err := range results {
			if err == nil {
				continue
			}
			blob, v, seen, _, err := s.Load(ctx, chat, int64(i+1))
			if err != nil || v != 1 || seen != redisstore.SeenNone {
				t.Fatalf("loser reload: v%d %v %v", v, seen, err)
			}
			if err := s.Save(ctx, chat, int64(i+1), v, v+1, append(blob, 'a'+byte(i)), nil); err != nil {
				t.Fatalf("loser re-apply: %v", err)
			}
		}
		blob, v, _, _, _ := s.Load(ctx, chat, 0)
		if v != 2 || (string(blob) != "ab" && string(blob) != "ba") {
			t.Fatalf("round %d: %q v%d; want both effects at v2", round, blob, v)
		}
	}
}

func TestDedup(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	seen := func(chat, update int64) redisstore.Seen {
		t.Helper()
		_, _, seen, _, err := s.Load(ctx, chat, update)
		if err != nil {
			t.Fatal(err)
		}
		return seen
	}
	if got := seen(1, 500); got != redisstore.SeenNone {
		t.Fatalf("before: %v", got)
	}
	if err := s.Save(ctx, 1, 500, 0, 1, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if got := seen(1, 500); got != redisstore.SeenApplied {
		t.Fatalf("after Save: %v, want applied", got)
	}
	if err := s.MarkSent(ctx, 1, 500, 0); err != nil {
		t.Fatal(err)
	}
	if got := seen(1, 500); got != redisstore.SeenSent {
		t.Fatalf("after MarkSent: %v, want sent", got)
	}
	// Update ids are per chat; and a prefix of an id is another id.
	if got := seen(2, 500); got != redisstore.SeenNone {
		t.Fatalf("other chat: %v", got)
	}
	if got := seen(1, 50); got != redisstore.SeenNone {
		t.Fatalf("other id: %v", got)
	}
	// An update handled without a state change is marked sent directly.
	if err := s.MarkSent(ctx, 1, 501, 0); err != nil {
		t.Fatal(err)
	}
	if got := seen(1, 501); got != redisstore.SeenSent {
		t.Fatalf("MarkSent without Save: %v", got)
	}
	// A conflicting Save does not mark its update.
	if err := s.Save(ctx, 1, 502, 0, 1, []byte("y"), nil); !errors.Is(err, redisstore.ErrConflict) {
		t.Fatal(err)
	}
	if got := seen(1, 502); got != redisstore.SeenNone {
		t.Fatalf("after conflicting Save: %v", got)
	}
	for _, s := range []redisstore.Seen{redisstore.SeenNone, redisstore.SeenApplied, redisstore.SeenSent, 9} {
		if s.String() == "" {
			t.Errorf("Seen(%d).String() empty", s)
		}
	}
}

func TestLastMessage(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	lastMsg := func(chat int64) int {
		t.Helper()
		_, _, _, m, err := s.Load(ctx, chat, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := s.Save(ctx, 6, 1, 0, 1, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if m := lastMsg(6); m != 0 {
		t.Fatalf("before MarkSent: %d", m)
	}
	if err := s.MarkSent(ctx, 6, 1, 4321); err != nil {
		t.Fatal(err)
	}
	if m := lastMsg(6); m != 4321 {
		t.Fatalf("after MarkSent: %d, want 4321", m)
	}
	// Save keeps it; the next MarkSent replaces it.
	if err := s.Save(ctx, 6, 2, 1, 2, []byte("y"), nil); err != nil {
		t.Fatal(err)
	}
	if m := lastMsg(6); m != 4321 {
		t.Fatalf("after Save: %d, want 4321", m)
	}
	if err := s.MarkSent(ctx, 6, 2, 4330); err != nil {
		t.Fatal(err)
	}
	if m := lastMsg(6); m != 4330 {
		t.Fatalf("after second MarkSent: %d, want 4330", m)
	}
	// Without a state nothing is kept: no hash without a TTL is created.
	if err := s.Delete(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, 6, 3, 4400); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(6)+":s").Val(); n != 0 {
		t.Fatal("MarkSent created a state hash")
	}
	if m := lastMsg(6); m != 0 {
		t.Fatalf("without state: %d", m)
	}
}

func TestSeenExpireAndTrim(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{SeenTTL: time.Hour, Now: clk.Now})
	seenKey := prefix + s.ChatTag(3) + ":u"
	if err := s.Save(ctx, 3, 1, 0, 1, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, 3, 1, 0); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, seenKey).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("seen key TTL = %s, want ~1h", ttl)
	}
	clk.Add(2 * time.Hour)
	if _, _, seen, _, _ := s.Load(ctx, 3, 1); seen != redisstore.SeenNone {
		t.Fatalf("2h later, Load reports %v, want none", seen)
	}
	if err := s.Save(ctx, 3, 2, 1, 2, []byte("y"), nil); err != nil {
		t.Fatal(err)
	}

	// However many arrive within SeenTTL, at most 1000 are listed; older
	// ones count as handled (never applied twice), newer ones as new.
	for i := range 1100 {
		if err := s.MarkSent(ctx, 3, int64(10+i), 0); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Millisecond)
	}
	if n := len(rdb.Get(ctx, seenKey).Val()); n > 1000*8+64 {
		t.Fatalf("seen record holds %d bytes, want it bounded", n)
	}
	for id, want := range map[int64]redisstore.Seen{1109: redisstore.SeenSent, 1000: redisstore.SeenSent,
		15: redisstore.SeenSent, 1110: redisstore.SeenNone, 5000: redisstore.SeenNone} {
		if _, _, seen, _, _ := s.Load(ctx, 3, id); seen != want {
			t.Errorf("id %d: %v, want %v", id, seen, want)
		}
	}
}

// The keys of inputs that are not Telegram updates (reminders, expiry) are
// negative hashes: they are listed like update ids, never taken for old
// ones by the floor, and trimmed like any other.
func TestSeenNamedKeys(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	const named = -4242424242
	if _, _, seen, _, err := s.Load(ctx, 21, named); err != nil || seen != redisstore.SeenNone {
		t.Fatalf("fresh named key: %v %v", seen, err)
	}
	if ok, err := apply(s, 21, named); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := apply(s, 21, named); err != nil || ok {
		t.Fatalf("named key applied twice: %v %v", ok, err)
	}
	// Push it out of the record with 1,100 update ids: the floor rises, the
	// named key's successor is still new, and nothing fails on the way.
	for i := range 1100 {
		if err := s.MarkSent(ctx, 21, int64(100+i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, seen, _, err := s.Load(ctx, 21, named-1); err != nil || seen != redisstore.SeenNone {
		t.Fatalf("another named key after the trim: %v %v", seen, err)
	}
	if _, _, seen, _, err := s.Load(ctx, 21, 150); err != nil || seen != redisstore.SeenSent {
		t.Fatalf("trimmed update id: %v %v", seen, err)
	}
}

// A chat whose seen ids are still a sorted set of the format before the
// record (written by the previous release, kept 24 h) is read as before and
// converted by whichever script touches it first.
func TestSeenOldSortedSet(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	now := float64(time.Now().UnixMilli())
	for chat, first := range map[int64]string{31: "load", 32: "save", 33: "inbound", 34: "mark"} {
		key := prefix + s.ChatTag(chat) + ":u"
		rdb.ZAdd(ctx, key, redis.Z{Score: now, Member: "10:sent"}, redis.Z{Score: now, Member: "11"}, redis.Z{Score: now, Member: "-77"})
		switch first {
		case "load":
		case "save":
			if err := s.Save(ctx, chat, 12, 0, 1, []byte("x"), nil); err != nil {
				t.Fatalf("%s: %v", first, err)
			}
		case "inbound":
			if ok, _, err := s.Inbound(ctx, chat, 0, 100, time.Second); err != nil || !ok {
				t.Fatalf("%s: %v %v", first, ok, err)
			}
		case "mark":
			if err := s.MarkSent(ctx, chat, 12, 0); err != nil {
				t.Fatalf("%s: %v", first, err)
			}
		}
		want := map[int64]redisstore.Seen{10: redisstore.SeenSent, 11: redisstore.SeenApplied, -77: redisstore.SeenApplied, 13: redisstore.SeenNone}
		if first == "save" {
			want[12] = redisstore.SeenApplied
		}
		if first == "mark" {
			want[12] = redisstore.SeenSent
		}
		for id, w := range want {
			if _, _, seen, _, err := s.Load(ctx, chat, id); err != nil || seen != w {
				t.Errorf("%s first, id %d: %v %v, want %v", first, id, seen, err, w)
			}
		}
		if typ := rdb.Type(ctx, key).Val(); typ != "string" {
			t.Errorf("%s first: seen key is a %s", first, typ)
		}
	}
}

// Out-of-order delivery: an update older than the newest applied one, never
// applied itself, is new; an applied one stays applied until sent.
func TestSeenOutOfOrder(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for _, id := range []int64{100, 102, 105} {
		if ok, err := apply(s, 9, id); err != nil || !ok {
			t.Fatalf("apply %d: %v %v", id, ok, err)
		}
	}
	if err := s.MarkSent(ctx, 9, 102, 0); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]redisstore.Seen{99: redisstore.SeenNone, 100: redisstore.SeenApplied,
		101: redisstore.SeenNone, 102: redisstore.SeenSent, 103: redisstore.SeenNone, 105: redisstore.SeenApplied, 106: redisstore.SeenNone} {
		if _, _, seen, _, _ := s.Load(ctx, 9, id); seen != want {
			t.Errorf("id %d: %v, want %v", id, seen, want)
		}
	}
	// The late one is applied once, then recognised.
	if ok, err := apply(s, 9, 101); err != nil || !ok {
		t.Fatalf("late update: %v %v", ok, err)
	}
	if ok, err := apply(s, 9, 101); err != nil || ok {
		t.Fatalf("late update applied twice: %v %v", ok, err)
	}
	// Sent wins over a later applied mark of the same id.
	if err := s.MarkSent(ctx, 9, 100, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, seen, _, _ := s.Load(ctx, 9, 100); seen != redisstore.SeenSent {
		t.Errorf("100 after MarkSent: %v", seen)
	}
}

// keySlot is Redis Cluster's CRC16 (XMODEM) key slot, honouring hash tags.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

func TestKeysShareChatHashTag(t *testing.T) {
	t.Parallel()
	// Known values from the Redis Cluster specification.
	if keySlot("foo") != 12182 || keySlot("{user1000}.following") != keySlot("{user1000}.followers") {
		t.Fatal("keySlot is not Redis's")
	}
	s, rdb, prefix := newStore(t, redisstore.Options{})
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Started: time.Now()}
	for _, chat := range []int64{123, 456, -1001234567890} {
		if err := s.Save(ctx, chat, 1, 0, 1, []byte("x"), rec); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkSent(ctx, chat, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, "k", []byte("p")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allow(ctx, "bad-token:123", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	perChat := map[string]int{}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		switch {
		case strings.HasPrefix(rest, "{c:"):
			tag := rest[:strings.IndexByte(rest, '}')+1]
			if keySlot(k) != keySlot(tag) {
				t.Errorf("%s: slot %d, want %s's %d", k, keySlot(k), tag, keySlot(tag))
			}
			perChat[tag]++
		case strings.HasPrefix(rest, "{outbox}:"):
			if keySlot(k) != keySlot("{outbox}") {
				t.Errorf("%s not in the outbox slot", k)
			}
		case rest == "abandon:due":
		default:
			t.Errorf("unexpected key %s", k)
		}
	}
	for _, chat := range []int64{123, 456, -1001234567890} {
		tag := s.ChatTag(chat)
		if perChat[tag] != 3 { // :s, :u, :a
			t.Errorf("%s has %d keys, want 3 (keys: %v)", tag, perChat[tag], keys)
		}
	}
	if n := rdb.Exists(ctx, "rate:"+prefix+"rl:bad-token:123").Val(); n != 1 {
		t.Errorf("rate-limit key not under the prefix")
	}
}

func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	a := redisstore.New(rdb, redisstore.Options{Prefix: prefix + "a:"})
	b := redisstore.New(rdb, redisstore.Options{Prefix: prefix + "b:"})
	if err := a.Save(ctx, 1, 10, 0, 1, []byte("A"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Enqueue(ctx, "k", []byte("A")); err != nil {
		t.Fatal(err)
	}
	blob, v, seen, _, err := b.Load(ctx, 1, 10)
	if err != nil || blob != nil || v != 0 || seen != redisstore.SeenNone {
		t.Fatalf("b sees a's state: %q v%d %v %v", blob, v, seen, err)
	}
	if n, _ := b.Depth(ctx); n != 0 {
		t.Fatalf("b sees a's outbox: depth %d", n)
	}
	for _, k := range rdb.Keys(ctx, prefix+"*").Val() {
		if !strings.HasPrefix(k, prefix+"a:") {
			t.Errorf("key %s outside store a's prefix", k)
		}
	}
	if err := b.Save(ctx, 1, 10, 0, 1, []byte("B"), nil); err != nil {
		t.Fatal(err)
	}
	if blob, _, _, _, _ := a.Load(ctx, 1, 0); string(blob) != "A" {
		t.Fatalf("a's state became %q", blob)
	}
}

func TestNewRejectsBracesInPrefix(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted a prefix with a brace")
		}
	}()
	redisstore.New(redis.NewClient(&redis.Options{}), redisstore.Options{Prefix: "x{y}:"})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	rec := &redisstore.AbandonRecord{Form: "f", Started: time.Now()}
	if err := s.Save(ctx, 5, 77, 0, 1, []byte("x"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 5); err != nil {
		t.Fatal(err)
	}
	blob, v, seen, _, err := s.Load(ctx, 5, 77)
	if err != nil || blob != nil || v != 0 {
		t.Fatalf("after Delete: %q v%d %v", blob, v, err)
	}
	if seen != redisstore.SeenApplied {
		t.Fatalf("after Delete the update is %v; the seen ids are kept", seen)
	}
	if n := rdb.Exists(ctx, prefix+s.ChatTag(5)+":a").Val(); n != 0 {
		t.Fatal("abandonment record survived Delete")
	}
	// A new interview starts from nothing.
	if err := s.Save(ctx, 5, 78, 0, 1, []byte("y"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for i := range 3 {
		ok, err := s.Allow(ctx, "bad-token:1", 3, time.Hour)
		if err != nil || !ok {
			t.Fatalf("attempt %d: %v %v, want allowed", i+1, ok, err)
		}
	}
	if ok, err := s.Allow(ctx, "bad-token:1", 3, time.Hour); err != nil || ok {
		t.Fatalf("4th attempt: %v %v, want refused", ok, err)
	}
	if ok, _ := s.Allow(ctx, "bad-token:2", 3, time.Hour); !ok {
		t.Fatal("another key was limited")
	}
	if _, err := s.Allow(ctx, "x", 0, time.Hour); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func Example() {
	// The path of one update, as the bot drives it (error handling
	// shortened). Not run: it needs a Redis server.
	s := redisstore.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}), redisstore.Options{Prefix: "needsbot:"})
	chat, update := int64(42), int64(1000)
	for {
		blob, v, seen, _, err := s.Load(ctx, chat, update)
		if err != nil || seen == redisstore.SeenSent {
			return // retry later / already handled
		}
		if seen == redisstore.SeenApplied {
			break // effect saved, replies maybe not sent: re-send the current question
		}
		next := append(blob, '.') // dialog.Step
		err = s.Save(ctx, chat, update, v, v+1, next, nil)
		if errors.Is(err, redisstore.ErrConflict) {
			continue
		}
		break
	}
	// … send the replies, then:
	_ = s.MarkSent(ctx, chat, update, 0)
	fmt.Println("handled")
}

// TestSeenTTLSetOncePerSlack: the seen record's TTL is set when it is
// written more than the slack (1/24 of SeenTTL) after it was last set, not
// on every write (SET KEEPTTL); its written time is when the TTL was set,
// so Load's "older than SeenTTL is gone" and the key's expiry agree, and
// the ids written meanwhile are still reported.
func TestSeenTTLSetOncePerSlack(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{SeenTTL: time.Hour, Now: clk.Now})
	seenKey := prefix + s.ChatTag(4) + ":u"
	written := func() string {
		w, _, _ := strings.Cut(rdb.Get(ctx, seenKey).Val(), " ")
		return w
	}
	count := func(update int64) {
		t.Helper()
		if ok, _, err := s.Inbound(ctx, 4, update, 1000, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	t0 := strconv.FormatInt(clk.Now().UnixMilli(), 10)
	count(1)
	if w := written(); w != t0 {
		t.Fatalf("new record written %s, want %s", w, t0)
	}
	clk.Add(2 * time.Minute) // within the slack (2.5 min)
	count(2)
	if w := written(); w != t0 {
		t.Fatalf("within the slack, written moved to %s (TTL set again), want %s", w, t0)
	}
	if ttl := rdb.PTTL(ctx, seenKey).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("seen key TTL = %s, want ~1h (kept)", ttl)
	}
	if err := s.MarkSent(ctx, 4, 2, 0); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second) // Inbound's read no longer serves the Load
	if _, _, seen, _, _ := s.Load(ctx, 4, 2); seen != redisstore.SeenSent {
		t.Fatalf("update 2: %v, want sent", seen)
	}
	clk.Add(time.Minute) // 3 min after the TTL was set: past the slack
	count(3)
	if w, want := written(), strconv.FormatInt(clk.Now().UnixMilli(), 10); w != want {
		t.Fatalf("past the slack, written %s, want %s (TTL set)", w, want)
	}
}
