package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tail of a turn. After a turn has saved its state (Save: the one
// write a turn cannot do without) and sent its replies, three more writes
// used to follow, each a round trip: MarkSent (the replies went out, and
// which message shows the question), ArmReminder (push the reminder back)
// and RecordSent (message ids for /delete). With Options.TailDelay set,
// they wait in memory instead and ride along with the chat's next Save —
// the next update of a person answering — in the same script and round
// trip (the mark's message id in its HSET of the state, when the mark
// belongs to the version the save replaces: takeTailForSave); until then a
// Load of the chat reads them from memory (peekTail). What waits longer
// than TailDelay is written by FlushTails (RunTails), many chats per round
// trip, and everything at shutdown. (Sessions 4–5 wrote them with the next
// Load, whose script session 6 removed.)
//
// What a crash loses is at most TailDelay of these: a redelivered update
// then shows its question once more instead of being dropped, the next
// turn sends a new card instead of editing the last one, the reminder is
// due at the previous turn's time. None holds an answer, and the state
// itself is never deferred. The tail lives in the replica that handled the
// turn: where a chat's updates may reach different replicas (webhook
// behind a balancer without chat affinity) keep TailDelay short or 0.

// tail is what waits for one chat.
type tail struct {
	since   time.Time // when the oldest of it was deferred
	version uint64    // the state version last loaded or saved here
	marks   []int64   // updates whose replies were sent
	markV   uint64    // version the last mark's message id belongs to
	lastMsg int
	hasMark bool
	arm     bool // a reminder (re)armed: lang, due, armTTL
	// armCheck: the arm only checks that the reminder is pending in lang
	// (written by this replica at most armSlack earlier: armSkip).
	armCheck bool
	lang     string
	due      int64 // ms
	armTTL   int64 // ms
	armAt    int64 // ms, when armed
	sent     []int // message ids for RecordSent
	sentAt   int64 // ms
	// taken is tailBook.gen when the tail was taken for a write: a write
	// that fails puts it back (putBack) unless the chat was erased or its
	// reminder cancelled since.
	taken uint64
}

func (t *tail) empty() bool { return !t.hasMark && !t.arm && len(t.sent) == 0 }

// deferring reports whether tails are deferred.
func (s *Store) deferring() bool { return s.tailDelay > 0 }

// tailFor returns the chat's tail, creating it; s.mu must be held.
func (s *Store) tailFor(chat int64) *tail {
	t := s.tails[chat]
	if t == nil {
		t = &tail{}
		s.tails[chat] = t
	}
	return t
}

// takeTail removes and returns the chat's pending tail (nil when none)
// for the chat's read. The mark's message id stays pending (in a tail of
// its own, same since): the chat's next Save writes it in its HSET of the
// state (markFor), or FlushTails does. The returned tail still holds it,
// so that the read returns it (readChat); tailArgs leaves it out.
func (s *Store) takeTail(chat int64) *tail {
	if !s.deferring() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	delete(s.tails, chat)
	if t == nil || t.empty() {
		return nil
	}
	if t.hasMark {
		s.tails[chat] = &tail{since: t.since, version: t.version, hasMark: true, lastMsg: t.lastMsg, markV: t.markV}
	}
	t.taken = s.book.take()
	return t
}

// takeTailForSave removes and returns the chat's pending tail (nil when
// none) for a Save replacing version expect, with the message id of its
// mark when the mark belongs to that version ("" otherwise: the mark then
// stays pending, in a tail of its own, for FlushTails, which writes it
// only onto its version).
func (s *Store) takeTailForSave(chat int64, expect uint64) (*tail, string) {
	if !s.deferring() {
		return nil, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	delete(s.tails, chat)
	if t == nil || t.empty() {
		return nil, ""
	}
	mark := ""
	if t.hasMark {
		if t.markV == expect {
			mark = strconv.Itoa(t.lastMsg)
		} else {
			s.tails[chat] = &tail{since: t.since, version: t.version, hasMark: true, lastMsg: t.lastMsg, markV: t.markV}
		}
	}
	t.taken = s.book.take()
	return t, mark
}

// peekTail returns what a read of the chat must know of its pending tail:
// the mark (its message id and version; nil when none) and whether update
// is among the updates marked sent.
func (s *Store) peekTail(chat, update int64) (mark *tail, sent bool) {
	if !s.deferring() {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	if t == nil {
		return nil, false
	}
	if t.hasMark {
		mark = &tail{hasMark: true, lastMsg: t.lastMsg, markV: t.markV}
	}
	return mark, slices.Contains(t.marks, update)
}

// markedSent reports whether update is among the chat's pending tail's
// updates marked sent (peekTail's sent, without its mark).
func (s *Store) markedSent(chat, update int64) bool {
	if !s.deferring() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	return t != nil && slices.Contains(t.marks, update)
}

// noteVersion remembers the version of the chat's state this replica
// last saw, so that a deferred message id is written only onto that
// state (another replica may have moved it on meanwhile).
func (s *Store) noteVersion(chat int64, v uint64) {
	if !s.deferring() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tails[chat]; t != nil {
		t.version = v
		return
	}
	if v != 0 {
		s.tails[chat] = &tail{version: v, since: s.now()}
	}
}

// tailArgs are the tail's arguments of loadTailScript, inboundScript and
// tailScript (now: the time of the write, ms):
//   - the mark pair: message id ("" = no mark, or markEmpty) and its state
//     version;
//   - the reminder's arm: "" (none), or "w" (write its due time) or "c"
//     (check only: see armSkip) followed by its language;
//   - "<chat id> <due> <ttl> <expiry (when armed + ttl, ms)> <that less
//     ttlSlack>" (read only when written; "" without an arm);
//   - the sent ids: "" (none), else "<sent at> <oldest kept> <id> <id>…"
//     (ms; the oldest is now less SentTTL);
//   - the marked update ids, one argument each.
//
// No tail (nil): no arguments at all — each argument of a script costs
// Redis about 1.2k instructions (session 7 packed the arm's mode and
// language, and the sent ids' time and oldest kept, into one argument each).
// saveScript takes the same pieces in places of its own (Store.save).
func (s *Store) tailArgs(chat int64, t *tail, mark tailMark, now time.Time) []any {
	if t == nil {
		return nil
	}
	v := &argv{a: make([]any, 0, 5+len(t.marks))}
	s.appendTail(v, chat, t, mark, now)
	return v.a
}

// appendTail appends tailArgs to v.
func (s *Store) appendTail(v *argv, chat int64, t *tail, mark tailMark, now time.Time) {
	if t == nil {
		return
	}
	if t.hasMark && mark == markWrite {
		v.int(int64(t.lastMsg))
		v.int(int64(t.markV))
	} else {
		v.lit("")
		v.lit(0)
	}
	if t.arm {
		v.str(armArg(t))
		v.str(string(appendArmNums(make([]byte, 0, 80), chat, t)))
	} else {
		v.lit("")
		v.lit("")
	}
	v.str(sentArg(t, now))
	for _, u := range t.marks {
		v.int(u)
	}
}

// armArg is the tail's arm argument: "" (none), or "w" (write its due
// time) or "c" (check only: see armSkip) followed by its language.
func armArg(t *tail) string {
	switch {
	case !t.arm:
		return ""
	case t.armCheck:
		return "c" + t.lang
	default:
		return "w" + t.lang
	}
}

// appendArmNums appends the arm's numbers to b: "<chat id> <due> <ttl>
// <expiry (when armed + ttl, ms)> <that less ttlSlack>".
func appendArmNums(b []byte, chat int64, t *tail) []byte {
	exp := t.armAt + t.armTTL
	slack := ttlSlack(time.Duration(t.armTTL) * time.Millisecond).Milliseconds()
	for i, n := range [...]int64{chat, t.due, t.armTTL, exp, exp - slack} {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return b
}

// sentArg is the tail's sent ids: "" (none), else "<sent at> <oldest
// kept> <id> <id>…" (ms; the oldest is now less SentTTL).
func sentArg(t *tail, now time.Time) string {
	if len(t.sent) == 0 {
		return ""
	}
	b := make([]byte, 0, 32+12*len(t.sent))
	b = strconv.AppendInt(b, t.sentAt, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, now.Add(-SentTTL).UnixMilli(), 10)
	for _, id := range t.sent {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(b)
}

// tailMark says what tailArgs passes of the tail's mark.
type tailMark uint8

const (
	markEmpty tailMark = iota // an empty mark pair: the script writes no message id
	markWrite                 // the mark's message id and version, when there is a mark
)

// tailLua applies a tail. It expects seenLua before it, the seen record
// loaded (seenload) and written after it (seensave), and the arguments
// S (state hash), U (seen record), R (reminder hash), M (sent message
// zset), A (ARGV offset of the tail's arguments after its mark pair: the
// arm, at A; none when #ARGV < A + 2; tailArgs) and nomarks. Without
// nomarks the mark pair is at and the marks (A+3…) are written
// into the seen record. With nomarks (saveScript: A is not used) the arm
// is ARGV 14 and the sent ids ARGV 19 (or none), there is no mark pair
// (the save writes the mark's id with its HSET of the state), the marks
// are left to the caller (in ARGV 4), and nomarks is a function that
// returns the arm's numbers (read from ARGV 15 only when written). The most seen ids kept, the
// sent ids' TTL and their most kept are constants of the script's text.
// It returns 1 when the reminder's index needs a ZADD (the reminder was
// armed anew, or its due time moved earlier), else 0; and, when there is
// an arm, the language the reminder is pending in after it (nil: not
// pending, or no arm). known (saveScript only) is the language the save
// before found or left the reminder pending in, as the state hash's
// mirror says (nil: unknown): a check ("c") in that language then reads
// nothing.
//
// The mark's message id goes onto the state only at the version it
// belongs to (an HGET of v, only when there is a mark). Only FlushTails
// sends one: a Load leaves it to the next Save (markFor), and substitutes
// it in its read (readChat) when the read is at that version.
//
// The reminder: a turn of a pending reminder (same language) moves only
// its due time (HSET d). Its index member keeps the earlier due time it
// was armed at — a hint: the claim finds the reminder not yet due and
// re-scores it (claimScript's "later"), once per reminder instead of a ZADD
// per turn. Its TTL is refreshed only when it would end more than
// ttlSlack later (e = the expiry last set, ms).
var tailLua = `
local function tail(S, U, R, M, A, nomarks, known)
  local idx = 0
  local rp = nil
  local arm, nums, sent
  if nomarks then
    arm, nums, sent = ARGV[14], nomarks, ARGV[19] or ''
  else
    if #ARGV < A + 2 then return 0 end
    arm, nums, sent = ARGV[A], ARGV[A + 1], ARGV[A + 2]
    if ARGV[A - 2] ~= '' and redis.call('HGET', S, 'v') == ARGV[A - 1] then
      redis.call('HSET', S, 'm', ARGV[A - 2])
    end
    -- The marks change the seen record (seen.go) that the caller loaded
    -- and writes.
    for i = A + 3, #ARGV do
      seenmark(ARGV[i], 's', ` + strconv.Itoa(seenMax) + `)
    end
  end
  if arm ~= '' and known == string.sub(arm, 2) and string.byte(arm, 1) == 99 then
    -- A check of a reminder that the save before this one found or left
    -- pending in the same language (known: the state hash's mirror,
    -- saveScript): nothing to read or write.
    rp = known
  elseif arm ~= '' then
    local lang = string.sub(arm, 2)
    local r = redis.call('HMGET', R, 's', 'l', 'd', 'e')
    local same = r[1] == 'p' and r[2] == lang and r[3]
    if same then rp = lang end
    -- A check ("c") of a reminder pending in the same language writes
    -- nothing; otherwise the arguments are read.
    if r[1] ~= 'x' and r[1] ~= 'n' and not (same and string.byte(arm, 1) == 99) then
      rp = lang
      if type(nums) == 'function' then nums = nums() end
      local c, due, ttl, exp, low = string.match(nums, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
      if same then
        if ilt(due, r[3]) then idx = 1 end
        if r[4] and not ilt(exp, r[4]) and not ilt(r[4], low) then
          redis.call('HSET', R, 'd', due)
        else
          redis.call('HSET', R, 'd', due, 'e', exp)
          redis.call('PEXPIRE', R, ttl)
        end
      else
        redis.call('HSET', R, 'c', c, 'l', lang, 'd', due, 's', 'p', 'e', exp)
        redis.call('PEXPIRE', R, ttl)
        idx = 1
      end
    end
  end
  if sent ~= '' then
    local at, oldest, ids = string.match(sent, '^(%d+) (%d+) (.*)$')
    redis.call('ZREMRANGEBYSCORE', M, '-inf', '(' .. oldest)
    for id in string.gmatch(ids, '%d+') do
      redis.call('ZADD', M, at, id)
    end
    redis.call('ZREMRANGEBYRANK', M, 0, ` + strconv.Itoa(-(sentMax + 1)) + `)
    redis.call('PEXPIRE', M, ` + strconv.FormatInt(SentTTL.Milliseconds(), 10) + `)
  end
  return idx, rp
end
`

// tailScript writes a deferred tail on its own (FlushTails).
// It returns 2 when the reminder's index needs a ZADD, else 1.
//
// KEYS: state hash, seen record, reminder hash, sent message zset. ARGV:
// now (ms), seen TTL (ms), now less the seen TTL's slack (commonArgs),
// then the tail's arguments with the mark pair (tailArgs).
var tailScript = newScript(seenLua + tailLua + `
seenload(KEYS[2])
local idx = tail(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 6)
seensave(KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return 1 + idx
`)

// keptScript is tailScript for a tail kept after its writes failed
// without TailDelay (keepFailed): the mark's message id goes onto the
// state unless the state shows a newer card already (a later MarkSent
// went through first: message ids only grow in a chat), so a retry never
// moves the live card back; without TailDelay no state version is known
// here to pin it to. The rest is tailScript's.
var keptScript = newScript(seenLua + tailLua + `
seenload(KEYS[2])
local m = ARGV[4]
ARGV[4] = ''
if m ~= '' then
  local r = redis.call('HMGET', KEYS[1], 'v', 'm')
  if r[1] and (not r[2] or tonumber(r[2]) < tonumber(m)) then
    redis.call('HSET', KEYS[1], 'm', m)
  end
end
local idx = tail(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 6)
seensave(KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return 1 + idx
`)

// commonArgs are the first arguments of tailScript and loadTailScript,
// and those of inboundScript after its first three: now (ms), seen TTL
// (ms) and now less ttlSlack of the seen TTL (ms: a seen record whose TTL
// was set before keeps it; seenLua).
func (s *Store) commonArgs(now time.Time) []any {
	return []any{now.UnixMilli(), s.seenTTL.Milliseconds(), s.seenPXAfter(now)}
}

// seenPXAfter is now less ttlSlack of the seen TTL, in ms.
func (s *Store) seenPXAfter(now time.Time) string {
	return strconv.FormatInt(s.seenPXAfterMS(now), 10)
}

func (s *Store) seenPXAfterMS(now time.Time) int64 {
	return now.Add(-ttlSlack(s.seenTTL)).UnixMilli()
}

// FlushTails writes the tails deferred before olderThan (all of them when
// olderThan is zero), in one pipeline; without TailDelay, the tails kept
// after their writes failed (keepFailed), whatever olderThan.
func (s *Store) FlushTails(ctx context.Context, olderThan time.Time) error {
	sc := tailScript
	if !s.deferring() {
		sc, olderThan = keptScript, time.Time{}
	}
	type item struct {
		chat int64
		t    *tail
	}
	var items []item
	s.mu.Lock()
	for chat, t := range s.tails {
		if olderThan.IsZero() || t.since.Before(olderThan) {
			delete(s.tails, chat)
			if !t.empty() {
				t.taken = s.book.take()
				items = append(items, item{chat, t})
				// The tail's marks and mark go into Redis's seen
				// record and state, which this replica's entry of
				// the chat does not show (warm.go): dropped now and
				// once written.
				s.warmDropLocked(chat)
			}
		}
	}
	s.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	defer func() {
		for _, it := range items {
			s.warmDrop(it.chat)
		}
	}()
	now := s.now()
	common := s.commonArgs(now)
	cmds := make([]*redis.Cmd, len(items))
	zadded := make([]bool, len(items))
	err := s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
		for i, it := range items {
			args := append(append([]any{}, common...), s.tailArgs(it.chat, it.t, markWrite, now)...)
			cmds[i] = run(sc, []string{s.stateKey(it.chat), s.seenKey(it.chat), s.remindKey(it.chat), s.sentKey(it.chat)}, args...)
			zadded[i] = it.t.arm && !s.remindHinted(it.chat, it.t.due)
			if zadded[i] {
				p.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(it.t.due), Member: s.chatID(it.chat)})
			}
		}
	})
	if err != nil {
		// The tails whose script did not answer wait for the next flush
		// or save (a script that ran and whose reply was lost is written
		// again: each of its writes is idempotent).
		n := 0
		for i, it := range items {
			if cmds[i] == nil || cmds[i].Err() != nil {
				s.putBack(it.chat, it.t, true)
				n++
			}
		}
		return fmt.Errorf("redisstore: flush tails (%d of %d kept for the next try): %w", n, len(items), err)
	}
	// Reminders armed anew that this replica did not know of: their
	// index members (schedule.go).
	var late []redis.Z
	for i, it := range items {
		if !it.t.arm {
			continue
		}
		s.noteArmed(it.chat, it.t)
		flag, _ := cmds[i].Int()
		if flag == 2 && !zadded[i] {
			late = append(late, redis.Z{Score: float64(it.t.due), Member: s.chatID(it.chat)})
		}
		if flag == 2 || zadded[i] {
			s.noteRemindHint(it.chat, it.t.due)
		}
	}
	if len(late) > 0 {
		if err := s.rdb.ZAdd(ctx, s.remindDueKey(), late...).Err(); err != nil {
			return fmt.Errorf("redisstore: flush tails: reminder index: %w", err)
		}
	}
	return nil
}

// keptRetry is how often, without TailDelay, the writes kept after a
// failure (keepFailed) are tried again.
const keptRetry = time.Second

// RunTails writes deferred tails once they are TailDelay old, until ctx
// ends; then it writes all that are left (within 5 s). Without TailDelay
// it writes, every keptRetry, what was kept after a failed write
// (keepFailed). Run it once per Store.
func (s *Store) RunTails(ctx context.Context) {
	every := keptRetry
	if s.deferring() {
		every = max(s.tailDelay/4, 10*time.Millisecond)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = s.FlushTails(final, time.Time{})
			cancel()
			return
		case <-tick.C:
			if !s.deferring() && s.PendingTails() == 0 {
				continue
			}
			// A tail whose write fails is put back (putBack): the next
			// tick or the chat's next save writes it.
			_ = s.FlushTails(ctx, s.now().Add(-s.tailDelay))
			if s.warming() {
				s.warmSweep(s.now())
			}
		}
	}
}

