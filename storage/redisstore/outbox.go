package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// OutboxEntry is one payload waiting in the outbox.
type OutboxEntry struct {
	Key      string // idempotency key
	Payload  []byte
	Enqueued time.Time
}

func (s *Store) outboxKeys() (queue, payloads, dead string) {
	p := s.prefix + "{outbox}:"
	return p + "q", p + "h", p + "dead"
}

// Owner index keys: which owner an entry belongs to, and one set per owner.
func (s *Store) ownerHash() string      { return s.prefix + "{outbox}:w" }
func (s *Store) deadTimes() string      { return s.prefix + "{outbox}:dt" }
func (s *Store) ownerSetPrefix() string { return s.prefix + "{outbox}:o:" }

// ownerTag derives the index tag of an owner (a respondent's pseudonym):
// the index never holds the pseudonym itself.
func ownerTag(owner string) string {
	if owner == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("outbox|" + owner))
	return hex.EncodeToString(sum[:16])
}

// Enqueue adds payload to the outbox under the idempotency key. Enqueueing
// a key that is still queued keeps the first entry and returns nil.
func (s *Store) Enqueue(ctx context.Context, key string, payload []byte) error {
	return s.EnqueueFor(ctx, key, "", payload)
}

// EnqueueFor is Enqueue for an entry that belongs to owner (a respondent's
// pseudonym, "" for none): EraseOwner deletes it, queued or dead.
func (s *Store) EnqueueFor(ctx context.Context, key, owner string, payload []byte) error {
	if key == "" {
		return errors.New("redisstore: enqueue: empty key")
	}
	return s.enqueueTagged(ctx, key, ownerTag(owner), payload)
}

// enqueueTagged is EnqueueFor with the owner's tag (ownerTag) given.
func (s *Store) enqueueTagged(ctx context.Context, key, tag string, payload []byte) error {
	q, h, _ := s.outboxKeys()
	set := s.ownerSetPrefix() + tag // not written when tag is empty
	if err := enqueueScript.Run(ctx, s.rdb, []string{q, h, s.ownerHash(), set}, key, payload, s.now().UnixMilli(), tag).Err(); err != nil {
		return fmt.Errorf("redisstore: enqueue: %w", err)
	}
	return nil
}

// EraseOwner deletes every outbox entry and dead letter of owner (for
// /delete) and returns how many.
func (s *Store) EraseOwner(ctx context.Context, owner string) (int, error) {
	tag := ownerTag(owner)
	if tag == "" {
		return 0, errors.New("redisstore: erase owner: empty owner")
	}
	q, h, d := s.outboxKeys()
	n, err := eraseOwnerScript.Run(ctx, s.rdb, []string{q, h, d, s.deadTimes(), s.ownerHash(), s.ownerSetPrefix() + tag}).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: erase owner: %w", err)
	}
	return n, nil
}

// Pending returns up to limit outbox entries, oldest first.
func (s *Store) Pending(ctx context.Context, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	q, h, _ := s.outboxKeys()
	res, err := pendingScript.Run(ctx, s.rdb, []string{q, h}, limit-1).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: pending: %w", err)
	}
	out := make([]OutboxEntry, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		key, _ := res[i].(string)
		score, _ := res[i+1].(string)
		payload, _ := res[i+2].(string)
		ms, _ := strconv.ParseFloat(score, 64)
		out = append(out, OutboxEntry{Key: key, Payload: []byte(payload), Enqueued: time.UnixMilli(int64(ms))})
	}
	return out, nil
}

// Done removes the entry under key from the outbox.
func (s *Store) Done(ctx context.Context, key string) error {
	q, h, _ := s.outboxKeys()
	// Every key shares the {outbox} tag, so the script is valid under Cluster.
	err := doneScript.Run(ctx, s.rdb, []string{q, h, s.ownerHash()}, key, s.ownerSetPrefix()).Err()
	if err != nil {
		return fmt.Errorf("redisstore: done: %w", err)
	}
	return nil
}

// Depth returns the number of entries waiting in the outbox.
func (s *Store) Depth(ctx context.Context) (int64, error) {
	q, _, _ := s.outboxKeys()
	n, err := s.rdb.ZCard(ctx, q).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: depth: %w", err)
	}
	return n, nil
}

// DeadLetters returns the number of entries a writer rejected as Permanent.
// They are kept, not retried, for an operator to inspect, for DeadTTL.
func (s *Store) DeadLetters(ctx context.Context) (int64, error) {
	_, _, d := s.outboxKeys()
	n, err := s.rdb.HLen(ctx, d).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: dead letters: %w", err)
	}
	return n, nil
}

