package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Claim reports whether this is the first claim of id under name within
// ttl (SET NX): of two copies of one Telegram update handled by two
// replicas at once, only the first counts against the person's inbound
// limit. Update ids say nothing about a person.
func (s *Store) Claim(ctx context.Context, name string, id int64, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+"rl:claim:"+name+":"+strconv.FormatInt(id, 10), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim: %w", err)
	}
	return ok, nil
}
