package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/interview"
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
	ans := webhookAnswer(t, tap)
	if ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "q-held" || ans["text"] != nil {
		t.Fatalf("the tap is not answered empty in its webhook response (after %s): %v", took, ans)
	}
	if took < settleHold {
		t.Fatalf("answered after %s, before the hold expired", took)
	}

	openGate()
	drainWithoutCallbackCalls(t, r, chat, before, 10*time.Second)
	notice := r.handler.rend().Text("it", "m.stale", nil)
	if !strings.Contains(u.Transcript(), "⚠️ "+notice) {
		t.Errorf("the stale notice %q is not above the card:\n%s", notice, u.Transcript())
	}
}

// holdLog records EventObserver.HoldExpired.
type holdLog struct {
	nopEvents
	mu      sync.Mutex
	answers []string
}

func (h *holdLog) HoldExpired(answer string) {
	h.mu.Lock()
	h.answers = append(h.answers, answer)
	h.mu.Unlock()
}

func (h *holdLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.answers)
}

// gatedCalls holds the Bot API calls of one method, once hold is set,
// until open is closed.
type gatedCalls struct {
	next    http.RoundTripper
	method  string
	hold    atomic.Bool
	open    chan struct{}
	waiting atomic.Int32 // calls held at the gate
}

func (g *gatedCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.hold.Load() && strings.HasSuffix(req.URL.Path, "/"+g.method) {
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		select {
		case <-g.open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return g.next.RoundTrip(req)
}

// A webhook tap whose turn has begun, saved its step and offered its
// answer, but whose Bot API call is slow (here: the next question's
// sendMessage held)
// when settleHold ends, is answered in its webhook response — not
// through an API request of its own once the turn ends, which is what a
// loaded machine showed as "1.04 requests per update" in `needsbot
// loadtest --webhook`. The hold is ended by the test (holdEnd) once the
// edit is held, so that no clock decides which case this is.
func TestWebhookTapAnsweredInResponseWhenItsCallIsSlow(t *testing.T) {
	r := newRig(t)
	gate := &gatedCalls{next: testnet.Client().Transport, method: "sendMessage", open: make(chan struct{})}
	openGate := sync.OnceFunc(func() { close(gate.open) })
	t.Cleanup(openGate) // a failed check must not leave the turn waiting
	api, err := tg.New(r.srv.Token(), tg.WithServerURL(r.srv.URL), tg.WithSkipGetMe(),
		tg.WithHTTPClient(time.Minute, APIClient(&http.Client{Transport: gate})))
	if err != nil {
		t.Fatal(err)
	}
	r.handler.cfg.Sender = NewSender(api, SenderOptions{ChatRate: 1000, ChatBurst: 100})
	holds := &holdLog{}
	r.handler.cfg.Events = holds
	const chat = 4344
	u, card := toFirstQuestion(t, r, chat)
	before := r.srv.Calls()["answerCallbackQuery"]

	hook := r.intake.Webhook("s3cret")
	r.intake.holdEnd = make(chan struct{})
	gate.hold.Store(true)
	resp := postTap(hook, tapUpdate(4, chat, "q-slow", card.Buttons[1][0].Data, card.ID)) // not "under 18": the interview goes on
	waitUntil(t, "the tap's next question is held", func() bool { return gate.waiting.Load() == 1 })
	close(r.intake.holdEnd) // the hold ends while the call is slow
	w := <-resp
	ans := webhookAnswer(t, w)
	if ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "q-slow" || ans["text"] != nil {
		t.Fatalf("the tap is not answered in its webhook response: %v", ans)
	}
	if got := holds.get(); !slices.Equal(got, []string{"offered"}) {
		t.Errorf("holds expired %v, want [offered] (needsbot_webhook_holds_expired_total)", got)
	}

	openGate()
	drainWithoutCallbackCalls(t, r, chat, before, 30*time.Second)
	if last := u.Last(); last.ID == card.ID || len(last.Buttons) == 0 {
		t.Errorf("the next question is not below the card:\n%s", u.Transcript())
	}
}

// webhookAnswer decodes a webhook response that must carry a method.
// toFirstQuestion walks chat through /start, Italian and the consent, and
// returns its user and the first question's card.
func toFirstQuestion(t *testing.T, r *rig, chat int64) (*telegramtest.User, telegramtest.Message) {
	t.Helper()
	u := r.srv.User(chat, telegramtest.LanguageCode("it"))
	u.Send("hi")
	submit := func(up *Update) {
		t.Helper()
		if _, err := r.intake.Submit(context.Background(), up, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	submit(textUpdate(1, chat, "/start"))
	menu := u.Last()
	submit(tapUpdate(2, chat, "q-lang", menu.Buttons[0][0].Data, menu.ID)) // Italiano
	consent := u.Last()
	if len(consent.Buttons) == 0 {
		t.Fatalf("no consent card:\n%s", u.Transcript())
	}
	submit(tapUpdate(3, chat, "q-consent", consent.Buttons[0][0].Data, consent.ID))
	card := u.Last()
	if len(card.Buttons) < 2 || card.Text == consent.Text {
		t.Fatalf("no first question after the consent:\n%s", u.Transcript())
	}
	return u, card
}

// postTap serves up through the webhook, as Telegram sends it, in a
// goroutine; the response comes on the channel.
func postTap(hook http.Handler, up *Update) <-chan *httptest.ResponseRecorder {
	resp := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		body, _ := up.journalJSON()
		req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		w := httptest.NewRecorder()
		hook.ServeHTTP(w, req)
		resp <- w
	}()
	return resp
}

func webhookAnswer(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var ans map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != http.StatusOK {
		t.Fatalf("webhook response %d %q: %v", w.Code, w.Body.String(), err)
	}
	return ans
}

// drainWithoutCallbackCalls waits (at most d) for the chat's turns to end,
// stops the intake and checks that no callback query was answered through
// the Bot API since before (each was answered in its webhook response).
func drainWithoutCallbackCalls(t *testing.T, r *rig, chat int64, before int, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := r.intake.WaitIdle(ctx, chat); err != nil {
		t.Fatal(err)
	}
	r.intake.Stop()
	if n := r.srv.Calls()["answerCallbackQuery"] - before; n != 0 {
		t.Errorf("%d answerCallbackQuery calls, want 0 (answered in the webhook response)", n)
	}
}

// gatedSaves holds the Saves of the sessions, once hold is set, until open
// is closed.
type gatedSaves struct {
	*memSessions
	hold    atomic.Bool
	open    chan struct{}
	waiting atomic.Int32 // Saves held at the gate
}

func (g *gatedSaves) Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, ab *interview.Abandon, st interview.Stage) error {
	if g.hold.Load() {
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.memSessions.Save(ctx, chat, update, expect, next, blob, ab, st)
}

// A webhook tap whose turn has loaded its session but is still saving its
// step (or stepping) when settleHold ends is answered, empty, in its
// webhook response, as one whose turn has not begun — not by an
// answerCallbackQuery request of its own when the turn ends (session 11
// flaky's "api" holds). A turn still loading keeps its answer (a store
// outage answers it "one moment": TestEndToEndTapDuringRedisOutage). The
// hold is ended by the test (holdEnd) once the Save is held, so no clock
// decides.
func TestWebhookTapAnsweredInResponseWhenItsTurnIsSaving(t *testing.T) {
	r := newRig(t)
	g := &gatedSaves{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	openGate := sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(openGate) // a failed check must not leave the turn waiting
	holds := &holdLog{}
	r.handler.cfg.Events = holds
	const chat = 4345
	u, card := toFirstQuestion(t, r, chat)
	before := r.srv.Calls()["answerCallbackQuery"]

	hook := r.intake.Webhook("s3cret")
	r.intake.holdEnd = make(chan struct{})
	g.hold.Store(true)
	resp := postTap(hook, tapUpdate(4, chat, "q-saving", card.Buttons[1][0].Data, card.ID)) // not "under 18": the interview goes on
	waitUntil(t, "the tap's turn waits in its Save", func() bool { return g.waiting.Load() == 1 })
	close(r.intake.holdEnd) // the hold ends while the turn saves
	w := <-resp
	ans := webhookAnswer(t, w)
	if ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "q-saving" || ans["text"] != nil {
		t.Fatalf("the tap is not answered empty in its webhook response: %v", ans)
	}
	if got := holds.get(); !slices.Equal(got, []string{"empty"}) {
		t.Errorf("holds expired %v, want [empty] (needsbot_webhook_holds_expired_total)", got)
	}

	openGate()
	drainWithoutCallbackCalls(t, r, chat, before, 10*time.Second)
	if last := u.Last(); len(last.Buttons) == 0 || last.Text == card.Text {
		t.Errorf("the next question is not on the card:\n%s", u.Transcript())
	}
}

// The notice decision and an expiring hold are one step under the job's
// mutex: a turn that has put a notice in its callback answer (claimNotice)
// is not answered empty when the hold expires (the notice would be lost);
// a tap answered empty first gets no notice in its answer (claimNotice
// says no: the turn puts it on the card).
func TestNoticeClaimAndExpiredHoldAreAtomic(t *testing.T) {
	newTap := func() (*job, context.Context) {
		j := newJob(&Update{Kind: upCallback, Query: "q"})
		j.webhook, j.waiting = true, true
		j.begin()
		j.loaded = true // stepping or saving
		return j, context.WithValue(context.Background(), workKey{}, &work{j: j})
	}
	j, ctx := newTap()
	if !claimNotice(ctx) {
		t.Fatal("a tap nobody answered: its notice refused")
	}
	if ans, _ := j.releaseExpired(true); ans != nil || j.wasHeldOut() {
		t.Errorf("a tap whose turn put a notice in its answer was answered %v when the hold expired", ans)
	}
	j, ctx = newTap()
	if ans, _ := j.releaseExpired(true); ans == nil || ans.QueryID != "q" || ans.Text != "" || !j.wasHeldOut() {
		t.Fatalf("a tap whose turn is loading: %v, want answered empty", ans)
	}
	if claimNotice(ctx) {
		t.Error("a tap answered empty: its notice claimed for the answer, want it on the card")
	}
}
