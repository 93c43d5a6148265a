package main

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// TestEndToEndMessageEconomy walks whole interviews through the real
// binary and the fake Bot API, with Telegram's limits on, and counts what
// the respondent gets and what it costs (issue 17 #4, issue 18 #1, issue
// 19's calls per tap): at most one new message per update (so never more
// than the per-chat burst of three at once), the welcome and the consent in
// one message, junk answered by the question asked again below it (the card
// above loses its keys: the question stays the chat's last message), one
// live keyboard at every step,
// and at most 1.2 Bot API requests per update on webhooks (the callback
// answered in the webhook response), 2.2 when polling.
func TestEndToEndMessageEconomy(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"webhook", "polling"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			if mode == "webhook" {
				webhook(t, h)
			}
			h.start()
			u := h.tg.User(5550101, telegramtest.LanguageCode("it"))
			r := &respondent{t: t, u: u}
			sends := func() int { return h.tg.Calls()["sendMessage"] }
			step := func(what string, act func(), maxNew int) {
				t.Helper()
				before := sends()
				act()
				if n := sends() - before; n > maxNew {
					t.Fatalf("%s: %d new messages, want at most %d\n%s", what, n, maxNew, u.Transcript())
				}
			}
			step("/start", func() { r.send("/start") }, 1)
			step("language", func() { r.tap("Italiano") }, 0)
			if q := r.question(); !strings.Contains(q.Text, "Buongiorno") || !strings.Contains(q.Text, "Accetti") {
				t.Fatalf("welcome and consent are not one message: %q", q.Text)
			}
			step("consent", func() { r.tap("Sì, accetto") }, 1)
			step("sticker", func() { u.SendSticker(); r.updates++; r.wait() }, 1)
			step("junk text", func() { r.send("boh") }, 1)
			r.oneLive()
			if q := r.question(); !warned(q.Text) || !strings.Contains(q.Text, "Quanti anni") || q.ID != u.Last().ID {
				t.Fatalf("junk not explained by the question below it: %q\n%s", q.Text, u.Transcript())
			}
			// HTTP requests the bot makes: on webhooks the callback answer
			// travels in the webhook response (the fake counts it as a
			// call: left out), and getUpdates long polls are shared by
			// every chat (left out: one respondent alone would make them
			// look like one per update).
			requests := func() int {
				c := h.tg.Calls()
				n := h.tg.TotalCalls() - c["getUpdates"]
				if mode == "webhook" {
					n -= c["answerCallbackQuery"]
				}
				return n
			}
			calls0, updates0 := requests(), r.updates
			before := sends()
			n := r.answerRest("Grazie")
			calls, updates := requests()-calls0, r.updates-updates0
			newMsgs := sends() - before
			perUpdate := float64(calls) / float64(updates)
			t.Logf("%s: %d questions, %d updates, %d Bot API calls (%.2f per update), %d new messages; calls %v",
				mode, n, updates, calls, perUpdate, newMsgs, h.tg.Calls())
			limit := 1.2
			if mode == "polling" {
				limit = 2.2
			}
			if perUpdate > limit {
				t.Errorf("%.2f Bot API calls per update, want at most %.1f", perUpdate, limit)
			}
			if newMsgs > updates/4 {
				t.Errorf("%d new messages for %d updates: the card should be edited", newMsgs, updates)
			}
			// The end: closing words and the compact summary, on the card.
			var end string
			for _, m := range u.Messages() {
				if m.FromBot && strings.Contains(m.Text, "Le tue risposte") {
					end = m.Text
				}
			}
			if !strings.Contains(end, "Grazie") || !strings.Contains(end, "✓ ") {
				t.Errorf("no summary at the end:\n%s", u.Transcript())
			}
			for _, v := range h.tg.Violations() {
				t.Errorf("violation: %+v", v)
			}
		})
	}
}
