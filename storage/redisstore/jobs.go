package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scheduled jobs of several kinds, claimed through one call (ClaimJobs)
// and settled through another (DoneJob): each is leased (SET NX PX) to the
// replica that claims it, so it runs once across replicas, and survives
// restarts (a job whose lease ran out is claimed again).
//
// Reminders (schedule.go) keep their own hash and index. The expiry of an
// interview in progress past consent rides in its abandonment record, set
// by the same Save script that stores the state (so arming it costs no
// round trip of its own):
//
//	<prefix>{c:N}:a    hash   … xc = chat id, xd = due (ms), xv = state version it was armed at
//	<prefix>{c:N}:xl   string lease of the replica expiring the interview (SET NX PX)
//	<prefix>expire:due zset   member N, score = due (ms); a hint checked against :a
//
// A Save without a record (completed, declined, expired) deletes the
// record and with it the job; Delete (erasure) too. The raw chat id is on
// the value side of the chat's own key while the interview runs, as in
// the reminder's hash.

// ExpireGrace is how long a state is kept past its expiry job's due time:
// the scheduler has that long to expire it through the core; after it the
// state's TTL and the abandonment sweep take over (the safety net, also
// for states saved without a job).
const ExpireGrace = 24 * time.Hour

// JobKind says what a claimed job is.
type JobKind uint8

// Job kinds.
const (
	JobRemind JobKind = iota // the interview's one reminder
	JobExpire                // the interview idled out
)

func (k JobKind) String() string {
	switch k {
	case JobExpire:
		return "expire"
	case JobPublished:
		return "published"
	}
	return "remind"
}

// Job is a due job claimed by ClaimJobs (or ClaimReminders).
type Job struct {
	Kind JobKind
	Chat int64     // the chat it is for
	Lang string    // reminders: the respondent's language when armed
	Due  time.Time // when it was due: with the chat, its idempotency key
	// Version is, for an expiry, the state version it was armed at.
	Version uint64
	// Form and FormVersion, for JobPublished, are the version published
	// (published.go); Chat is 0.
	Form        string
	FormVersion int
	id          string // derived chat id (JobPublished: the due member)
	lease       string
}

// ReminderJob is a due reminder claimed by ClaimReminders.
type ReminderJob = Job

func (s *Store) expireDueKey() string            { return s.prefix + "expire:due" }
func (s *Store) expireLeaseKey(id string) string { return s.tagKey(id, 'x') + "l" }

// claimExpireScript: KEYS[1] = :a, KEYS[2] = lease; ARGV = now ms, lease
// ms, lease token. Returns {status, chat, due, version} as claimScript.
var claimExpireScript = newScript(`
local r = redis.call('HMGET', KEYS[1], 'xc', 'xd', 'xv')
if not r[1] or not r[2] then return {'gone', '', '0', '0'} end
if tonumber(r[2]) > tonumber(ARGV[1]) then return {'later', '', r[2], '0'} end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then return {'busy', '', r[2], '0'} end
return {'ok', r[1], r[2], r[3] or '0'}
`)

// expireDoneScript: KEYS[1] = :a, KEYS[2] = lease, KEYS[3] = the state
// hash; ARGV = lease token, due ms. Drops the job (and its chat id) if the
// lease is still ours and the job was not re-armed meanwhile; the record
// itself stays for the sweep. The state hash's mirror of the record
// (saveScript) goes with the job: the next save reads the record.
// Returns {ours (0/1), due of a job re-armed meanwhile or ”}.
var expireDoneScript = newScript(`
local ours = 0
if redis.call('GET', KEYS[2]) == ARGV[1] then
  ours = 1
  redis.call('DEL', KEYS[2])
end
local d = redis.call('HGET', KEYS[1], 'xd')
if d == ARGV[2] then
  if ours == 1 then
    redis.call('HDEL', KEYS[1], 'xc', 'xd', 'xv')
    redis.call('HDEL', KEYS[3], 'a')
  end
  return {ours, ''}
end
return {ours, d or ''}
`)

// ClaimJobs returns up to limit jobs of every kind due by now — reminders
// first, then expiries, then publications to fan out — each leased to the caller for lease (see
// ClaimReminders). Settle each with DoneJob once handled.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Job, error) {
	jobs, err := s.ClaimReminders(ctx, now, limit, lease)
	if err != nil {
		return jobs, err
	}
	more, err := s.claimExpiries(ctx, now, limit-len(jobs), lease)
	jobs = append(jobs, more...)
	if err != nil {
		return jobs, err
	}
	more, err = s.claimPublications(ctx, now, limit-len(jobs), lease)
	return append(jobs, more...), err
}

func (s *Store) claimExpiries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Job, error) {
	return s.claimDue(ctx, s.expireDueKey(), "expiry", now, limit, func(id string) (string, int64, Job, error) {
		token := randomID()
		res, err := claimExpireScript.Run(ctx, s.rdb, []string{s.tagKey(id, 'a'), s.expireLeaseKey(id)},
			now.UnixMilli(), lease.Milliseconds(), token).StringSlice()
		if err != nil {
			return "", 0, Job{}, err
		}
		d, _ := strconv.ParseInt(res[2], 10, 64)
		chat, err := strconv.ParseInt(res[1], 10, 64)
		if res[0] == "ok" && err != nil {
			return "skip", d, Job{}, nil
		}
		v, _ := strconv.ParseUint(res[3], 10, 64)
		return res[0], d, Job{Kind: JobExpire, Chat: chat, Due: time.UnixMilli(d), Version: v, id: id, lease: token}, nil
	})
}

