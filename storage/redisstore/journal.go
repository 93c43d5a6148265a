package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The polling replica's update journal (bot.Journal): updates confirmed to
// Telegram before they were applied, kept so that a replica killed
// meanwhile loses none. One hash per deployment (one poller per bot
// token); it expires a day after its last write, like Telegram's own
// queue. It holds whole updates — names and typed text included — only
// for the seconds to minutes they wait in a chat's mailbox.

// journalTTL is how long the journal outlives its last write.
const journalTTL = 24 * time.Hour

func (s *Store) journalKey() string { return s.prefix + "poll:journal" }

// Keep adds updates (by id) to the journal and drops others, in one round
// trip.
func (s *Store) Keep(ctx context.Context, add map[int64][]byte, drop []int64) error {
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	key := s.journalKey()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(add) > 0 {
			fields := make([]any, 0, 2*len(add))
			for id, b := range add {
				fields = append(fields, strconv.FormatInt(id, 10), b)
			}
			p.HSet(ctx, key, fields...)
			p.PExpire(ctx, key, journalTTL)
		}
		if len(drop) > 0 {
			ids := make([]string, len(drop))
			for i, id := range drop {
				ids[i] = strconv.FormatInt(id, 10)
			}
			p.HDel(ctx, key, ids...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: keep updates: %w", err)
	}
	return nil
}

// Kept returns the journal's updates by id.
func (s *Store) Kept(ctx context.Context) (map[int64][]byte, error) {
	all, err := s.rdb.HGetAll(ctx, s.journalKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: kept updates: %w", err)
	}
	out := make(map[int64][]byte, len(all))
	for k, v := range all {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		out[id] = []byte(v)
	}
	return out, nil
}
