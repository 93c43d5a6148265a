package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The warm chat (issue 19, session 14). A turn is a read (Load: the
// state's HMGET and the seen record's GET, pipelined) and a save (the
// common save's EVALSHA): two round trips, each costing Redis its system
// calls and event-loop pass and the bot a write, a read and a park and
// wake-up. After a common save this replica knows everything the chat's
// next read would return: the state's fields (the version and blob it
// wrote, the mark's message id and the inbound count it wrote or read,
// the new mirror, the expiry and language choice the common save leaves
// as they were) and the seen record (as read, plus what the save
// appended). It keeps them (warmChat), and the chat's next Load or
// LoadCounting of an update newer than every update in the record (the
// next update of a person answering: Telegram numbers a chat's updates
// upwards) answers from them without a round trip. Of the seen record it
// keeps only what such a Load needs — the header (written time, floor,
// the inbound limit's state), the length and the highest update id
// listed — not the entries: a Load of an older update (a redelivery) or
// of another input's key (negative: a job's) reads.
//
// Why that is safe. The entry equals what Redis holds for as long as
// nothing but this replica's common saves wrote the chat's state hash
// and seen record since its basis was read; everything else that writes
// them on this replica drops the entry (warmDrop: a save that is not a
// common one, a conflict, a failed save, Delete, the tail's flush, the
// inbound script, the first refusal of a flood, a cancelled reminder).
// What another replica writes (a turn of a chat whose updates reach two
// replicas, a reminder or expiry job it claimed) this replica cannot
// see; then:
//   - a turn that saves: its common save compares the mirror (field a),
//     which every save rewrites with the version — it finds another and
//     goes to saveScript, which compares the version and returns
//     ErrConflict; the entry is dropped and the core loads again, from
//     Redis: a redelivered update the other replica applied is then seen
//     there (SeenApplied or SeenSent) and not applied twice;
//   - a turn that does not save (a /help, a junk message, a stale tap,
//     an update answered without a change): it answers from the state
//     this replica saved last, and an update the other replica answered
//     without a save and marked sent after this replica's last save is
//     not seen here (one marked between this replica's read and its save
//     is: the common save returns the seen record's length, and the
//     entry is kept only when it is the one this replica expects), and a
//     tap on a question the other replica moved the interview to is
//     judged stale against the older state (needsbot chaos without
//     affinity and with TailDelay shows it: docs/performance.md, "Session
//     14: warm"). The first kind is what a deferred tail (TailDelay)
//     already accepts between replicas — a
//     mark waits in the memory of the replica that made it, and a read
//     by another does not see it — so the entry is kept only with
//     TailDelay, which assumes chat affinity (README: 0 without it).
//
// Within this replica every update a turn handled is in the entry or in
// the chat's tail: applied by a common save (its id raises the entry's
// highest id: a Load of it reads), marked sent (the tail, read over the
// entry as over a read: finishLoad, readChat's mark), or written by a
// flush or another path, which dropped the entry. So a redelivery is dropped (or replayed) as a
// read would have it: at most once applied.
//
// Concurrency: a chat's turns are serial, but FlushTails (RunTails), a
// cancelled reminder or an erasure can run beside them. Every drop is
// recorded in wbook (tailBook's generations), and a basis read is kept
// only when no drop of its chat came after the read began (warmStart);
// a save updates the entry only when it is still the one it started
// from and no drop came since its basis. The flush drops the entry both
// when it takes the tails and after its write.
//
// Memory: an entry is the seen record's header, the state's short fields
// and, between a save and the Load that takes it, the blob (~400–700 B):
// some 0.3 KB, 0.9 KB with the blob. Entries idle longer than warmIdle
// go (Load, RunTails' tick); at most warmMaxEntries and warmMaxBytes are
// kept.
// Nothing of it is logged; Delete drops it at once.

// warmChat is what this replica knows of a chat as Redis holds it.
type warmChat struct {
	gen uint64    // wbook's generation when its basis read began
	at  time.Time // last read or saved
	// The seen record: its header ("<written> <floor> <tat> <told>", ""
	// when there is no record), length and highest update id listed (0:
	// none).
	head   string
	recLen int
	maxID  int64
	vals   [9]string // the state's HMGET (hmgetState's fields); vals[1] only when ready
	ready  bool      // vals[1] holds the blob this replica saved: a Load may take it
	served bool      // a Load took it (warmTake): its turn's state came from memory (Confirm)
	size   int
}

// seenSummary is what an entry keeps of a seen record (warmChat); ok
// false for a record it cannot read.
func seenSummary(rec string) (head string, maxID int64, ok bool) {
	if rec == "" {
		return "", 0, true
	}
	n, i := 0, 0
	for ; i < len(rec) && n < 4; i++ {
		if rec[i] == ' ' {
			n++
		}
	}
	if n < 4 {
		if n == 3 && i == len(rec) {
			return rec, 0, true // a header without entries
		}
		return "", 0, false
	}
	if maxID, ok = maxListed(rec[i-1:]); !ok {
		return "", 0, false
	}
	return rec[:i-1], maxID, true
}

// maxListed returns the highest positive update id of entries " <id>:<f>"
// (0 when none); ok false when they do not parse.
func maxListed(body string) (maxID int64, ok bool) {
	if body == "" {
		return 0, true
	}
	if body[0] != ' ' {
		return 0, false
	}
	for rest, more := body[1:], true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, " ")
		id, _, found := strings.Cut(entry, ":")
		if !found || id == "" {
			return 0, false
		}
		if id[0] != '-' {
			n := atoi(id)
			if n <= 0 && id != "0" {
				return 0, false
			}
			maxID = max(maxID, n)
		}
	}
	return maxID, true
}