func (s *Store) bury(ctx context.Context, key string) error {
	q, h, d := s.outboxKeys()
	now := s.now()
	if err := buryScript.Run(ctx, s.rdb, []string{q, h, d, s.deadTimes(), s.ownerHash()}, key,
		now.UnixMilli(), now.Add(-s.deadTTL).UnixMilli(), s.deadTTL.Milliseconds(), s.ownerSetPrefix()).Err(); err != nil {
		return fmt.Errorf("redisstore: bury: %w", err)
	}
	return nil
}

// Permanent marks a writer's error as permanent: the payload can never be
// written (it does not decode, or the system of record rejects it), so the
// outbox moves it to its dead letters instead of retrying it forever and
// holding up everything queued behind it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// OutboxOptions configure an Outbox. Zero values take the defaults.
type OutboxOptions struct {
	Batch      int           // entries read per round trip (100)
	Poll       time.Duration // wait between drains while idle (1 s); Kick cuts it short
	MinBackoff time.Duration // first wait after a failure (100 ms)
	MaxBackoff time.Duration // cap of the doubling wait (30 s)
	Logger     *slog.Logger  // failures, never payloads (discarded)
	// Linger is how long Run waits after a Kick before it drains (0: at
	// once), so that completions that come close together are written in
	// one WriteBatch.
	Linger time.Duration
	// WriteBatch, when set, writes the completions of one drain (those
	// recorded with saves, SaveDoneCompleted) at once, all or none — e.g.
	// in one Postgres transaction, one commit instead of one each. When
	// it fails, the drain writes them one at a time with the writer given
	// to Flush or Run, which tells a permanent failure from a transient
	// one, as without it.
	WriteBatch func(ctx context.Context, payloads [][]byte) error
}

// Outbox drains the store's outbox into the system of record.
type Outbox struct {
	s    *Store
	opts OutboxOptions
	kick chan struct{}
	log  *slog.Logger
	// onWait, when set (tests), is told each wait Run chose and whether
	// it follows a failed drain.
	onWait func(wait time.Duration, failed bool)
}

// Outbox returns a drainer of s's outbox.
func (s *Store) Outbox(opts OutboxOptions) *Outbox {
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	opts.Poll = cmpOr(opts.Poll, time.Second)
	opts.MinBackoff = cmpOr(opts.MinBackoff, 100*time.Millisecond)
	opts.MaxBackoff = cmpOr(opts.MaxBackoff, 30*time.Second)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{s: s, opts: opts, kick: make(chan struct{}, 1), log: log}
}

// Kick wakes Run to drain now, e.g. right after an Enqueue. It does not cut
// a backoff short: while the writer fails, kicks would only hammer it.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Flush writes every queued entry, oldest first, removing each once write
// succeeds, until the outbox is empty or write fails — first the
// completions recorded with chats' saves (SaveDoneCompleted), then the
// queue (Enqueue). It returns how many
// entries it wrote. An entry whose write fails with a Permanent error is
// moved to the dead letters and the drain goes on; any other failure stops
// it, keeping the entry and those after it for the next attempt.
func (o *Outbox) Flush(ctx context.Context, write func(ctx context.Context, payload []byte) error) (int, error) {
	// First the completions recorded with their chats' saves (the common
	// case: every completion), then the queue.
	n, err := o.flushCompleted(ctx, write)
	if err != nil {
		return n, err
	}
	for {
		entries, err := o.s.Pending(ctx, o.opts.Batch)
		if err != nil {
			return n, err
		}
		for _, e := range entries {
			if err := write(ctx, e.Payload); err != nil {
				if !IsPermanent(err) {
					return n, fmt.Errorf("redisstore: outbox write: %w", err)
				}
				o.log.ErrorContext(ctx, "outbox entry rejected for good; moved to dead letters", "err", err)
				if err := o.s.bury(ctx, e.Key); err != nil {
					return n, err
				}
				continue
			}
			if err := o.s.Done(ctx, e.Key); err != nil {
				return n, err
			}
			n++
		}
		if len(entries) < o.opts.Batch {
			return n, nil
		}
	}
}

