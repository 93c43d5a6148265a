package main

import (
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

func TestExploreLT(t *testing.T) {
	h := newHarness(t)
	h.start()
	u := h.tg.User(5550002, telegramtest.FirstName("X"), telegramtest.LanguageCode("uk"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	t.Log(u.Transcript())
	q := r.question()
	r.tap(q.Labels()[0][0])
	t.Log(u.Transcript())
	q = r.question()
	t.Logf("%q", q.Labels())
	r.tap(q.Labels()[0][0])
	n := r.answerRest("zzzzzzzz")
	_ = n
}