const (
	// warmIdle is how long an entry is kept after the chat's last read
	// or save: a person answering takes seconds per question; a chat
	// idle longer reads from Redis again.
	warmIdle = 2 * time.Minute
	// warmMaxEntries and warmMaxBytes bound the entries (a load test
	// keeps ~200 chats active, ~2 KB each).
	warmMaxEntries = 4096
	warmMaxBytes   = 4 << 20
)

// warming reports whether entries are kept: with TailDelay only.
func (s *Store) warming() bool { return s.deferring() }

// warmStart returns the generation a basis read begins at (0: none kept).
func (s *Store) warmStart() uint64 {
	if !s.warming() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wbook.take()
}

// warmNote keeps a plain read of the chat (begun at gen) as the basis a
// common save updates; not when a drop came since the read began.
func (s *Store) warmNote(chat int64, gen uint64, rec string, vals []string) {
	if gen == 0 || len(vals) != 9 {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if erased, _ := s.wbook.droppedSince(chat, gen); erased {
		return
	}
	head, maxID, ok := seenSummary(rec)
	if !ok {
		return
	}
	w := &warmChat{gen: gen, at: now, head: head, recLen: len(rec), maxID: maxID}
	copy(w.vals[:], vals)
	w.vals[1] = "" // the blob is the caller's (ownBytes)
	s.warmPut(chat, w, now)
}

// warmPut stores w for the chat; s.mu is held.
func (s *Store) warmPut(chat int64, w *warmChat, now time.Time) {
	if old := s.warm[chat]; old != nil {
		s.warmBytes -= old.size
	}
	w.size = 256 + len(w.head) + len(w.vals[1]) + len(w.vals[6])
	s.warm[chat] = w
	s.warmBytes += w.size
	if len(s.warm) <= warmMaxEntries && s.warmBytes <= warmMaxBytes {
		return
	}
	// Over a bound: the idle go, then any until a quarter is free.
	for c, x := range s.warm {
		if now.Sub(x.at) > warmIdle {
			s.warmBytes -= x.size
			delete(s.warm, c)
		}
	}
	for c, x := range s.warm {
		if len(s.warm) <= warmMaxEntries*3/4 && s.warmBytes <= warmMaxBytes*3/4 {
			break
		}
		if c != chat {
			s.warmBytes -= x.size
			delete(s.warm, c)
		}
	}
}

// warmTake returns the chat as a read for update would find it, from
// its entry, when this replica's common save left one that is fresh and
// update is newer than every update the seen record lists (or 0: no
// key): the seen record's header stands for the record (no entry of it
// is update's), its length is recLen. The blob goes to the caller (the
// entry stays as the basis of the next save, without it).
func (s *Store) warmTake(chat, update int64, now time.Time) (head string, recLen int, vals [9]string, ok bool) {
	if !s.warming() || update < 0 {
		return "", 0, vals, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.warm[chat]
	if w == nil || !w.ready || (update != 0 && update <= w.maxID) {
		return "", 0, vals, false
	}
	if !w.fresh(now, s.seenTTL) {
		s.warmBytes -= w.size
		delete(s.warm, chat)
		return "", 0, vals, false
	}
	vals = w.vals
	w.vals[1], w.ready, w.served = "", false, true
	s.warmBytes -= len(vals[1])
	w.size -= len(vals[1])
	return w.head, w.recLen, vals, true
}

// fresh reports whether an entry may answer a Load now: used within
// warmIdle, its state not about to expire, its seen record not about to
// (a read after Redis dropped either would differ).
func (w *warmChat) fresh(now time.Time, seenTTL time.Duration) bool {
	d := now.Sub(w.at)
	if d < 0 || d > warmIdle {
		return false
	}
	nowMS := now.UnixMilli()
	if w.vals[0] == "" || atoi(w.vals[7]) < nowMS+2*warmIdle.Milliseconds() {
		return false
	}
	if w.head != "" {
		written, _, _ := strings.Cut(w.head, " ")
		if nowMS-atoi(written) > seenTTL.Milliseconds()/2 {
			return false
		}
	}
	return true
}

// warmBasis returns the chat's entry as a save begins (nil: none).
func (s *Store) warmBasis(chat int64) *warmChat {
	if !s.warming() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.warm[chat]
}

// warmSaved updates the chat's entry w (warmBasis) after a common save
// replacing version expect: what the save wrote (saveCommonScript) onto
// what the basis held. Dropped instead when the entry is no longer w,
// something dropped it since its basis, the basis is of another version,
// or the seen record's length after the save's append (recLen, 0 when it
// appended nothing) is not the basis's and the append's: another writer
// changed the record meanwhile (another replica's mark or count: they
// move no version).
func (s *Store) warmSaved(chat int64, w *warmChat, expect, newVersion uint64, blob []byte, cs *commonSave, mark, count string, recLen int64) {
	if w == nil {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	erased, _ := s.wbook.droppedSince(chat, w.gen)
	if s.warm[chat] != w || erased || parseVersion(w.vals[0]) != expect || expect == 0 ||
		(cs.seen != "" && recLen != int64(w.recLen+len(cs.seen))) {
		s.warmDropLocked(chat)
		return
	}
	maxID, ok := maxListed(cs.seen)
	if !ok {
		s.warmDropLocked(chat)
		return
	}
	n := &warmChat{gen: w.gen, at: now, head: w.head, recLen: w.recLen + len(cs.seen), maxID: max(w.maxID, maxID), vals: w.vals, ready: true}
	n.vals[0] = strconv.FormatUint(newVersion, 10)
	n.vals[1] = string(blob)
	if mark != "" {
		n.vals[2] = mark
	}
	if count != "" {
		tat, hc, _ := strings.Cut(count, " ")
		n.vals[3], n.vals[4] = tat, hc
	}
	n.vals[6] = cs.mirror
	s.warmPut(chat, n, now)
}

// warmDrop forgets the chat's entry: something wrote its state or seen
// record that the entry does not show (or may have).
func (s *Store) warmDrop(chat int64) {
	if !s.warming() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warmDropLocked(chat)
}

func (s *Store) warmDropLocked(chat int64) {
	if !s.warming() {
		return
	}
	if w := s.warm[chat]; w != nil {
		s.warmBytes -= w.size
		delete(s.warm, chat)
	}
	s.wbook.drop(chat, true)
}

// warmSweep drops the entries idle longer than warmIdle (RunTails).
func (s *Store) warmSweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, w := range s.warm {
		if d := now.Sub(w.at); d > warmIdle || d < 0 {
			s.warmBytes -= w.size
			delete(s.warm, c)
		}
	}
}

// WarmChats returns how many chats have an entry and their bytes (for
// tests and metrics).
func (s *Store) WarmChats() (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.warm), s.warmBytes
}

// Confirm returns ErrConflict when the chat's state in Redis is no longer
// at version and the turn's Load may have come from memory (warmTake):
// the turn saves nothing, so no compare-and-swap of its own would catch a
// state that another replica moved since this replica's last save (a tap
// on a question this replica has not seen yet would be refused as stale,
// a question shown again would be an old one). One round trip (HGET of
// the version) then, and the entry dropped when the version moved; none
// when the Load read Redis (its entry is the read's, not served). An
// entry dropped meanwhile (a flush beside the turn) may have been served:
// checked too.
func (s *Store) Confirm(ctx context.Context, chat int64, version uint64) error {
	if !s.warming() {
		return nil
	}
	s.mu.Lock()
	w := s.warm[chat]
	check := w == nil || w.served
	s.mu.Unlock()
	if !check {
		return nil
	}
	v, err := s.rdb.HGet(ctx, s.stateKey(chat), "v").Result()
	if errors.Is(err, redis.Nil) {
		v, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("redisstore: confirm: %w", err)
	}
	if v != "" && parseVersion(v) == version {
		return nil
	}
	s.warmDrop(chat)
	return ErrConflict
}
