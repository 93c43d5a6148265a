package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A form version published while interviews run (interview.KindPublished)
// reaches the chats waiting at the language choice of that form: only they
// can move to it (any other interview keeps the version it began with).
// Chats past consent are not indexed here: applying the input to them
// would change nothing.
//
//	<prefix>{c:N}:l            hash   c = chat id, f = form: the chat waits at the form's
//	                                  language choice (written and dropped by SaveWaiting in
//	                                  the save's script, erased by Delete, else expires with
//	                                  the state; field l of the state hash names the form)
//	<prefix>lw:<form>          zset   member N, score = when the :l record lapses (ms);
//	                                  a hint checked against :l
//	<prefix>{publish}:due      zset   member "<form>|<version>", score = when announced (ms):
//	                                  the fan-out job (JobPublished)
//	<prefix>{publish}:l:<m>    string lease of the replica fanning member m out (SET NX PX)
//	<prefix>{publish}:d:<m>    string the fan-out of m was done (PublishedDoneTTL)
//
// Every replica that sees a new version announces it (Announce); the
// done marker and the index's one member make it one job, which the
// scheduler leases to one replica like any other (ClaimJobs, DoneJob). A
// fan-out cut short (crash, lease lost) is claimed again and delivered
// again: each chat's input carries interview.PublishedKey, so the core
// applies it once.

// PublishedDoneTTL is how long a finished fan-out is remembered, so that
// a replica that sees the version late does not announce it again.
const PublishedDoneTTL = 30 * 24 * time.Hour

// JobPublished is a form version to fan out to the chats waiting at its
// language choice (Job.Form, Job.FormVersion). Its handler walks them
// with ForEachWaiting.
const JobPublished JobKind = 100

func (s *Store) waitKey(chat int64) string          { return s.chatKey(chat, 'l') }
func (s *Store) waitIndexKey(form string) string    { return s.prefix + "lw:" + form }
func (s *Store) publishDueKey() string              { return s.prefix + "{publish}:due" }
func (s *Store) publishLeaseKey(m string) string    { return s.prefix + "{publish}:l:" + m }
func (s *Store) publishDoneKey(m string) string     { return s.prefix + "{publish}:d:" + m }
func publishMember(form string, version int) string { return form + "|" + strconv.Itoa(version) }

// announceScript: KEYS[1] = due, KEYS[2] = done; ARGV = member, now ms.
// Returns 1 when the job was added, 0 when it is queued or done already.
var announceScript = newScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
`)

// Announce schedules the fan-out of form's version (due now), unless it
// is queued or was done: every replica that sees the version may call it,
// the fan-out runs once. It reports whether this call queued it.
func (s *Store) Announce(ctx context.Context, form string, version int) (bool, error) {
	m := publishMember(form, version)
	n, err := announceScript.Run(ctx, s.rdb, []string{s.publishDueKey(), s.publishDoneKey(m)}, m, s.now().UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: announce publication: %w", err)
	}
	return n == 1, nil
}

// claimPublishScript: KEYS[1] = due, KEYS[2] = done, KEYS[3] = lease;
// ARGV = member, lease ms, token. Returns 'gone', 'busy' or 'ok'.
var claimPublishScript = newScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 'gone'
end
if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then return 'busy' end
return 'ok'
`)

func (s *Store) claimPublications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Job, error) {
	return s.claimDue(ctx, s.publishDueKey(), "publication", now, limit, func(m string) (string, int64, Job, error) {
		form, v, ok := strings.Cut(m, "|")
		version, err := strconv.Atoi(v)
		if !ok || err != nil {
			return "gone", 0, Job{}, nil
		}
		token := randomID()
		res, err := claimPublishScript.Run(ctx, s.rdb,
			[]string{s.publishDueKey(), s.publishDoneKey(m), s.publishLeaseKey(m)},
			m, lease.Milliseconds(), token).Text()
		if err != nil || res != "ok" {
			return "", 0, Job{}, err // busy, or done (the script dropped it)
		}
		return "ok", 0, Job{Kind: JobPublished, Form: form, FormVersion: version, Due: now, id: m, lease: token}, nil
	})
}

// ClaimSilentJobs claims, like ClaimJobs, only the due jobs that send
// nothing (publications to fan out): the scheduler runs them in the quiet
// hours too.
func (s *Store) ClaimSilentJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Job, error) {
	return s.claimPublications(ctx, now, limit, lease)
}

// publishDoneScript: KEYS[1] = due, KEYS[2] = done, KEYS[3] = lease; ARGV
// = member, token, done ms. The fan-out ran to its end: remembered as
// done whoever holds the lease. Returns 1 if the lease was still ours.
var publishDoneScript = newScript(`
local ours = 0
if redis.call('GET', KEYS[3]) == ARGV[2] then
  ours = 1
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return ours
`)

func (s *Store) donePublished(ctx context.Context, j Job) error {
	ours, err := publishDoneScript.Run(ctx, s.rdb,
		[]string{s.publishDueKey(), s.publishDoneKey(j.id), s.publishLeaseKey(j.id)},
		j.id, j.lease, PublishedDoneTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: publication done: %w", err)
	}
	if ours == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ForEachWaiting calls fn, batch by batch (batch chats per round trip),
// for each chat waiting at the language choice of form; it stops at fn's
// first error. Index entries that lapsed or no longer match (the chat
// moved to another form, or was erased) are dropped on the way.
func (s *Store) ForEachWaiting(ctx context.Context, form string, batch int, fn func(chat int64) error) error {
	if batch <= 0 {
		batch = 100
	}
	key := s.waitIndexKey(form)
	if err := s.rdb.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(s.now().UnixMilli(), 10)).Err(); err != nil {
		return fmt.Errorf("redisstore: waiting chats: %w", err)
	}
	var stale []any
	defer func() {
		if len(stale) > 0 {
			s.rdb.ZRem(context.WithoutCancel(ctx), key, stale...)
		}
	}()
	for start := int64(0); ; start += int64(batch) {
		ids, err := s.rdb.ZRange(ctx, key, start, start+int64(batch)-1).Result()
		if err != nil {
			return fmt.Errorf("redisstore: waiting chats: %w", err)
		}
		cmds := make([]*redis.SliceCmd, len(ids))
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HMGet(ctx, s.tagKey(id, 'l'), "c", "f")
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return fmt.Errorf("redisstore: waiting chats: %w", err)
		}
		for i, c := range cmds {
			v := c.Val()
			cs, _ := v[0].(string)
			f, _ := v[1].(string)
			chat, err := strconv.ParseInt(cs, 10, 64)
			if err != nil || f != form {
				stale = append(stale, ids[i])
				continue
			}
			if err := fn(chat); err != nil {
				return err
			}
		}
		if len(ids) < batch {
			return nil
		}
	}
}
