package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// chatTrips counts the bot's Redis round trips (a command, or a pipeline)
// that carry a key of one chat (its hash tag).
type chatTrips struct {
	tag string
	n   atomic.Int64
}

func (h *chatTrips) carries(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		for _, a := range c.Args() {
			var s string
			switch a := a.(type) {
			case string:
				s = a
			case *string: // the store's argv (redisstore/client.go)
				s = *a
			}
			if strings.Contains(s, h.tag) {
				return true
			}
		}
	}
	return false
}

func (h *chatTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *chatTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.carries(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *chatTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.carries(cmds...) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestEndToEndRedisRoundTripsPerUpdate: a whole interview through `needsbot
// run` (polling, the default TailDelay) costs its chat about one Redis
// round trip per update: a turn after the chat's common save loads the
// session from the replica's memory (redisstore's warm.go) and only saves;
// it was two (load, save) and more.
func TestEndToEndRedisRoundTripsPerUpdate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The plain client: the autopipeliner's batches bypass its hooks
	// (they are the same round trips for one chat at a time).
	h.env["NEEDSBOT_REDIS_BATCHING"] = "off"
	const id = 5550419
	rdb, _ := storagetest.Redis(t)
	keys := redisstore.New(rdb, redisstore.Options{KeySecret: []byte(testPseudonymKey)})
	trips := &chatTrips{tag: keys.ChatTag(id)}
	h.hooks = append(h.hooks, func(ctx context.Context) context.Context {
		return context.WithValue(ctx, redisHook{}, redis.Hook(trips))
	})
	h.start()
	u := h.tg.User(id, telegramtest.LanguageCode("it-IT"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	r.answerRest("Grazie mille")
	if v := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati'`); v != 1 {
		t.Fatalf("responses: %d\n%s", v, u.Transcript())
	}
	per := float64(trips.n.Load()) / float64(r.updates)
	t.Logf("%d Redis round trips of the chat for %d updates: %.2f per update", trips.n.Load(), r.updates, per)
	if per > 1.5 {
		t.Errorf("%.2f Redis round trips of the chat per update, want about 1 (the save; the load from memory)", per)
	}
}
