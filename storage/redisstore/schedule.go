package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reminders: one per interview, scheduled in Redis so that scheduling
// survives restarts and a reminder goes out once across replicas.
//
//	<prefix>{c:N}:r   hash  c = chat id (decimal; only while the reminder is pending),
//	                        l = language, d = due (ms), s = "p" pending, "x" sent,
//	                        "n" never (Stop pressed, bot blocked); expires with the state
//	<prefix>{c:N}:rl  string lease of the replica handling the reminder (SET NX PX)
//	<prefix>remind:due zset member N, score = due (ms): a hint, checked against :r
//
// The raw chat id is on the value side of the chat's own key and only
// until the reminder is sent (DoneReminder removes it) or cancelled.

func (s *Store) remindKey(chat int64) string { return s.chatKey(chat, 'r') }
func (s *Store) remindDueKey() string        { return s.prefix + "remind:due" }

// armScript: KEYS[1] = :r; ARGV = chat, lang, due ms, ttl ms. A reminder
// already sent or refused for this interview is not armed again.
var armScript = newScript(`
local st = redis.call('HGET', KEYS[1], 's')
if st == 'x' or st == 'n' then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'l', ARGV[2], 'd', ARGV[3], 's', 'p')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// ArmReminder (re)schedules the chat's reminder at due: each turn of an
// interview in progress pushes it back. It does nothing once the
// interview's reminder was sent or refused (Stop, blocked). ttl bounds how
// long the record (and the chat id in it) lives. With Options.TailDelay it
// is deferred (tail.go).
func (s *Store) ArmReminder(ctx context.Context, chat int64, lang string, due time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = s.stateTTL
	}
	d := due.UnixMilli()
	if left := due.Sub(s.now()) + 2*time.Hour; ttl < left {
		ttl = left
	}
	if s.deferring() {
		now := s.now()
		s.mu.Lock()
		t := s.tailFor(chat)
		if t.empty() {
			t.since = now
		}
		check := s.armSkip(chat, lang, d, now)
		if t.arm {
			check = check && t.armCheck
		}
		t.arm, t.armCheck, t.lang, t.due, t.armTTL, t.armAt = true, check, lang, d, ttl.Milliseconds(), now.UnixMilli()
		s.mu.Unlock()
		return nil
	}
	// Kept if it fails, and written again once Redis is back (keepFailed).
	kept := &tail{lang: lang, due: d, armTTL: ttl.Milliseconds(), armAt: s.now().UnixMilli()}
	armed, err := armScript.Run(ctx, s.rdb, []string{s.remindKey(chat)},
		strconv.FormatInt(chat, 10), lang, d, ttl.Milliseconds()).Int()
	if err != nil {
		s.keepFailed(chat, nil, kept)
		return fmt.Errorf("redisstore: arm reminder: %w", err)
	}
	if armed == 1 {
		if err := s.rdb.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(d), Member: s.chatID(chat)}).Err(); err != nil {
			s.keepFailed(chat, nil, kept)
			return fmt.Errorf("redisstore: arm reminder: %w", err)
		}
	}
	s.armWritten(chat)
	return nil
}

// CancelReminder drops the chat's pending reminder and its chat id.
// refuse records that none is wanted for this interview (Stop pressed, bot
// blocked): ArmReminder will not arm it again until the record expires or
// ForgetReminder is called (a new interview). Without refuse the record is
// deleted (completed, declined, /delete).
func (s *Store) CancelReminder(ctx context.Context, chat int64, refuse bool) error {
	s.dropArm(chat)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if refuse {
			p.HDel(ctx, s.remindKey(chat), "c", "l", "d")
			p.HSet(ctx, s.remindKey(chat), "s", "n")
			p.Expire(ctx, s.remindKey(chat), s.stateTTL)
		} else {
			p.Del(ctx, s.remindKey(chat), s.remindLeaseKey(s.chatID(chat)))
		}
		p.ZRem(ctx, s.remindDueKey(), s.chatID(chat))
		// The state hash's mirror of the reminder (saveScript): the
		// next save reads the reminder instead.
		p.HDel(ctx, s.stateKey(chat), "a")
		return nil
	})
	s.warmDrop(chat) // the mirror is gone (warm.go)
	if err != nil {
		return fmt.Errorf("redisstore: cancel reminder: %w", err)
	}
	return nil
}

func (s *Store) remindLeaseKey(id string) string { return s.tagKey(id, 'r') + "l" }

// claimScript: KEYS[1] = :r, KEYS[2] = lease; ARGV = now ms, lease ms,
// lease token. Returns {status, chat, lang, due}: status "ok" (claimed),
// "later" (rescheduled: due), "busy" (another replica holds the lease),
// "gone" (nothing pending).
var claimScript = newScript(`
local r = redis.call('HMGET', KEYS[1], 's', 'c', 'l', 'd')
if r[1] ~= 'p' or not r[2] then return {'gone', '', '', '0'} end
if tonumber(r[4]) > tonumber(ARGV[1]) then return {'later', '', '', r[4]} end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then return {'busy', '', '', r[4]} end
return {'ok', r[2], r[3], r[4]}
`)

// remindDoneScript: KEYS[1] = :r, KEYS[2] = lease; ARGV[1] = lease token. Marks
// the reminder sent and forgets the chat id, if the lease is still ours.
var remindDoneScript = newScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'c', 'd')
redis.call('HSET', KEYS[1], 's', 'x')
return 1
`)

