package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// fast relaxes Telegram's limits on both sides, for tests about behaviour
// rather than pacing (TestEndToEndPollingInterview keeps the real limits).
func fast(h *harness) *harness {
	h.env["NEEDSBOT_TELEGRAM_CHAT_RATE"] = "1000"
	h.env["NEEDSBOT_TELEGRAM_RATE"] = "1000"
	return h
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// webhook switches the harness to webhook mode on a free port.
func webhook(t *testing.T, h *harness) string {
	addr := freePort(t)
	h.env["NEEDSBOT_LISTEN_ADDR"] = addr
	h.env["NEEDSBOT_WEBHOOK_URL"] = "http://" + addr + "/telegram/webhook"
	h.env["NEEDSBOT_WEBHOOK_SECRET"] = "test_secret-123-0123456789abcdefghij"
	return "http://" + addr + "/telegram/webhook"
}

func (r *respondent) labels() []string {
	var out []string
	for _, row := range r.question().Labels() {
		out = append(out, row...)
	}
	return out
}

func TestEndToEndWebhookDedupAndRedelivery(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	url := webhook(t, h)
	h.start()
	u := h.tg.User(5550002, telegramtest.LanguageCode("en"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("English")
	r.tap("Yes, I agree")

	// Health, readiness and metrics on the same listener.
	base := strings.TrimSuffix(url, "/telegram/webhook")
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "needsbot_updates_total"} {
		resp, err := testnet.Client().Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %q", path, resp.StatusCode, b[:min(len(b), 200)])
		}
	}

	// Metrics are not compressed even when the scraper accepts gzip (a
	// gzip writer is ~0.8 MB of heap for a page of a few KB).
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	if resp, err := testnet.Client().Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if enc := resp.Header.Get("Content-Encoding"); enc != "" || !strings.Contains(string(b), "needsbot_updates_total") {
			t.Errorf("/metrics accepting gzip: Content-Encoding %q, %d bytes", enc, len(b))
		}
	}

	// A wrong secret is refused with 401 and changes nothing.
	resp, err := testnet.Client().Post(url, "application/json", strings.NewReader(`{"update_id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no secret: status %d", resp.StatusCode)
	}

	// The same update delivered twice is applied once: tap the first age
	// band by posting one callback update twice.
	q := r.question()
	q0 := q.ID
	before := len(u.Messages())
	var data string
	for _, row := range q.Buttons {
		for _, b := range row {
			if strings.Contains(b.Text, "25") {
				data = b.Data
			}
		}
	}
	update := map[string]any{"update_id": 900000001, "callback_query": map[string]any{
		"id": "dup-query", "chat_instance": "x", "data": data,
		"from":    map[string]any{"id": 5550002, "is_bot": false, "first_name": "T", "language_code": "en"},
		"message": map[string]any{"message_id": q.ID, "date": time.Now().Unix(), "chat": map[string]any{"id": 5550002, "type": "private"}},
	}}
	body, _ := json.Marshal(update)
	var callsBefore int
	for i := 0; i < 2; i++ {
		if i == 1 {
			callsBefore = h.tg.TotalCalls()
		}
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "test_secret-123-0123456789abcdefghij")
		resp, err := testnet.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer map[string]any
		json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i+1, resp.StatusCode)
		}
		if i == 0 && answer["method"] != "answerCallbackQuery" {
			t.Errorf("callback not answered in the webhook response: %v", answer)
		}
		if i == 1 && answer["method"] != nil {
			// Issue 17 #3: the duplicate's callback was answered already.
			t.Errorf("duplicate answered again in the webhook response: %v", answer)
		}
		if i == 0 {
			// The response can go back before the turn's own calls (its
			// edit) are made: count from when the first delivery is
			// applied.
			ctx, cancel := context.WithTimeout(context.Background(), slow(60*time.Second))
			err := waitIdle(ctx, t, u.ID())
			cancel()
			if err != nil {
				t.Fatalf("the first delivery was not applied: %v", err)
			}
		}
	}
	if n := h.tg.TotalCalls() - callsBefore; n != 0 {
		t.Errorf("duplicate delivery made %d Bot API calls, want 0: %v", n, h.tg.Calls())
	}
	// One live card: the tap turned the age question into the next one
	// (an edit, no new message), the answer visible above it.
	if got := len(u.Messages()) - before; got != 0 {
		t.Fatalf("duplicate delivery: %d new messages, want 0 (the card is edited)\n%s", got, u.Transcript())
	}
	if q := r.question(); q.ID != q0 || !strings.Contains(q.Text, "✓ 25 to 34") || !strings.Contains(q.Text, "You are…") {
		t.Fatalf("the card does not show the answer and the next question: %q", q.Text)
	}

	// A crash between saving and sending: sendMessage fails past the
	// retries, the webhook answers 500, Telegram delivers again, and the
	// redelivery shows the question once more instead of applying twice.
	h.tg.FailNext("editMessageText", 502, "Bad Gateway", 5)
	r.tap(r.labels()[0]) // first service
	if q := r.question(); !strings.Contains(q.Text, "Which country") {
		t.Fatalf("after redelivery the next question is not shown:\n%s", u.Transcript())
	}
	r.oneLive()
	if vs := h.tg.Violations(); len(vs) > 0 {
		for _, v := range vs {
			if v.Method != "webhook" { // the injected 500s are expected webhook failures
				t.Errorf("violation: %+v", v)
			}
		}
	}
	r.junk = true // junk at every remaining step
	n := r.answerRest("Thank you")
	if n == 0 {
		t.Fatal("interview did not continue")
	}
	if v := h.count(`SELECT count(*) FROM responses`); v != 1 {
		t.Fatalf("responses %d, want 1", v)
	}
	if v := h.count(`SELECT count(*) FROM answers WHERE question = 'eta' AND value = '25_34'`); v != 1 {
		t.Fatalf("age answered %d times, want once", v)
	}
}

func TestEndToEndRestartResumeAndLanguages(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.start()
	u := h.tg.User(5550003, telegramtest.LanguageCode("uk"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	if first := r.labels()[0]; first != "Українська" {
		t.Fatalf("picker does not suggest Ukrainian first: %v", r.labels())
	}
	r.tap("Italiano")
	r.tap("Sì, accetto")
	r.tap("Da 35 a 44 anni")
	r.tap("Una donna")

	// The bot process restarts mid-interview; the respondent resumes.
	h.shutdown()
	h.start()
	r.send("/start")
	if !strings.Contains(r.question().Text, "Di quale Paese") {
		t.Fatalf("did not resume at the current question:\n%s", u.Transcript())
	}
	// Switch language twice; answers are kept.
	r.send("/language")
	r.tap("English")
	if !strings.Contains(r.question().Text, "Which country") {
		t.Fatalf("question not re-rendered in English: %q", r.question().Text)
	}
	r.oneLive()
	r.tap(r.labels()[1])
	r.send("/language")
	r.tap("Українська")
	r.answerRest("дякуємо")
	var lang string
	var langs []string
	if err := h.db().QueryRow(context.Background(), `SELECT language, languages FROM responses`).Scan(&lang, &langs); err != nil {
		t.Fatal(err)
	}
	if lang != "uk" || strings.Join(langs, ",") != "it,en,uk" {
		t.Fatalf("language %q languages %v", lang, langs)
	}
	if v := h.count(`SELECT count(*) FROM answers WHERE (question, value) IN (('eta','35_44'),('genere','donna'))`); v != 2 {
		t.Fatalf("answers given before the restart and the switches were lost: %d", v)
	}
}

func TestEndToEndJunkGroupsAndCommands(t *testing.T) {
	t.Parallel()
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.start()
	u := h.tg.User(5550004, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/nonsense")
	if !strings.Contains(u.Last().Text, "Non conosco questo comando") {
		t.Fatalf("unknown command: %q", u.Last().Text)
	}
	r.send("/help")
	if !strings.Contains(u.Last().Text, "/delete") {
		t.Fatalf("help: %q", u.Last().Text)
	}
	r.send("/start@" + h.tg.BotUsername())
	r.tap("Italiano")
	r.tap("Sì, accetto")
	for _, junk := range []func(){
		func() { u.SendSticker() }, func() { u.SendPhoto("x") }, func() { u.SendVoice() },
		func() { u.SendLocation(41.9, 12.5) }, func() { u.SendContact("+39000") },
		func() { u.SendDocument("a.txt", []byte("hi")) }, func() { u.Forward("hello") },
		func() { u.Send(strings.Repeat("ا", 4000)) }, func() { u.TapData(r.question().ID, "1c0.0.forged") },
		func() { u.TapData(r.question().ID, "garbage") },
	} {
		junk()
		r.wait()
		if q := r.question(); !strings.Contains(q.Text, "Quanti anni") {
			t.Fatalf("after junk the current question is not on screen:\n%s", u.Transcript())
		}
	}
	if err := u.Edit(u.Messages()[0].ID, "edited"); err == nil {
		r.wait()
	}
	// Groups: one short "write to me in private" when addressed, nothing kept.
	g := h.tg.Group(-100777, "Community")
	g.Send(u, "/start")
	ctx, cancel := context.WithTimeout(context.Background(), slow(10*time.Second))
	defer cancel()
	if err := g.WaitHandled(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitIdle(ctx, t, g.ID()); err != nil {
		t.Fatal(err)
	}
	if c := g.Chat(); len(c.Messages) < 2 || !strings.Contains(c.Last().Text, "chat privata") {
		t.Fatalf("group reply: %s", g.Transcript())
	}
	// Delete: confirmation, then everything erased.
	r.tap("Da 18 a 24 anni")
	r.send("/delete")
	r.tap("Sì, cancella")
	// The chat's messages of the last 48 hours (the bot's and the
	// person's) are deleted; what is left says so.
	if left := u.Messages(); len(left) != 2 || !strings.Contains(left[0].Text, "cancellate") ||
		!strings.Contains(left[1].Text, "48 ore") {
		t.Fatalf("after delete:\n%s", u.Transcript())
	}
	r.send("/start")
	if !strings.Contains(u.Last().Text, "lingua") && len(r.labels()) < 10 {
		t.Fatalf("after delete a new interview does not start from the language:\n%s", u.Transcript())
	}
	for _, v := range h.tg.Violations() {
		t.Errorf("violation: %+v", v)
	}
	if strings.Contains(h.logs.String(), "5550004") {
		t.Error("raw user id in logs")
	}
}