// PendingTails returns how many chats have a deferred tail (for tests and
// metrics).
func (s *Store) PendingTails() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tails {
		if !t.empty() {
			n++
		}
	}
	return n
}

// dropArm forgets a deferred reminder arm (the reminder is cancelled),
// and that this replica indexed the chat's reminder.
func (s *Store) dropArm(chat int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tails[chat]; t != nil {
		t.arm = false
	}
	s.book.drop(chat, false)
	delete(s.remindHints, chat)
	delete(s.armed, chat)
}

// dropTail forgets everything deferred for the chat (it is erased): no
// reminder, mark or message id is written after the erasure; nor index
// members this replica added for it.
func (s *Store) dropTail(chat int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tails, chat)
	s.book.drop(chat, true)
	delete(s.remindHints, chat)
	delete(s.expireHints, chat)
	delete(s.armed, chat)
}

// putBack returns tail t, taken for a write that failed (Redis down, the
// reply lost), to the chat's pending tail, so that the next flush or save
// writes it once Redis is back: the message ids /delete needs, the mark
// (the live card, the updates whose replies went out) and the reminder's
// arm. What the chat deferred since is newer and wins (its mark, its arm);
// the marked updates and the message ids are joined. withMark: the write
// had taken the mark's message id (a save at the mark's version, a flush);
// otherwise it stayed pending. A tail of a chat erased since it was taken
// is dropped, as dropTail drops what waits; a reminder cancelled since is
// not armed again (dropArm). Writing a tail twice (the failed write did
// run) changes nothing: the marks and ids are sets, the arm rewrites its
// own due time, and the mark's id goes only onto its version.
func (s *Store) putBack(chat int64, t *tail, withMark bool) {
	if t == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	erased, cancelled := s.book.droppedSince(chat, t.taken)
	if erased {
		return
	}
	cur := s.tails[chat]
	if cur == nil {
		cur = &tail{since: t.since, version: t.version}
		s.tails[chat] = cur
	}
	if cur.empty() || t.since.Before(cur.since) {
		cur.since = t.since
	}
	if len(t.marks) > 0 {
		marks := make([]int64, 0, len(t.marks)+len(cur.marks))
		for _, u := range t.marks {
			if !slices.Contains(cur.marks, u) {
				marks = append(marks, u)
			}
		}
		cur.marks = append(marks, cur.marks...)
	}
	if withMark && t.hasMark && !cur.hasMark {
		cur.hasMark, cur.lastMsg, cur.markV = true, t.lastMsg, t.markV
	}
	if t.arm && !cur.arm && !cancelled {
		cur.arm, cur.armCheck, cur.lang, cur.due, cur.armTTL, cur.armAt = true, t.armCheck, t.lang, t.due, t.armTTL, t.armAt
	}
	if len(t.sent) > 0 {
		sent := make([]int, 0, len(t.sent)+len(cur.sent))
		sent = append(append(sent, t.sent...), cur.sent...)
		if len(cur.sent) == 0 {
			cur.sentAt = t.sentAt
		}
		cur.sent = sent
	}
}