// ClaimReminders returns up to limit reminders due by now, each leased to
// the caller for lease: another replica (or this one after a restart) gets
// it again only if DoneReminder was not called within the lease. On the
// way it repairs the index (re-scores rescheduled reminders, drops those
// no longer pending).
func (s *Store) ClaimReminders(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ReminderJob, error) {
	return s.claimDue(ctx, s.remindDueKey(), "reminder", now, limit, func(id string) (string, int64, Job, error) {
		token := randomID()
		res, err := claimScript.Run(ctx, s.rdb, []string{s.tagKey(id, 'r'), s.remindLeaseKey(id)},
			now.UnixMilli(), lease.Milliseconds(), token).StringSlice()
		if err != nil {
			return "", 0, Job{}, err
		}
		d, _ := strconv.ParseInt(res[3], 10, 64)
		chat, err := strconv.ParseInt(res[1], 10, 64)
		if res[0] == "ok" && err != nil {
			return "skip", d, Job{}, nil
		}
		return res[0], d, Job{Kind: JobRemind, Chat: chat, Lang: res[2], Due: time.UnixMilli(d), id: id, lease: token}, nil
	})
}

// ErrLeaseLost is returned by DoneReminder when the lease expired and
// another replica may have taken the reminder.
var ErrLeaseLost = errors.New("redisstore: reminder lease lost")

// DoneReminder records that the claimed reminder was handled (sent, or
// found not to be wanted): it is never sent again for this interview, and
// its chat id is forgotten. If the lease ran out first it changes nothing
// and returns ErrLeaseLost: the reminder is left, index entry included, to
// whichever replica claimed it since (or claims it next).
func (s *Store) DoneReminder(ctx context.Context, j ReminderJob) error {
	ok, err := remindDoneScript.Run(ctx, s.rdb, []string{s.tagKey(j.id, 'r'), s.remindLeaseKey(j.id)}, j.lease).Int()
	if err != nil {
		return fmt.Errorf("redisstore: reminder done: %w", err)
	}
	if ok == 0 {
		// Another replica may hold the reminder now: its index entry is
		// that replica's to drop, or, should it die first, what lets the
		// reminder be claimed again (the core's key keeps it from being
		// applied twice; a claim drops an entry found no longer pending).
		return ErrLeaseLost
	}
	if err := s.rdb.ZRem(ctx, s.remindDueKey(), j.id).Err(); err != nil {
		return fmt.Errorf("redisstore: reminder done: %w", err)
	}
	return nil
}