// Run drains the outbox until ctx is done, then returns nil. While write
// (or Redis) fails it retries with exponential backoff, from MinBackoff
// doubling to MaxBackoff, each wait jittered down by up to half; after a
// success it drains everything at once and goes back to polling.
//
// Delivery is at least once: an entry is removed only after write returned,
// and a crash in between writes it again. write must be idempotent.
func (o *Outbox) Run(ctx context.Context, write func(ctx context.Context, payload []byte) error) error {
	var backoff time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := o.Flush(ctx, write)
		if ctx.Err() != nil {
			return nil
		}
		kick := o.kick
		var wait time.Duration
		if err != nil {
			backoff = min(max(2*backoff, o.opts.MinBackoff), o.opts.MaxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			kick = nil
			o.log.WarnContext(ctx, "outbox drain failed; will retry", "err", err, "written", n, "retry_in", wait)
		} else {
			if backoff > 0 {
				o.log.InfoContext(ctx, "outbox drained after failures", "written", n)
			}
			backoff = 0
			wait = o.opts.Poll
		}
		if o.onWait != nil {
			o.onWait(wait, err != nil)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
			// Since Go 1.23, Stop and Reset discard a stale tick: no drain.
			timer.Stop()
			if o.opts.Linger > 0 {
				if o.onWait != nil {
					o.onWait(o.opts.Linger, false)
				}
				timer.Reset(o.opts.Linger)
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			}
		case <-timer.C:
		}
	}
}

// Completions recorded with a chat's save (SaveDoneCompleted). The save
// script can touch only the chat's slot, so a completion waits in a hash of
// the chat ({c:<id>}:c, idempotency key → entry) written in the same atomic
// step as the state's compare-and-swap — a save that conflicts records
// nothing — and the chat is indexed in the outbox's slot ({outbox}:c, chat
// id scored by the save's time) by a ZADD sent in the same round trip just
// before the script: whatever becomes of the replica after, a saved
// completion is indexed. That holds because both go to one Redis server,
// which runs a connection's commands in order and whose AOF, snapshots and
// replicas hold a prefix of what it ran: a surviving completion has its
// member. Under Redis Cluster the two would go to two nodes, and a
// failover of the index's node could lose the member alone; the bot does
// not connect to a Cluster (cmd/needsbot: redis.NewClient, one endpoint),
// and one that did would need a sweep of the chats' completion hashes.
// The drainer (Outbox.Flush) writes each entry to
// the system of record, deletes it from the chat's hash, and drops the
// index member when the chat's hash held nothing more at the score it
// read. Delete erases the chat's hash with the chat.
//
// An entry is the owner tag (ownerTag, "" for none), "|", and the payload:
// an entry the writer rejects for good moves to the outbox's dead letters
// under its owner, where EraseOwner finds it.

func (s *Store) completedKey(id string) string { return s.tagKey(id, 'c') }
func (s *Store) completedIndex() string        { return s.prefix + "{outbox}:c" }

type savedCompletion struct{ key, entry string }

// SaveDoneCompleted is SaveDone recording a completion (payload, under
// its idempotency key, belonging to owner) in the same atomic step: when
// the version matches, the state is saved and the completion queued for
// the drainer; on a conflict neither. One round trip, like Save.
func (s *Store) SaveDoneCompleted(ctx context.Context, chat, updateID int64, expect, newVersion uint64, blob []byte, key, owner string, payload []byte) error {
	if key == "" {
		return errors.New("redisstore: save completed: empty key")
	}
	cp := &savedCompletion{key: key, entry: ownerTag(owner) + "|" + string(payload)}
	return s.save(ctx, chat, updateID, expect, newVersion, blob, nil, s.doneTTL, "", cp)
}

// savedChat is one indexed chat's completions as the drainer read them.
type savedChat struct {
	id      string
	score   float64
	entries map[string]string // idempotency key → entry
}

// pendingCompleted returns up to limit indexed chats, oldest first, with
// their completions (none for a chat whose save conflicted or that was
// drained or erased since).
func (s *Store) pendingCompleted(ctx context.Context, limit int) ([]savedChat, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.completedIndex(), 0, int64(limit-1)).Result()
	if err != nil || len(zs) == 0 {
		if err != nil {
			err = fmt.Errorf("redisstore: pending completed: %w", err)
		}
		return nil, err
	}
	out := make([]savedChat, len(zs))
	cmds := make([]*redis.MapStringStringCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			id, _ := z.Member.(string)
			out[i] = savedChat{id: id, score: z.Score}
			cmds[i] = p.HGetAll(ctx, s.completedKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: pending completed: %w", err)
	}
	for i, c := range cmds {
		out[i].entries = c.Val()
	}
	return out, nil
}