// tailBook tells putBack whether a chat's tail was dropped (erasure) or
// its arm (a cancelled reminder) after the tail was taken for a write.
// Guarded by Store.mu.
type tailBook struct {
	gen   uint64               // counts the takes
	floor uint64               // drops at or before it are forgotten
	drops map[int64]tailDropAt // chat → the last drop
}

type tailDropAt struct {
	gen uint64
	all bool // dropTail; else dropArm
}

// maxTailDrops bounds tailBook.drops; a drop is one per erasure or
// cancelled reminder, and matters only while a write is in flight.
const maxTailDrops = 10_000

// take returns the generation of a tail taken now.
func (b *tailBook) take() uint64 {
	b.gen++
	return b.gen
}

// drop records that the chat's tail (all) or its arm was dropped now.
func (b *tailBook) drop(chat int64, all bool) {
	switch {
	case b.drops == nil:
		b.drops = map[int64]tailDropAt{}
	case len(b.drops) >= maxTailDrops:
		// Forgotten: a tail taken before now is treated as dropped.
		clear(b.drops)
		b.floor = b.gen
	}
	d := b.drops[chat]
	b.drops[chat] = tailDropAt{gen: b.gen, all: all || (d.all && d.gen == b.gen)}
}

// droppedSince reports whether the chat's tail (erased) or its arm
// (cancelled) was dropped after a tail was taken at generation taken.
func (b *tailBook) droppedSince(chat int64, taken uint64) (erased, cancelled bool) {
	if taken <= b.floor {
		return true, true
	}
	d, ok := b.drops[chat]
	if !ok || d.gen < taken {
		return false, false
	}
	return d.all, true
}

