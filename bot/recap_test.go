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

// clockedChat is a rig whose clock the test moves (now) and one English
// chat on it, which typed "hi" (so the fake knows it), with its updates
// numbered in order: for the idle-gap tests.
type clockedChat struct {
	t    *testing.T
	r    *rig
	u    *telegramtest.User
	chat int64
	now  time.Time
	upd  int64
}

func newClockedChat(t *testing.T, chat int64) *clockedChat {
	c := &clockedChat{t: t, r: newRig(t), chat: chat, now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), upd: 1}
	c.r.handler.cfg.Now = func() time.Time { return c.now }
	c.r.core.Now = c.r.handler.cfg.Now
	c.r.rewire()
	c.u = c.r.srv.User(chat, telegramtest.LanguageCode("en"))
	c.u.Send("hi")
	return c
}

func (c *clockedChat) submit(u *Update) {
	c.t.Helper()
	if _, err := c.r.intake.Submit(context.Background(), u, false, 0); err != nil {
		c.t.Fatal(err)
	}
	c.upd++
}

// text submits s, typed now.
func (c *clockedChat) text(s string) {
	c.t.Helper()
	c.submit(updateOf(&tgmodels.Update{ID: c.upd, Message: &tgmodels.Message{ID: int(100 + c.upd), Date: int(c.now.Unix()), Text: s,
		Chat: tgmodels.Chat{ID: c.chat, Type: tgmodels.ChatTypePrivate}, From: &tgmodels.User{ID: c.chat, LanguageCode: "en"}}}))
}

// tap submits a tap on card's key that which picks.
func (c *clockedChat) tap(card telegramtest.Message, which func(Callback) bool) {
	c.t.Helper()
	c.submit(callbackUpdate(c.upd, c.chat, card.ID, tapData(c.t, card, which)))
}

// TestIdleGapRecap: any input after a pause of at least the idle gap
// (reminders off: interview.DefaultIdleGap, 1 h) shows the resume
// greeting and recap above the current question; an input after a shorter
// pause does not. The clock is injected.
func TestIdleGapRecap(t *testing.T) {
	c := newClockedChat(t, 961)
	r, u := c.r, c.u
	c.text("/start")
	for i := 0; i < 4 && !r.state(t, c.chat).Consent; i++ {
		var card telegramtest.Message
		for _, m := range u.Messages() {
			if len(m.Buttons) > 0 {
				card = m
			}
		}
		c.tap(card, func(cb Callback) bool {
			return (cb.Kind == CbChoose && cb.Option == "yes") || (cb.Kind == CbLanguage && cb.Option == "en")
		})
	}
	if st := r.state(t, c.chat); st.Phase != dialog.PhaseAsking || !st.Consent {
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
	c.now = c.now.Add(interview.DefaultIdleGap - time.Minute)
	c.text("hm")
	if n := welcomes(); n != 0 {
		t.Fatalf("recap after a pause shorter than the idle gap:\n%s", u.Transcript())
	}

	// A long pause, then any input (here a typed word): the recap.
	c.now = c.now.Add(2 * interview.DefaultIdleGap)
	c.text("hm")
	if n := welcomes(); n != 1 {
		t.Fatalf("%d greetings after a long pause, want 1:\n%s", n, u.Transcript())
	}
	last := u.Last().Text
	if !strings.Contains(last, "Answers given so far: 0. Next: ") {
		t.Fatalf("no recap above the question after a long pause:\n%s", last)
	}

	// Right after: no recap again.
	c.now = c.now.Add(time.Minute)
	c.text("hm")
	if strings.Contains(u.Last().Text, "Welcome back") {
		t.Fatalf("recap again right after:\n%s", u.Transcript())
	}
}

// After a pause at the consent question, any input that asks it again
// (here a typed word) shows the welcome and the information notice again
// under the greeting (session 6): what the person is asked to agree to,
// readable. Before, the greeting and "Do you agree?" alone.
func TestIdleGapAtConsentShowsTheWelcomeAgain(t *testing.T) {
	c := newClockedChat(t, 962)
	u := c.u
	c.text("/start")
	c.tap(lastCard(u), func(cb Callback) bool { return cb.Kind == CbLanguage && cb.Option == "en" })
	w := lastCard(u)
	if !strings.Contains(w.Text, "/delete") {
		t.Fatalf("test setup: no welcome-and-consent card:\n%s", u.Transcript())
	}
	c.now = c.now.Add(2 * interview.DefaultIdleGap)
	c.text("hm")
	card := lastCard(u)
	if card.ID == w.ID || !strings.Contains(card.Text, "Welcome back") || !strings.Contains(card.Text, "/delete") || len(card.Buttons) == 0 {
		t.Fatalf("after a pause the consent card lacks the greeting or the welcome and notice:\n%s", u.Transcript())
	}
}
