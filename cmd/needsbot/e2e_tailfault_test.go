package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/redisstore"
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
	proxy := redisViaProxy(t, h)
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

// Without a tail delay (several webhook replicas without chat affinity) a
// turn's replies-sent mark and the live card's id are written at once. When
// Redis fails between the send and that write, they are kept and written
// once Redis is back (before: lost, and only the message ids for /delete
// were kept). Here Redis goes as the reply to /help goes out, the question
// comes below it, Redis comes back, and the bot restarts (a rolling deploy:
// its memory of the card is gone): the store names the card below /help, so
// a typed message afterwards strips that card's keys and asks below — one
// live keyboard. Before, the store named the card above /help, whose keys
// were gone already: the card below /help kept its keys beside the new one.
func TestEndToEndLiveCardKeptWithoutTailDelay(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	proxy := redisViaProxy(t, h)
	h.env["NEEDSBOT_TAIL_DELAY"] = "0"
	// The Bot API, behind a step that cuts Redis as the next message is
	// sent: between the send and the turn's record of it.
	var cutOnSend atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendMessage") && cutOnSend.CompareAndSwap(true, false) {
			proxy.Cut()
		}
		h.tg.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	h.env["NEEDSBOT_TELEGRAM_API_URL"] = api.URL
	h.start()
	user := h.tg.User(5551712, telegramtest.LanguageCode("en"))
	r := &respondent{t: t, u: user}
	r.send("/start")
	r.tap("English")
	r.tap("Yes, I agree")
	cutOnSend.Store(true)
	r.send("/help")
	card := r.lastBot()
	if len(card.Buttons) == 0 {
		t.Fatalf("the question is not below the help text:\n%s", user.Transcript())
	}
	time.Sleep(2 * time.Second) // sync: the outage outlasts a retry of the kept writes (every second)
	proxy.Restore()
	rdb := testRedis(t)
	keys := redisstore.New(rdb, redisstore.Options{Prefix: h.env["NEEDSBOT_REDIS_PREFIX"], KeySecret: []byte(testPseudonymKey)})
	state := h.env["NEEDSBOT_REDIS_PREFIX"] + keys.ChatTag(user.ID()) + ":s"
	deadline := time.Now().Add(slow(10 * time.Second))
	for rdb.HGet(context.Background(), state, "m").Val() != strconv.Itoa(card.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("the live card %d is not recorded on the state (%q) after Redis came back:\n%s", card.ID,
				rdb.HGet(context.Background(), state, "m").Val(), user.Transcript())
		}
		time.Sleep(50 * time.Millisecond) // sync: polls Redis for the kept write
	}
	h.shutdown()
	h.start()
	r.send("??")
	r.oneLive()
	if last := r.lastBot(); len(last.Buttons) == 0 || last.ID == card.ID {
		t.Fatalf("after ?? the question is not the chat's last message:\n%s", user.Transcript())
	}
}

// redisViaProxy points h's Redis at a proxy of the test Redis, which the
// test can cut and restore.
func redisViaProxy(t *testing.T, h *harness) *storagetest.Proxy {
	t.Helper()
	u, err := url.Parse(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := storagetest.NewProxy(t, u.Host)
	h.env["NEEDSBOT_REDIS_URL"] = proxy.Via(storagetest.RedisURL())
	return proxy
}
