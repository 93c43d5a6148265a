package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// expiredNotices counts the expiry notices of a chat.
func expiredNotices(u *telegramtest.User) int {
	n := 0
	for _, m := range u.Messages() {
		if m.FromBot && strings.Contains(m.Text, "sono scadute") {
			n++
		}
	}
	return n
}

// TestEndToEndExpiryIsScheduled (issue 12): two replicas of the real
// binary on one Redis and one database, both running the scheduler, with
// an injected clock (clockHook) that the test moves a month on. An
// interview idle past NEEDSBOT_STATE_TTL after consent is expired by the
// scheduler through the core (not by Redis's TTL and the sweep): the
// abandonment row exists once, the person is told once, and the job and
// the abandonment record are gone from Redis. An interview that went on
// answering is not expired with it.
func TestEndToEndExpiryIsScheduled(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	h := newHarness(t)
	h.env["NEEDSBOT_REMINDER_AFTER"] = "0"
	h.env["NEEDSBOT_STATE_TTL"] = "720h"
	h.clock = clock
	webhook(t, h)
	env := map[string]string{}
	for k, v := range h.env {
		env[k] = v
	}
	// The second replica first: updates go to the one whose setWebhook
	// came last (h); both claim jobs from the shared Redis.
	webhook(t, &harness{env: env})
	// Replica 2 is up (its intake registered) before h starts: two
	// replicas starting at once on a fresh database raced (a CI run saw
	// replica 2 exit 1 at start under -race).
	reg, ready2, once := registerIntake(t), make(chan struct{}), sync.Once{}
	hook := func(in *bot.Intake) { reg(in); once.Do(func() { close(ready2) }) }
	ctx2, stop2 := context.WithCancel(context.WithValue(context.WithValue(context.Background(),
		intakeHook{}, hook), clockHook{}, clock))
	done2 := make(chan int, 1)
	go func() {
		done2 <- run(ctx2, []string{"run"}, func(k string) string { return env[k] }, nil, h.logs, h.logs)
	}()
	select {
	case <-ready2:
	case code := <-done2:
		done2 <- code
		t.Fatalf("replica 2 exited %d at start", code)
	case <-time.After(slow(60 * time.Second)):
		t.Fatal("replica 2 did not start")
	}
	t.Cleanup(func() {
		stop2()
		select {
		case code := <-done2:
			if code != 0 {
				t.Errorf("replica 2 exited %d", code)
			}
		case <-time.After(slow(30 * time.Second)):
			t.Error("replica 2 did not shut down")
		}
	})
	h.start()

	idle := &respondent{t: t, u: h.tg.User(5590001, telegramtest.LanguageCode("it"))}
	idle.send("/start")
	idle.tap("Italiano")
	idle.tap("Sì, accetto")
	idle.tap(pick(idle.question().Labels(), "Da 25"))

	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := h.env["NEEDSBOT_REDIS_PREFIX"]
	bg := context.Background()
	if n := rdb.ZCard(bg, prefix+"expire:due").Val(); n != 1 {
		t.Fatalf("%d expiry jobs armed, want 1", n)
	}

	// 29 days later nothing has expired; the other respondent starts then
	// and is still answering a day later.
	now.Add(int64(29 * 24 * time.Hour))
	busy := &respondent{t: t, u: h.tg.User(5590002, telegramtest.LanguageCode("it"))}
	busy.send("/start")
	busy.tap("Italiano")
	busy.tap("Sì, accetto")
	if n := expiredNotices(idle.u); n != 0 {
		t.Fatalf("expired before its time:\n%s", idle.u.Transcript())
	}
	now.Add(int64(36 * time.Hour)) // 30.5 days after the idle one's last answer
	busy.tap(pick(busy.question().Labels(), "Da 25"))

	wctx, cancel := context.WithTimeout(bg, slow(60*time.Second))
	defer cancel()
	if _, err := idle.u.WaitFor(wctx, func(c telegramtest.Chat) bool {
		for _, m := range c.Messages {
			if m.FromBot && strings.Contains(m.Text, "sono scadute") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the idle interview was not expired: %v\n%s", err, idle.u.Transcript())
	}
	// The job is settled once it was applied: its index entry goes.
	for rdb.ZCard(bg, prefix+"expire:due").Val() != 1 {
		if wctx.Err() != nil {
			t.Fatalf("expiry jobs left: %v", rdb.ZRange(bg, prefix+"expire:due", 0, -1).Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := h.count(`SELECT count(*) FROM abandoned WHERE form = 'immigrati'`); v != 1 {
		t.Fatalf("%d abandoned rows, want 1", v)
	}
	if v := h.count(`SELECT count(*) FROM abandoned WHERE form = 'immigrati' AND last_question <> ''`); v != 1 {
		t.Fatalf("the abandoned row has no last question")
	}
	if n := expiredNotices(idle.u); n != 1 {
		t.Fatalf("%d expiry notices, want 1:\n%s", n, idle.u.Transcript())
	}
	if n := expiredNotices(busy.u); n != 0 {
		t.Fatalf("the busy interview was expired:\n%s", busy.u.Transcript())
	}
	// The one job left is the busy respondent's, due a month after their
	// last answer (in its record: the index member keeps the due time it
	// was armed at, a hint that the claim re-scores); the idle one's
	// record (and chat id) is gone, so the sweep, the safety net, has
	// nothing to count twice.
	zs := rdb.ZRange(bg, prefix+"expire:due", 0, -1).Val()
	if len(zs) != 1 {
		t.Fatalf("expiry jobs %v, want the busy respondent's", zs)
	}
	if xd, _ := rdb.HGet(bg, prefix+"{c:"+zs[0]+"}:a", "xd").Int64(); xd < clock().Add(29*24*time.Hour).UnixMilli() {
		t.Fatalf("the busy respondent's expiry is due at %d, want a month on", xd)
	}
	if n := rdb.ZCard(bg, prefix+"abandon:due").Val(); n != 1 {
		t.Fatalf("%d abandonment index entries, want the busy respondent's", n)
	}
	// Coming back after the expiry starts afresh: the first question of
	// a new interview, not the old one's.
	idle.send("/start")
	if l := idle.u.Last(); !l.FromBot || strings.Contains(l.Text, "sono scadute") || strings.Contains(l.Text, "Quanti anni hai?") {
		t.Fatalf("after expiry /start:\n%s", idle.u.Transcript())
	}
}
