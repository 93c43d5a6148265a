package main

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/chaos"
)

// lastBot returns the chat's latest bot message.
func (r *respondent) lastBot() telegramtest.Message {
	ms := r.u.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].FromBot {
			return ms[i]
		}
	}
	return telegramtest.Message{}
}

// settledOnQuestion fails unless the person's latest bot message is the
// live question containing want, with its buttons, and the only keyboard.
func (r *respondent) settledOnQuestion(want string) {
	r.t.Helper()
	last := r.lastBot()
	if len(last.Buttons) == 0 || !strings.Contains(last.Text, want) {
		r.t.Fatalf("the latest bot message is not the live question %q with its buttons:\n%s", want, r.u.Transcript())
	}
	r.oneLive()
}

// Issue 17 finding 1 through the real binary (polling): the consent tap
// is saved and the consent card's keyboard removed, then the Bot API
// refuses the new question card past every retry of the sender (5 calls)
// and of the intake (4 attempts). Before, the update was dropped and the
// person left on the consent card without buttons ("no button … on
// message 3 (buttons: )" in the chaos transcript); now it is kept and
// tried again until the card goes out, and the interview goes on.
func TestEndToEndUndeliveredCardIsSentAgain(t *testing.T) {
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.start()
	u := h.tg.User(5551711, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.settledOnQuestion("Accetti")
	// A 5xx storm longer than an update's 4 attempts: the first attempt
	// saves the tap and fails to send the new card (5 tries), the next
	// ones replay it by editing the consent card and fail too (5 tries
	// each); a fifth attempt finds the Bot API back. Exactly as many
	// failures as that, so none is left for later turns.
	h.tg.FailNext("sendMessage", 502, "Bad Gateway", 5)
	h.tg.FailNext("editMessageText", 502, "Bad Gateway", 16)
	r.tap("Sì, accetto")
	r.settledOnQuestion("Quanti anni")
	for _, v := range h.tg.Violations() {
		t.Errorf("violation (a tap answered twice?): %v", v)
	}
	if n := r.answerRest("Grazie"); n == 0 {
		t.Fatal("the interview did not go on")
	}
	if v := h.count(`SELECT count(*) FROM responses`); v != 1 {
		t.Fatalf("responses %d, want 1", v)
	}
}

// replica is a second `needsbot run` sharing h's fake Bot API, Redis
// prefix and database, listening on its own address.
func (h *harness) replica(listen string) *harness {
	r := &harness{t: h.t, tg: h.tg, dsn: h.dsn, logs: &syncBuffer{}, env: map[string]string{}}
	for k, v := range h.env {
		r.env[k] = v
	}
	r.env["NEEDSBOT_LISTEN_ADDR"] = listen
	return r
}

// twoWebhookReplicas starts two webhook replicas of the real binary behind
// the chaos tool's round-robin balancer (no chat affinity).
func twoWebhookReplicas(t *testing.T, h *harness) *harness {
	t.Helper()
	a, b := freePort(t), freePort(t)
	lb, err := chaos.NewLB([]string{"http://" + a, "http://" + b}, h.tg.URL+"/bot"+h.tg.Token(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	h.env["NEEDSBOT_WEBHOOK_URL"] = lb.URL + "/telegram/webhook"
	h.env["NEEDSBOT_WEBHOOK_SECRET"] = "test_secret-123-0123456789abcdefghij"
	h.env["NEEDSBOT_LISTEN_ADDR"] = a
	second := h.replica(b)
	h.start()
	second.start()
	return second
}

// Issue 17 finding 2 (chaos F2): one person floods the bot with 50
// messages through two webhook replicas behind a balancer without chat
// affinity. Each replica paced the chat at 1 message/s on its own — 2/s
// together — and the fake, with Telegram's limits, answered 429s (25 in
// the chaos flood row). The chat's budget is now shared through Redis:
// no 429 at all, and the flooder still gets replies.
func TestEndToEndFloodTwoWebhookReplicasNo429(t *testing.T) {
	h := newHarness(t) // the fake enforces Telegram's limits
	twoWebhookReplicas(t, h)
	u := h.tg.User(5551721, telegramtest.LanguageCode("en"))
	r := &respondent{t: t, u: u}
	for i := 0; i < 50; i++ {
		u.Send("/help")
	}
	r.wait()
	replies := 0
	for _, m := range botMessages(u.Messages()) {
		if strings.Contains(m.Text, "/delete") {
			replies++
		}
	}
	if replies < 2 {
		t.Fatalf("the flooder got %d replies:\n%s", replies, u.Transcript())
	}
	n429 := 0
	for _, v := range h.tg.Violations() {
		if v.Code == 429 {
			n429++
		} else if v.Method != "webhook" {
			t.Errorf("violation: %v", v)
		}
	}
	if n429 != 0 {
		t.Fatalf("%d × 429 from the Bot API in a flood through two replicas, want 0", n429)
	}
	t.Logf("flood of 50 through two replicas: %d replies, 0 × 429", replies)
}
