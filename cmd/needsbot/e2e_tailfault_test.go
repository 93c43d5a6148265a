package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// A message sent while Redis goes down before its id is written (the
// turn's tail waits in memory, NEEDSBOT_TAIL_DELAY, and its flush fails)
// is still deleted by /delete once Redis is back: the failed flush keeps
// the tail (storage/redisstore/tail.go putBack). Before session 11 the
// flush dropped it and /delete left the message in the chat.
func TestEndToEndDeleteAfterRedisFailedBetweenSendAndRecord(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	u, err := url.Parse(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := storagetest.NewProxy(t, u.Host)
	h.env["NEEDSBOT_REDIS_URL"] = proxy.Via(storagetest.RedisURL())
	// Long enough that the cut below comes first, short enough that the
	// flush runs (and fails) during it.
	h.env["NEEDSBOT_TAIL_DELAY"] = "2s"
	h.start()
	user := h.tg.User(5551711, telegramtest.LanguageCode("en"))
	r := &respondent{t: t, u: user}
	r.send("/start")
	r.tap("English")
	r.tap("Yes, I agree")
	// A message of its own: the help text, sent and not yet recorded
	// (the question comes again below it).
	r.send("/help")
	var help telegramtest.Message
	for _, m := range user.Messages() {
		if m.FromBot && strings.Contains(m.Text, "/privacy") {
			help = m
		}
	}
	if help.ID == 0 {
		t.Fatalf("no help text:\n%s", user.Transcript())
	}
	proxy.Cut()
	// The tail's flush (due 2 s after the reply, tried every 500 ms)
	// fails while Redis is away.
	time.Sleep(4 * time.Second) // sync: the outage outlasts the flush's due time
	proxy.Restore()

	r.send("/delete")
	r.tap("Yes, erase")
	left := user.Messages()
	for _, m := range left {
		if m.ID == help.ID {
			t.Fatalf("the help message sent before the outage was not deleted:\n%s", user.Transcript())
		}
	}
	if len(left) != 2 || !strings.Contains(left[1].Text, "48") {
		t.Fatalf("after /delete the chat shows:\n%s", user.Transcript())
	}
	for _, v := range h.tg.Violations() {
		t.Errorf("violation: %+v", v)
	}
}
