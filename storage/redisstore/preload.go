package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// allScripts are the store's Lua scripts, registered by newScript as the
// package's variables are initialized; LoadScripts sends them to Redis.
var allScripts []*redis.Script

// newScript is redis.NewScript, registered for LoadScripts. Every script
// of the store is made by it (TestScriptsRegistered).
func newScript(src string) *redis.Script {
	sc := redis.NewScript(src)
	allScripts = append(allScripts, sc)
	return sc
}

// LoadScripts loads every script of the store into Redis's script cache
// (SCRIPT LOAD; a cluster client or ring loads them on every shard), so
// that the first turns after a start run them by their SHA at once
// instead of each getting NOSCRIPT and sending the script's body again
// with EVAL: in a rolling deploy that brings a changed script, or after
// a Redis restart or failover (which empties the cache), every chat in
// flight would otherwise pay that extra round trip (issue 19; session 6).
//
// It stops at the first error, which it returns. An error is not fatal
// to the caller: the store falls back to EVAL whenever Redis answers
// NOSCRIPT (Store.pipelined, redis.Script.Run). Bound it by ctx.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range allScripts {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("redisstore: script load: %w", err)
		}
	}
	return nil
}