// keepUnsent keeps message ids whose write failed without TailDelay
// (RecordSent's own round trip; with TailDelay they wait in the tail and
// putBack keeps them): in a tail of their own, which only this and
// takeUnsent use then. The chat's next RecordSent writes them, and
// SentMessages lists them meanwhile, so that /delete finds them. kept
// (at keptAt, ms) were taken from such a tail by the failed write; ids
// (at, ms) are its own. Not after an erasure: Delete drops the tail.
func (s *Store) keepUnsent(chat int64, kept []int, keptAt int64, ids []int, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	if t == nil {
		t = &tail{since: s.now()}
		s.tails[chat] = t
	}
	sent := make([]int, 0, len(kept)+len(t.sent)+len(ids))
	sent = append(append(sent, kept...), t.sent...)
	for _, id := range ids {
		if id != 0 {
			sent = append(sent, id)
		}
	}
	if len(sent) > sentMax {
		sent = sent[len(sent)-sentMax:] // what the sorted set keeps too
	}
	t.sent, t.sentAt = sent, max(t.sentAt, keptAt, at)
}

// takeUnsent removes and returns the message ids keepUnsent kept for the
// chat and their time (ms); none with TailDelay (the tail is the save's).
// The rest of a kept tail (keepFailed) stays.
func (s *Store) takeUnsent(chat int64) ([]int, int64) {
	if s.deferring() {
		return nil, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	if t == nil {
		return nil, 0
	}
	sent, at := t.sent, t.sentAt
	t.sent, t.sentAt = nil, 0
	if t.empty() {
		delete(s.tails, chat)
	}
	return sent, at
}

// keepFailed keeps, without TailDelay, what a failed MarkSent (mark: the
// update whose replies went out, and the live card's message id) or
// ArmReminder (arm) did not write, as the TailDelay path keeps a tail
// whose write failed (putBack): RunTails writes it once Redis is back
// (keptScript), with the message ids keepUnsent keeps. Before, only the
// message ids were kept: the live card's id was lost (another replica
// then leaves the card's keys on screen and shows a new one), and so was
// the reminder's arm (the last turn's push, or the whole reminder of a
// person who stopped right after). What is kept is newer than what was
// kept before (its mark and arm win; marks are joined). Not after an
// erasure or a cancel (dropTail, dropArm: they clear what is kept).
func (s *Store) keepFailed(chat int64, mark *tail, arm *tail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	if t == nil {
		t = &tail{since: s.now()}
		s.tails[chat] = t
	}
	if mark != nil {
		for _, u := range mark.marks {
			if !slices.Contains(t.marks, u) {
				t.marks = append(t.marks, u)
			}
		}
		t.hasMark, t.lastMsg = true, mark.lastMsg
	}
	if arm != nil {
		t.arm, t.armCheck, t.lang, t.due, t.armTTL, t.armAt = true, false, arm.lang, arm.due, arm.armTTL, arm.armAt
	}
}

// keptMark reads, without TailDelay, the mark kept after a failed
// MarkSent (keepFailed) for a Load of the chat: whether update is among
// its updates marked sent, and its live card's message id (0: none kept).
func (s *Store) keptMark(chat, update int64) (sent bool, msg int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[chat]
	if t == nil || !t.hasMark {
		return false, 0
	}
	return slices.Contains(t.marks, update), t.lastMsg
}

// armWritten forgets, without TailDelay, an arm kept after a failure
// (keepFailed) once a newer ArmReminder went through: a retry would set
// the reminder back to the older due time.
func (s *Store) armWritten(chat int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tails[chat]; t != nil && t.arm {
		t.arm = false
		if t.empty() {
			delete(s.tails, chat)
		}
	}
}