// claimDue walks the members of the due index key that are due by now (at
// most limit) and runs claim on each, which leases one job (its script)
// and says what became of it: "ok" (the job is the caller's), "later"
// (re-scored to due), "gone" (dropped from the index), anything else
// (leased by another replica, or unreadable: left alone).
func (s *Store) claimDue(ctx context.Context, key, what string, now time.Time, limit int,
	claim func(id string) (status string, due int64, job Job, err error)) ([]Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	due, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: key, Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: claim %s jobs: %w", what, err)
	}
	var jobs []Job
	for _, id := range due {
		status, d, job, err := claim(id)
		if err != nil {
			return jobs, fmt.Errorf("redisstore: claim %s: %w", what, err)
		}
		switch status {
		case "gone":
			s.rdb.ZRem(ctx, key, id)
		case "later":
			s.rdb.ZAdd(ctx, key, redis.Z{Score: float64(d), Member: id})
		case "ok":
			jobs = append(jobs, job)
		}
	}
	return jobs, nil
}

// DoneJob records that a claimed job was handled: it is not claimed again
// (unless re-armed), and its chat id is forgotten. ErrLeaseLost says the
// lease ran out first: another replica may have taken the job (the core's
// idempotency key keeps it from being applied twice), so the job and its
// index entry are left as they are, for it or for the next claim.
func (s *Store) DoneJob(ctx context.Context, j Job) error {
	switch j.Kind {
	case JobRemind:
		return s.DoneReminder(ctx, j)
	case JobPublished:
		return s.donePublished(ctx, j)
	}
	// The script may drop the state's mirror (warm.go).
	defer s.warmDrop(j.Chat)
	res, err := expireDoneScript.Run(ctx, s.rdb, []string{s.tagKey(j.id, 'a'), s.expireLeaseKey(j.id), s.tagKey(j.id, 's')},
		j.lease, j.Due.UnixMilli()).Slice()
	if err != nil || len(res) != 2 {
		return fmt.Errorf("redisstore: expiry done: %d elements: %w", len(res), err)
	}
	if ours, _ := res[0].(int64); ours == 0 {
		// Another replica may hold the job now: the index entry is left to
		// it, or, should it die first, to the next claim (which re-scores
		// or drops it as the record says).
		return ErrLeaseLost
	}
	// The index entry goes, unless the job was re-armed meanwhile (a new
	// interview in the chat): then it is scored at its new due time.
	if rearmed, _ := res[1].(string); rearmed != "" {
		d, _ := strconv.ParseInt(rearmed, 10, 64)
		err = s.rdb.ZAdd(ctx, s.expireDueKey(), redis.Z{Score: float64(d), Member: j.id}).Err()
	} else {
		err = s.rdb.ZRem(ctx, s.expireDueKey(), j.id).Err()
	}
	if err != nil {
		return fmt.Errorf("redisstore: expiry done: %w", err)
	}
	return nil
}

// AbandonID returns the random id of the chat's abandonment record for
// the interview begun at started ("" when there is none, or it belongs to
// another interview): the system of record's idempotency key for it.
func (s *Store) AbandonID(ctx context.Context, chat int64, started time.Time) (string, error) {
	r, err := s.rdb.HMGet(ctx, s.abandonKey(chat), "st", "id").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redisstore: abandonment id: %w", err)
	}
	st, _ := r[0].(string)
	id, _ := r[1].(string)
	if st != strconv.FormatInt(started.UnixMilli(), 10) {
		return "", nil
	}
	return id, nil
}

// The expiry index (expire:due) gets a member when a save arms the job
// anew, not on every save that pushes the due time back: the member keeps
// the earlier due time, a hint that the claim re-scores ("later", from the
// record's xd). A replica remembers the members it added (expireHints) to
// pipeline the ZADD with the save only when it does not know one is there;
// the save script says when one is needed all the same (saveScript's idx).

// expireHint is an expiry index member this replica added for an
// interview (started ms) of a chat, scored due (ms).
type expireHint struct {
	started string
	due     int64
}

// expireHinted reports whether this replica indexed the expiry of the
// chat's interview (started) at or before due.
func (s *Store) expireHinted(chat int64, started string, due int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.expireHints[chat]
	return ok && h.started == started && h.due <= due
}

// noteExpireHint remembers the member a save added (added: scored due),
// or forgets it when the save armed no job (due 0).
func (s *Store) noteExpireHint(chat int64, started string, due int64, added bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if due == 0 || started == "" {
		delete(s.expireHints, chat)
		return
	}
	if !added {
		return
	}
	if len(s.expireHints) >= maxHints {
		clear(s.expireHints)
	}
	s.expireHints[chat] = expireHint{started: started, due: due}
}
