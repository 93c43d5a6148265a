package main

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
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
	// A 5xx storm: every new message and every edit fails, longer than an
	// update's retries last (sendMessage is tried 5 times an attempt, the
	// replays edit the card).
	h.tg.FailNext("sendMessage", 502, "Bad Gateway", 21)
	h.tg.FailNext("editMessageText", 502, "Bad Gateway", 21)
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
