package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// reminders counts the reminder messages of a chat.
func remindersOf(u *telegramtest.User) int {
	n := 0
	for _, m := range u.Messages() {
		if m.FromBot && strings.Contains(m.Text, "unico promemoria") {
			n++
		}
	}
	return n
}

// waitReminder waits (bounded) for the chat's first reminder.
func waitReminder(t *testing.T, u *telegramtest.User) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), slow(60*time.Second))
	defer cancel()
	if _, err := u.WaitFor(ctx, func(c telegramtest.Chat) bool {
		for _, m := range c.Messages {
			if m.FromBot && strings.Contains(m.Text, "unico promemoria") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no reminder: %v\n%s", err, u.Transcript())
	}
}

// TestEndToEndReminder (issue 16): two replicas of the real binary on one
// Redis with NEEDSBOT_REMINDER_AFTER=5s. An idle respondent gets exactly
// one reminder, continues from it and completes; one who pressed Stop gets
// nothing more scheduled. (The quiet hours are covered with an injected
// clock in schedule and bot tests; here they are off so the test does not
// depend on the hour it runs at.)
func TestEndToEndReminder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["NEEDSBOT_REMINDER_AFTER"] = "5s"
	h.env["NEEDSBOT_QUIET_HOURS"] = "off"
	// Replicas run behind a webhook (two pollers would both get every
	// update, which Telegram refuses with 409): each has its own listener,
	// both run the scheduler on the shared Redis; updates go to the one
	// whose setWebhook came last.
	webhook(t, h)
	env := map[string]string{}
	for k, v := range h.env {
		env[k] = v
	}
	h.start()
	// The second replica: same configuration, same Redis and database.
	webhook(t, &harness{env: env})
	ctx2, stop2 := context.WithCancel(context.WithValue(context.Background(), intakeHook{}, registerIntake(t)))
	done2 := make(chan int, 1)
	go func() {
		done2 <- run(ctx2, []string{"run"}, func(k string) string { return env[k] }, nil, h.logs, h.logs)
	}()
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

	// Stop: the reminder's Stop button ends all reminders of the interview.
	s := &respondent{t: t, u: h.tg.User(5570002, telegramtest.LanguageCode("it"))}
	s.send("/start")
	s.tap("Italiano")
	s.tap("Sì, accetto")
	waitReminder(t, s.u)
	s.tap("Basta")
	if !strings.Contains(s.u.Last().Text, "nessun altro promemoria") {
		t.Fatalf("Stop not confirmed:\n%s", s.u.Transcript())
	}

	// Continue: one reminder, then the interview goes on to the end.
	r := &respondent{t: t, u: h.tg.User(5570001, telegramtest.LanguageCode("it"))}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	waitReminder(t, r.u)
	if n := remindersOf(r.u); n != 1 {
		t.Fatalf("%d reminders, want 1:\n%s", n, r.u.Transcript())
	}
	r.tap("Continua")
	if q := r.question(); !strings.Contains(q.Text, "Quanti anni hai?") {
		t.Fatalf("card after Continue:\n%s", q.Text)
	}
	r.oneLive()
	r.answerRest("Grazie mille")
	// Continue turned the reminder into the live card; no other reminder
	// came, before or after.
	if n := remindersOf(r.u); n != 0 {
		t.Fatalf("%d more reminders, want exactly 1 in all:\n%s", n, r.u.Transcript())
	}
	if v := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati'`); v != 1 {
		t.Fatalf("%d responses, want 1", v)
	}
	// The reminder funnel (migration 00013): reminded, and came back.
	if v := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati' AND reminded AND resumed`); v != 1 {
		t.Fatalf("the response is not flagged reminded and resumed")
	}

	// The respondent who pressed Stop answers on: nothing is scheduled for
	// anyone any more, and no chat id is left in Redis.
	s.tap(pick(s.question().Labels(), "Da 25"))
	if n := remindersOf(s.u); n != 1 {
		t.Fatalf("%d reminders after Stop, want the one before it", n)
	}
	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := h.env["NEEDSBOT_REDIS_PREFIX"]
	if n := rdb.ZCard(context.Background(), prefix+"remind:due").Val(); n != 0 {
		t.Errorf("%d reminders still scheduled", n)
	}
	keys := rdb.Keys(context.Background(), prefix+"{c:*}:r").Val()
	for _, k := range keys {
		if rdb.HExists(context.Background(), k, "c").Val() {
			t.Errorf("%s still holds a chat id", k)
		}
	}
}
