package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// Issue 19: a webhook step tap whose turn cannot begin within settleHold
// (here: behind a slow turn of its own chat) is answered, empty, in its
// webhook response when the hold expires — not later through the API,
// maybe too late for Telegram. Its turn answers it no more, and the
// validation notice it has (a stale tap) goes above the card instead.
func TestWebhookTapAnsweredWhenHoldExpires(t *testing.T) {
	r := newRig(t)
	g := &gatedSessions{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	openGate := sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(openGate) // a failed check must not leave the turn waiting
	const chat = 4343
	u := r.srv.User(chat, telegramtest.LanguageCode("it"))
	u.Send("hi")
	submit := func(id int64, data string, msg int) {
		t.Helper()
		up := textUpdate(id, chat, "/start")
		if data != "" {
			up = tapUpdate(id, chat, "q-setup", data, msg)
		}
		if _, err := r.intake.Submit(context.Background(), up, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	submit(1, "", 0)
	menu := u.Last()
	submit(2, menu.Buttons[0][0].Data, menu.ID) // Italiano
	consent := u.Last()
	if len(consent.Buttons) == 0 {
		t.Fatalf("no consent card:\n%s", u.Transcript())
	}
	stale := consent.Buttons[0][0].Data
	submit(3, stale, consent.ID) // consent given: the card asks the next question
	if strings.Contains(labelsOf(u.Last()), consent.Labels()[0][0]) && u.Last().Text == consent.Text {
		t.Fatalf("consent not applied:\n%s", u.Transcript())
	}
	before := r.srv.Calls()["answerCallbackQuery"]

	hook := r.intake.Webhook("s3cret")
	post := func(u *Update) *httptest.ResponseRecorder {
		body, _ := u.journalJSON() // as Telegram sends it
		req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		w := httptest.NewRecorder()
		hook.ServeHTTP(w, req)
		return w
	}
	g.hold.Store(true) // the chat's next turn cannot load its session
	var wg sync.WaitGroup
	var first, tap *httptest.ResponseRecorder
	wg.Add(1)
	go func() { defer wg.Done(); first = post(textUpdate(4, chat, "/help")) }()
	// The slow turn holds its chat: its Load waits at the gate. (Not
	// Pending() == 1: the consent tap's job leaves the count only after
	// Submit returned, so the tap could be queued first and its own turn
	// begin — and answer it — instead.)
	waitUntil(t, "the slow turn waits in its Load", func() bool { return g.waiting.Load() == 1 })
	start := time.Now()
	tap = post(tapUpdate(5, chat, "q-held", stale, consent.ID)) // a stale tap: a validation notice
	took := time.Since(start)
	wg.Wait()
	if first.Code != http.StatusOK || first.Body.String() != "{}" {
		t.Fatalf("the slow turn's response: %d %q", first.Code, first.Body.String())
	}
	var ans map[string]any
	if err := json.Unmarshal(tap.Body.Bytes(), &ans); err != nil || tap.Code != http.StatusOK {
		t.Fatalf("webhook response %d %q: %v", tap.Code, tap.Body.String(), err)
	}
	if ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "q-held" || ans["text"] != nil {
		t.Fatalf("the tap is not answered empty in its webhook response (after %s): %v", took, ans)
	}
	if took < settleHold {
		t.Fatalf("answered after %s, before the hold expired", took)
	}

	openGate()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.intake.WaitIdle(ctx, chat); err != nil {
		t.Fatal(err)
	}
	r.intake.Stop()
	if n := r.srv.Calls()["answerCallbackQuery"] - before; n != 0 {
		t.Errorf("%d answerCallbackQuery calls, want 0 (answered in the webhook response)", n)
	}
	notice := r.handler.rend().Text("it", "m.stale", nil)
	if !strings.Contains(u.Transcript(), "⚠️ "+notice) {
		t.Errorf("the stale notice %q is not above the card:\n%s", notice, u.Transcript())
	}
}
