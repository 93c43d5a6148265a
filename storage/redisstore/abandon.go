package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Abandoned is an interview whose state expired after it reached past
// consent.
type Abandoned struct {
	// ID is random, fixed for the life of the interview: the idempotency
	// key under which the system of record stores it.
	ID string
	AbandonRecord
	// At is when the state expired.
	At time.Time

	chat    string // derived chat id (the key part)
	started string
	member  string
}

// DueAbandoned returns up to limit interviews whose state expired by now
// and whose abandonment record has not been acknowledged, oldest first.
// Store each (idempotently, by ID), then Ack it. On the way it repairs the
// index: it re-scores interviews still alive and drops entries of
// interviews completed, erased or replaced; these do not count against
// limit, so fewer than limit may be returned while more are due.
func (s *Store) DueAbandoned(ctx context.Context, now time.Time, limit int) ([]Abandoned, error) {
	if limit <= 0 {
		return nil, nil
	}
	due, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: s.dueKey(), Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: due abandoned: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}

	type item struct {
		a   Abandoned
		cmd *redis.Cmd
	}
	var items []item
	var junk []any // index members that do not parse
	err = s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
		items, junk = items[:0], junk[:0]
		for _, z := range due {
			member, _ := z.Member.(string)
			chat, started, ok := strings.Cut(member, ":")
			if !ok || chat == "" || strings.ContainsAny(chat, "{}") {
				junk = append(junk, member)
				continue
			}
			a := Abandoned{chat: chat, started: started, member: member, At: time.UnixMilli(int64(z.Score))}
			cmd := run(inspectScript, []string{s.tagKey(chat, 's'), s.tagKey(chat, 'a')}, started)
			items = append(items, item{a, cmd})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: due abandoned: %w", err)
	}

	var out []Abandoned
	var stale []any
	var alive []redis.Z
	for _, it := range items {
		res, err := it.cmd.Slice()
		if err != nil || len(res) == 0 {
			return nil, fmt.Errorf("redisstore: due abandoned: inspect: %d elements: %w", len(res), err)
		}
		switch res[0] {
		case int64(0):
			stale = append(stale, it.a.member)
		case int64(1):
			ttl := s.stateTTL
			if ms, _ := res[1].(int64); ms >= 0 {
				ttl = time.Duration(ms) * time.Millisecond
			}
			// Scored from the present, not from now: now may be ahead.
			alive = append(alive, redis.Z{Score: float64(s.now().Add(ttl).UnixMilli()), Member: it.a.member})
		case int64(2):
			a := it.a
			a.ID, _ = res[1].(string)
			raw, _ := res[2].(string)
			if err := json.Unmarshal([]byte(raw), &a.AbandonRecord); err != nil {
				// A record this code cannot read will never become
				// readable: drop it rather than block the queue.
				stale = append(stale, a.member)
				continue
			}
			out = append(out, a)
		default:
			return nil, fmt.Errorf("redisstore: due abandoned: unexpected reply %v", res)
		}
	}
	stale = append(stale, junk...)
	if len(stale) > 0 || len(alive) > 0 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			if len(stale) > 0 {
				p.ZRem(ctx, s.dueKey(), stale...)
			}
			if len(alive) > 0 {
				// XX: if a concurrent Ack removed the member, keep it removed.
				p.ZAddXX(ctx, s.dueKey(), alive...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: due abandoned: repair index: %w", err)
		}
	}
	return out, nil
}

// Ack forgets an abandoned interview after it was stored: its record and
// its index entry. A new interview begun in the same chat meanwhile is left
// alone.
func (s *Store) Ack(ctx context.Context, a Abandoned) error {
	if a.member == "" {
		return fmt.Errorf("redisstore: ack: Abandoned not from DueAbandoned")
	}
	err := s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
		run(ackScript, []string{s.tagKey(a.chat, 'a')}, a.started)
		p.ZRem(ctx, s.dueKey(), a.member)
	})
	if err != nil {
		return fmt.Errorf("redisstore: ack: %w", err)
	}
	return nil
}
