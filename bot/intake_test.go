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

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
)

// memSessions is an in-memory Sessions; panicOn makes Load panic for one
// chat, to exercise recovery.
type memSessions struct {
	mu      sync.Mutex
	states  map[int64]interview.Loaded
	seen    map[int64]interview.Seen
	panicOn int64
	order   []int64 // update ids in the order they were loaded
}

var _ interview.Sessions = (*memSessions)(nil)

func newMemSessions() *memSessions {
	return &memSessions{states: map[int64]interview.Loaded{}, seen: map[int64]interview.Seen{}}
}

func (m *memSessions) Load(_ context.Context, chat, update int64) (interview.Loaded, error) {
	if chat == m.panicOn {
		panic("boom")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order = append(m.order, update)
	l := m.states[chat]
	l.Seen = m.seen[update]
	return l, nil
}

func (m *memSessions) Save(_ context.Context, chat, update int64, expect, next uint64, blob []byte, _ *interview.Abandon, _ interview.Stage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states[chat].Version != expect {
		return interview.ErrConflict
	}
	m.states[chat] = interview.Loaded{Blob: blob, Version: next, LastMsg: m.states[chat].LastMsg}
	m.seen[update] = interview.SeenApplied
	return nil
}

func (m *memSessions) MarkSent(_ context.Context, chat, update int64, lastMsg int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[update] = interview.SeenSent
	l := m.states[chat]
	l.LastMsg = lastMsg
	m.states[chat] = l
	return nil
}

func (m *memSessions) Delete(_ context.Context, chat int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.states, chat)
	return nil
}

type memResponses struct {
	mu   sync.Mutex
	done map[string]interview.Completion
}

var _ interview.Responses = (*memResponses)(nil)

func (m *memResponses) Complete(_ context.Context, c interview.Completion) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[c.ID] = c
	return nil
}

func (m *memResponses) Erase(context.Context, string) (int, error) { return 0, nil }

// rig is a Handler and Intake over in-memory storage and the fake Bot API.
type rig struct {
	srv      *telegramtest.Server
	sessions *memSessions
	intake   *Intake
	handler  *Handler
	core     interview.Config // the handler's core, as wired; see rewire
}

// rewire gives the handler a core made from r.core, after a test changed it.
func (r *rig) rewire() { r.handler.cfg.Core = interview.New(r.core) }

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := telegramtest.NewServer(telegramtest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	api, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, APIClient(testnet.Client())))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	_, lib := testRenderer(t)
	r := &rig{srv: srv, sessions: newMemSessions()}
	r.core = interview.Config{Forms: lib, Catalog: cat, Sessions: r.sessions, Responses: &memResponses{done: map[string]interview.Completion{}},
		DefaultContext: map[string]string{interview.CtxMunicipality: "1"}, Pseudonym: func(u int64) string { return "p" }}
	r.handler = NewHandler(Config{Core: interview.New(r.core), Catalog: cat,
		Sender: NewSender(api, SenderOptions{ChatRate: 1000, ChatBurst: 100}), Username: srv.BotUsername()})
	r.intake = NewIntake(r.handler, IntakeOptions{Workers: 4})
	t.Cleanup(r.intake.Stop)
	return r
}

func textUpdate(id, chat int64, text string) *Update { return updateOf(libTextUpdate(id, chat, text)) }

// libTextUpdate is textUpdate as the library's type.
func libTextUpdate(id, chat int64, text string) *tgmodels.Update {
	return &tgmodels.Update{ID: id, Message: &tgmodels.Message{ID: int(id), Date: int(time.Now().Unix()), Text: text,
		Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate},
		From: &tgmodels.User{ID: chat, FirstName: "T", LanguageCode: "it"}}}
}

