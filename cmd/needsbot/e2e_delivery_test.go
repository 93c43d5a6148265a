package main

import (
	"strings"
	"testing"
	"time"

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
// is saved, then the Bot API refuses the card's edit into the first
// question past every retry of the sender (5 calls) and of the intake (4
// attempts). Before, the update was dropped and the person left on the
// consent card without buttons ("no button … on message 3 (buttons: )" in
// the chaos transcript); now it is kept and tried again until the card
// goes out, and the interview goes on.
func TestEndToEndUndeliveredCardIsSentAgain(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.start()
	u := h.tg.User(5551711, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.settledOnQuestion("Accetti")
	// A 5xx storm longer than an update's 4 attempts: the first attempt
	// saves the tap and fails to edit the consent card into the first
	// question (5 tries), the next ones replay that edit and fail too (5
	// tries each); a fifth attempt finds the Bot API back. Exactly as
	// many failures as that, so none is left for later turns.
	h.tg.FailNext("editMessageText", 502, "Bad Gateway", 20)
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
// the chaos tool's round-robin balancer (no chat affinity), with
// NEEDSBOT_TAIL_DELAY=0 as the README says for that deployment.
func twoWebhookReplicas(t *testing.T, h *harness) *chaos.LB {
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
	// Without chat affinity a chat's next update may reach the other
	// replica: the replies-sent mark and the live card's id are written
	// at once, as the README says for this deployment.
	h.env["NEEDSBOT_TAIL_DELAY"] = "0"
	second := h.replica(b)
	for _, r := range []*harness{h, second} {
		r.start()
		// Running, its webhook set: the next replica's start is told
		// apart from this one's, and no test ends during a start.
		deadline := time.Now().Add(slow(60 * time.Second))
		for !strings.Contains(r.logs.String(), `"needsbot running"`) {
			if time.Now().After(deadline) {
				t.Fatalf("replica did not start; logs:\n%s", r.logs.String())
			}
			time.Sleep(10 * time.Millisecond) // sync: polls the replica's log
		}
	}
	return lb
}

// Issue 17 finding 2 (chaos F2): one person floods the bot with 50
// messages through two webhook replicas behind a balancer without chat
// affinity. Each replica paced the chat at 1 message/s on its own — 2/s
// together — and the fake, with Telegram's limits, answered 429s (25 in
// the chaos flood row). The chat's budget is now shared through Redis:
// no 429 at all, and the flooder still gets replies.
func TestEndToEndFloodTwoWebhookReplicasNo429(t *testing.T) {
	t.Parallel()
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

// Issue 17 findings 3 and 4 through the real binary: two webhook replicas
// behind the chaos balancer, which after a delivery now and then delivers
// an earlier update again to the other replica (out of order; the first
// replica's replies-sent mark is still deferred in its memory, so the
// copy looks applied but not sent). A respondent answers the whole
// interview: at every step exactly one live card, the right question on
// it, no callback answered twice (Telegram refuses it: a violation), one
// response stored.
func TestEndToEndOutOfOrderWebhookDeliveries(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	lb := twoWebhookReplicas(t, h)
	lb.Set(chaos.LBReorder)
	u := h.tg.User(5551731, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	if n := r.answerRest("Grazie"); n == 0 {
		t.Fatal("the interview did not go on")
	}
	if lb.Copies() == 0 {
		t.Fatal("the balancer replayed nothing: the test tested nothing")
	}
	if v := h.count(`SELECT count(*) FROM responses`); v != 1 {
		t.Fatalf("responses %d, want 1", v)
	}
	for _, v := range h.tg.Violations() {
		if v.Method != "webhook" {
			t.Errorf("violation: %v", v)
		}
	}
	t.Logf("%d out-of-order copies delivered", lb.Copies())
}

// Issue 17 finding 4 through the real binary: every update is delivered
// to both webhook replicas at the same time. The loser of each race makes
// none of the winner's Bot API calls again — a second answer to the same
// callback query would be refused (a violation) — and the duplicates do
// not count against the person's inbound limit (the default 20 per 10 s:
// a walk of 30 updates in a few seconds, doubled, would be throttled).
func TestEndToEndRacingWebhookReplicas(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.env["NEEDSBOT_INBOUND_LIMIT"] = "40"
	lb := twoWebhookReplicas(t, h)
	lb.Set(chaos.LBRace)
	u := h.tg.User(5551741, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	if n := r.answerRest("Grazie"); n == 0 {
		t.Fatal("the interview did not go on")
	}
	if v := h.count(`SELECT count(*) FROM responses`); v != 1 {
		t.Fatalf("responses %d, want 1", v)
	}
	for _, v := range h.tg.Violations() {
		if v.Method != "webhook" {
			t.Errorf("violation: %v", v)
		}
	}
	for _, m := range botMessages(u.Messages()) {
		if strings.Contains(m.Text, "in fretta") {
			t.Errorf("throttled by its own duplicates:\n%s", u.Transcript())
		}
	}
	t.Logf("%d updates, %d racing copies", r.updates, lb.Copies())
}