// unindexScript drops a chat's index member if it still has the score the
// drainer read: a save since (a later score) keeps it for the next drain.
//
// KEYS: the completions index. ARGV: chat id, score read.
var unindexScript = newScript(`
local sc = redis.call('ZSCORE', KEYS[1], ARGV[1])
if sc and tonumber(sc) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`)

// flushCompleted writes the completions recorded with saves (see
// pendingCompleted), as Flush does the queue.
func (o *Outbox) flushCompleted(ctx context.Context, write func(ctx context.Context, payload []byte) error) (int, error) {
	s := o.s
	n := 0
	for {
		chats, err := s.pendingCompleted(ctx, o.opts.Batch)
		if err != nil {
			return n, err
		}
		if o.opts.WriteBatch != nil {
			w, err := o.writeCompletedBatch(ctx, chats)
			if err != nil {
				return n, err
			}
			if w >= 0 {
				n += w
				if len(chats) < o.opts.Batch {
					return n, nil
				}
				continue
			}
		}
		for _, c := range chats {
			for key, entry := range c.entries {
				tag, payload, _ := strings.Cut(entry, "|")
				if err := write(ctx, []byte(payload)); err != nil {
					if !IsPermanent(err) {
						return n, fmt.Errorf("redisstore: outbox write: %w", err)
					}
					o.log.ErrorContext(ctx, "completion rejected for good; moved to dead letters", "err", err)
					if err := s.enqueueTagged(ctx, key, tag, []byte(payload)); err != nil {
						return n, err
					}
					if err := s.bury(ctx, key); err != nil {
						return n, err
					}
				} else {
					n++
				}
				if err := s.rdb.HDel(ctx, s.completedKey(c.id), key).Err(); err != nil {
					return n, fmt.Errorf("redisstore: completed done: %w", err)
				}
			}
			if err := unindexScript.Run(ctx, s.rdb, []string{s.completedIndex()}, c.id, strconv.FormatFloat(c.score, 'f', -1, 64)).Err(); err != nil {
				return n, fmt.Errorf("redisstore: completed unindex: %w", err)
			}
		}
		if len(chats) < o.opts.Batch {
			return n, nil
		}
	}
}

// writeCompletedBatch writes the completions of chats with WriteBatch and
// removes them as flushCompleted does, in one round trip, and returns how
// many it wrote; -1 when WriteBatch failed (nothing removed: the caller
// writes them one at a time).
func (o *Outbox) writeCompletedBatch(ctx context.Context, chats []savedChat) (int, error) {
	s := o.s
	// In a fixed order (the index's, then the keys'): two replicas that
	// drain the same completions at once insert them in the same order,
	// so one waits for the other's commit instead of each holding a row
	// the other needs (a deadlock, which Postgres would break after a
	// second).
	var payloads [][]byte
	for _, c := range chats {
		for _, key := range slices.Sorted(maps.Keys(c.entries)) {
			_, payload, _ := strings.Cut(c.entries[key], "|")
			payloads = append(payloads, []byte(payload))
		}
	}
	if len(payloads) > 0 {
		if err := o.opts.WriteBatch(ctx, payloads); err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("redisstore: outbox write: %w", err)
			}
			o.log.WarnContext(ctx, "outbox batch write failed; writing one at a time", "err", err, "entries", len(payloads))
			return -1, nil
		}
	}
	// In order on one connection, as flushCompleted's calls: each chat's
	// entries deleted, then its index member dropped if no save came since.
	err := s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
		for _, c := range chats {
			if len(c.entries) > 0 {
				p.HDel(ctx, s.completedKey(c.id), slices.Collect(maps.Keys(c.entries))...)
			}
			run(unindexScript, []string{s.completedIndex()}, c.id, strconv.FormatFloat(c.score, 'f', -1, 64))
		}
	})
	if err != nil {
		return len(payloads), fmt.Errorf("redisstore: completed done: %w", err)
	}
	return len(payloads), nil
}

// PendingCompleted returns how many completions recorded with saves wait
// for the drainer (Depth counts the queue), reading every indexed chat.
func (s *Store) PendingCompleted(ctx context.Context) (int, error) {
	ids, err := s.rdb.ZRange(ctx, s.completedIndex(), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: pending completed: %w", err)
	}
	n := 0
	for _, id := range ids {
		k, err := s.rdb.HLen(ctx, s.completedKey(id)).Result()
		if err != nil {
			return 0, fmt.Errorf("redisstore: pending completed: %w", err)
		}
		n += int(k)
	}
	return n, nil
}