// ReminderSent reports whether the chat's interview got its reminder (for
// the resume funnel).
func (s *Store) ReminderSent(ctx context.Context, chat int64) (bool, error) {
	st, err := s.rdb.HGet(ctx, s.remindKey(chat), "s").Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redisstore: reminder sent: %w", err)
	}
	return st == "x", nil
}

// The reminder index (remind:due) gets a member when a reminder is armed
// anew, not on every turn that pushes the reminder back: the member keeps
// the earlier due time, a hint that the claim re-scores ("later"). A
// replica remembers which chats it indexed (remindHints: chat → the score
// it added) so that it pipelines the ZADD with the script only when it
// does not know; the script tells it when a ZADD is needed all the same
// (armed by none or another replica, cancelled and armed again, due time
// moved earlier), and then it follows up with one.

// maxHints bounds remindHints and expireHints; past it they start afresh
// (at worst a ZADD more each).
const maxHints = 100_000

// remindHinted reports whether this replica indexed the chat's reminder
// at or before due.
func (s *Store) remindHinted(chat, due int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.remindHints[chat]
	return ok && h <= due
}

// noteRemindHint remembers (due > 0) or forgets (0) the chat's reminder
// index member added by this replica.
func (s *Store) noteRemindHint(chat, due int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if due == 0 {
		delete(s.remindHints, chat)
		return
	}
	if len(s.remindHints) >= maxHints {
		clear(s.remindHints)
	}
	s.remindHints[chat] = due
}

// armMark is a reminder this replica wrote (tail.go): its language and due
// time (ms).
type armMark struct {
	lang string
	due  int64
}

// armSkip reports whether a deferred arm of the chat's reminder at due
// need only check that the reminder is pending in the same language (the
// tail's "c"): this replica wrote it in that language at most the slack
// earlier (1/1440 of the delay, at most a minute). The reminder of a person
// answering every few seconds is so written about once a minute instead of
// on every turn (an HSET in Redis and five script arguments less); it may
// come up to that much early, never late. A reminder cancelled or sent
// meanwhile (another replica) is found by the check: armed anew, or left.
// s.mu must be held.
func (s *Store) armSkip(chat int64, lang string, due int64, now time.Time) bool {
	m, ok := s.armed[chat]
	if !ok || m.lang != lang || due < m.due {
		return false
	}
	slack := min(time.Minute, time.UnixMilli(due).Sub(now)/1440)
	return due-m.due < slack.Milliseconds()
}

// noteArmed remembers that the tail t, if it armed the reminder, was
// written.
func (s *Store) noteArmed(chat int64, t *tail) {
	if t == nil || !t.arm || t.armCheck {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.armed) >= maxHints {
		clear(s.armed)
	}
	s.armed[chat] = armMark{lang: t.lang, due: t.due}
}

// afterArm finishes a script that wrote tail t (nil: none) whose reply
// res is the seen record, followed by "i" when the reminder's index needs
// a ZADD (tailLua): it adds that member unless zadded (pipelined with the
// script), and returns res without the flag.
func (s *Store) afterArm(ctx context.Context, chat int64, t *tail, zadded bool, res []any) ([]any, error) {
	flag := false
	if n := len(res); n == 2 {
		if f, _ := res[n-1].(string); f == "i" {
			flag, res = true, res[:n-1]
		}
	}
	if t == nil || !t.arm {
		return res, nil
	}
	s.noteArmed(chat, t)
	if flag && !zadded {
		if err := s.rdb.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(t.due), Member: s.chatID(chat)}).Err(); err != nil {
			return nil, fmt.Errorf("reminder index: %w", err)
		}
	}
	if flag || zadded {
		s.noteRemindHint(chat, t.due)
	}
	return res, nil
}