func TestPanicIsRecoveredAndApologised(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(777, telegramtest.LanguageCode("it"))
	u.Send("hello") // the fake now knows the chat
	r.sessions.panicOn = 777
	_, err := r.intake.Submit(context.Background(), textUpdate(1, 777, "/start"), false, 0)
	if err != nil {
		t.Fatalf("a panic must count as handled, got %v", err)
	}
	if last := u.Last(); !last.FromBot || !strings.Contains(last.Text, "qualcosa non ha funzionato") {
		t.Fatalf("no localised apology: %q", last.Text)
	}
	// The worker survived: the next update of another chat is handled.
	r.sessions.panicOn = 0
	if _, err := r.intake.Submit(context.Background(), textUpdate(2, 777, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.Last().Text, "/delete") {
		t.Fatalf("worker dead after a panic: %q", u.Last().Text)
	}
}

func TestIntakeKeepsChatOrder(t *testing.T) {
	r := newRig(t)
	for _, chat := range []int64{101, 102, 103} {
		r.srv.User(chat).Send("hi")
	}
	var wg sync.WaitGroup
	for i := int64(1); i <= 30; i++ {
		chat := 101 + i%3
		j, err := r.intake.enqueue(context.Background(), textUpdate(i, chat, "/help"), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-j.done }()
	}
	wg.Wait()
	last := map[int64]int64{}
	for _, id := range r.sessions.order {
		chat := 101 + id%3
		if id < last[chat] {
			t.Fatalf("chat %d: update %d handled after %d", chat, id, last[chat])
		}
		last[chat] = id
	}
	if len(r.sessions.order) != 30 {
		t.Fatalf("handled %d of 30", len(r.sessions.order))
	}
}

func TestWebhookHandler(t *testing.T) {
	r := newRig(t)
	r.srv.User(900).Send("hi")
	h := r.intake.Webhook("s3cret")
	body, _ := textUpdate(5, 900, "/help").journalJSON() // as Telegram sends it
	tests := []struct {
		name, method, secret, body string
		want                       int
	}{
		{"wrong secret", http.MethodPost, "nope", string(body), http.StatusUnauthorized},
		{"no secret", http.MethodPost, "", string(body), http.StatusUnauthorized},
		{"GET", http.MethodGet, "s3cret", "", http.StatusMethodNotAllowed},
		{"garbage", http.MethodPost, "s3cret", "{not json", http.StatusBadRequest},
		{"good", http.MethodPost, "s3cret", string(body), http.StatusOK},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "/hook", strings.NewReader(tt.body))
		if tt.secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.secret)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.want)
		}
	}
	r.intake.Stop()
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("after Stop: status %d, want 503", w.Code)
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) Update(string, string, time.Duration) {}
func (e *eventLog) HoldExpired(string)                   {}
func (e *eventLog) Interview(ev string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

func TestBlockedIsCountedAsStopped(t *testing.T) {
	r := newRig(t)
	log := &eventLog{}
	r.handler.cfg.Events = log
	u := r.srv.User(31337)
	u.Send("hi")
	upd := &tgmodels.Update{ID: 9, MyChatMember: &tgmodels.ChatMemberUpdated{
		Chat:          tgmodels.Chat{ID: 31337, Type: tgmodels.ChatTypePrivate},
		NewChatMember: tgmodels.ChatMember{Type: tgmodels.ChatMemberTypeBanned, Banned: &tgmodels.ChatMemberBanned{}},
	}}
	if _, err := r.intake.Submit(context.Background(), updateOf(upd), false, 0); err != nil {
		t.Fatal(err)
	}
	if len(log.events) != 1 || log.events[0] != "stopped" {
		t.Fatalf("events %v", log.events)
	}
	if n := len(u.Messages()); n != 1 {
		t.Fatalf("the bot wrote to a user who blocked it: %d messages", n)
	}
}

// budgetGate is a bot-wide budget that lets calls through only while open.
type budgetGate struct {
	mu   sync.Mutex
	open chan struct{} // closed while open
}

func newBudgetGate() *budgetGate {
	c := make(chan struct{})
	close(c)
	return &budgetGate{open: c}
}

func (g *budgetGate) shut() { g.mu.Lock(); g.open = make(chan struct{}); g.mu.Unlock() }
func (g *budgetGate) lift() { g.mu.Lock(); close(g.open); g.mu.Unlock() }

func (g *budgetGate) Wait(ctx context.Context) error {
	g.mu.Lock()
	c := g.open
	g.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A webhook tap whose edit waits for the bot-wide budget gets its answer
// in the webhook response at once (issue 19): under Telegram's limits the
// wait can outlast the response's settleHold and even Telegram's patience
// with an unanswered tap. The edit follows once the budget allows it, and
// the tap is not answered a second time through the API.
func TestWebhookTapAnsweredWhileWaitingForBudget(t *testing.T) {
	r := newRig(t)
	budget := newBudgetGate()
	r.handler.cfg.Sender = NewSender(r.handler.cfg.Sender.api, SenderOptions{Global: budget, ChatRate: 1000, ChatBurst: 100})
	u := r.srv.User(4242, telegramtest.LanguageCode("it"))
	u.Send("hi")
	if _, err := r.intake.Submit(context.Background(), textUpdate(1, 4242, "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	menu := u.Last()
	if len(menu.Buttons) == 0 || menu.Buttons[0][0].Data == "" {
		t.Fatalf("no language menu: %+v", menu)
	}
	budget.shut()
	body, _ := tapUpdate(2, 4242, "q-budget", menu.Buttons[0][0].Data, menu.ID).journalJSON() // as Telegram sends it
	req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
	w := httptest.NewRecorder()
	start := time.Now()
	r.intake.Webhook("s3cret").ServeHTTP(w, req)
	took := time.Since(start)
	var ans map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != http.StatusOK {
		t.Fatalf("webhook response %d %q: %v", w.Code, w.Body.String(), err)
	}
	if ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "q-budget" {
		t.Fatalf("the tap's answer is not in the webhook response (after %s): %v", took, ans)
	}
	if got := u.Last(); got.ID != menu.ID || got.Source != menu.Source {
		t.Fatalf("the card changed before the budget allowed the edit: %+v", got)
	}
	budget.lift()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := u.WaitFor(ctx, func(c telegramtest.Chat) bool { return c.Last().Source != menu.Source }); err != nil {
		t.Fatalf("the card was never edited: %v\n%s", err, u.Transcript())
	}
	r.intake.Stop()
	if n := r.srv.Calls()["answerCallbackQuery"]; n != 0 {
		t.Errorf("%d answerCallbackQuery calls, want 0 (answered in the webhook response)", n)
	}
}
