package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
)

// TestIdleGapRecap: any input after a pause of at least the idle gap
// (reminders off: interview.DefaultIdleGap, 1 h) shows the resume
// greeting and recap above the current question; an input after a shorter
// pause does not. The clock is injected.
func TestIdleGapRecap(t *testing.T) {
	r := newRig(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r.handler.cfg.Now = func() time.Time { return now }
	r.core.Now = r.handler.cfg.Now
	r.rewire()
	ctx := context.Background()
	const chat = 961
	u := r.srv.User(chat, telegramtest.LanguageCode("en"))
	u.Send("hi") // the fake now knows the chat
	upd := int64(1)
	submit := func(u *tgmodels.Update) {
		t.Helper()
		if _, err := r.intake.Submit(ctx, u, false, 0); err != nil {
			t.Fatal(err)
		}
		upd++
	}
	text := func(s string) *tgmodels.Update {
		return &tgmodels.Update{ID: upd, Message: &tgmodels.Message{ID: int(100 + upd), Date: int(now.Unix()), Text: s,
			Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate}, From: &tgmodels.User{ID: chat, LanguageCode: "en"}}}
	}
	submit(text("/start"))
	for i := 0; i < 4 && !r.state(t, chat).Consent; i++ {
		var card telegramtest.Message
		for _, m := range u.Messages() {
			if len(m.Buttons) > 0 {
				card = m
			}
		}
		submit(callbackUpdate(upd, chat, card.ID, tapData(t, card, func(cb Callback) bool {
			return (cb.Kind == CbChoose && cb.Option == "yes") || (cb.Kind == CbLanguage && cb.Option == "en")
		})))
	}
	if st := r.state(t, chat); st.Phase != dialog.PhaseAsking || !st.Consent {
		t.Fatalf("test setup: not past consent: %+v", st)
	}
	welcomes := func() int {
		n := 0
		for _, m := range u.Messages() {
			if strings.Contains(m.Text, "Welcome back") {
				n++
			}
		}
		return n
	}
	if n := welcomes(); n != 0 {
		t.Fatalf("%d greetings before any pause", n)
	}

	// A short pause: no recap.
	now = now.Add(interview.DefaultIdleGap - time.Minute)
	submit(text("hm"))
	if n := welcomes(); n != 0 {
		t.Fatalf("recap after a pause shorter than the idle gap:\n%s", u.Transcript())
	}

	// A long pause, then any input (here a typed word): the recap.
	now = now.Add(2 * interview.DefaultIdleGap)
	submit(text("hm"))
	if n := welcomes(); n != 1 {
		t.Fatalf("%d greetings after a long pause, want 1:\n%s", n, u.Transcript())
	}
	last := u.Last().Text
	if !strings.Contains(last, "Answers given so far: 0. Next: ") {
		t.Fatalf("no recap above the question after a long pause:\n%s", last)
	}

	// Right after: no recap again.
	now = now.Add(time.Minute)
	submit(text("hm"))
	if strings.Contains(u.Last().Text, "Welcome back") {
		t.Fatalf("recap again right after:\n%s", u.Transcript())
	}
}

// After a pause at the consent question, any input that asks it again
// (here a typed word) shows the welcome and the information notice again
// under the greeting (session 6): what the person is asked to agree to,
// readable. Before, the greeting and "Do you agree?" alone.
func TestIdleGapAtConsentShowsTheWelcomeAgain(t *testing.T) {
	r := newRig(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r.handler.cfg.Now = func() time.Time { return now }
	r.core.Now = r.handler.cfg.Now
	r.rewire()
	ctx := context.Background()
	const chat = 962
	u := r.srv.User(chat, telegramtest.LanguageCode("en"))
	u.Send("hi")
	upd := int64(1)
	submit := func(u *tgmodels.Update) {
		t.Helper()
		if _, err := r.intake.Submit(ctx, u, false, 0); err != nil {
			t.Fatal(err)
		}
		upd++
	}
	text := func(s string) *tgmodels.Update {
		return &tgmodels.Update{ID: upd, Message: &tgmodels.Message{ID: int(100 + upd), Date: int(now.Unix()), Text: s,
			Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate}, From: &tgmodels.User{ID: chat, LanguageCode: "en"}}}
	}
	submit(text("/start"))
	card := lastCard(u)
	submit(callbackUpdate(upd, chat, card.ID, tapData(t, card, func(cb Callback) bool {
		return cb.Kind == CbLanguage && cb.Option == "en"
	})))
	w := lastCard(u)
	if !strings.Contains(w.Text, "/delete") {
		t.Fatalf("test setup: no welcome-and-consent card:\n%s", u.Transcript())
	}
	now = now.Add(2 * interview.DefaultIdleGap)
	submit(text("hm"))
	c := lastCard(u)
	if c.ID == w.ID || !strings.Contains(c.Text, "Welcome back") || !strings.Contains(c.Text, "/delete") || len(c.Buttons) == 0 {
		t.Fatalf("after a pause the consent card lacks the greeting or the welcome and notice:\n%s", u.Transcript())
	}
}
