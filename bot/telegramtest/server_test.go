package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newServer(t *testing.T, opts ...telegramtest.Option) *telegramtest.Server {
	t.Helper()
	srv := telegramtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

func newBot(t *testing.T, srv *telegramtest.Server, opts ...tg.Option) *tg.Bot {
	t.Helper()
	opts = append([]tg.Option{
		tg.WithServerURL(srv.URL),
		tg.WithSkipGetMe(),
		tg.WithErrorsHandler(func(err error) { t.Logf("bot library: %v", err) }),
		tg.WithDefaultHandler(func(context.Context, *tg.Bot, *tgmodels.Update) {}),
	}, opts...)
	b, err := tg.New(srv.Token(), opts...)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// ctxT bounds a test's waits. The bound only turns a hang into a failure;
// it measures nothing, so it is far from any real duration (50 chats under
// -race on a loaded 2-core machine took more than 10 s).
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// apiResponse is a raw Bot API answer.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// rawCall calls a method with a JSON body, bypassing the library.
func rawCall(t *testing.T, srv *telegramtest.Server, method string, params any) apiResponse {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/bot"+srv.Token()+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if !r.OK && r.ErrorCode != resp.StatusCode {
		t.Errorf("%s: HTTP status %d, error_code %d", method, resp.StatusCode, r.ErrorCode)
	}
	return r
}

func getUpdates(t *testing.T, srv *telegramtest.Server, params map[string]any) []tgmodels.Update {
	t.Helper()
	r := rawCall(t, srv, "getUpdates", params)
	if !r.OK {
		t.Fatalf("getUpdates: %d %s", r.ErrorCode, r.Description)
	}
	var ups []tgmodels.Update
	if err := json.Unmarshal(r.Result, &ups); err != nil {
		t.Fatalf("decode updates %s: %v", r.Result, err)
	}
	return ups
}

func keyboard(rows ...[]string) *tgmodels.InlineKeyboardMarkup {
	kb := &tgmodels.InlineKeyboardMarkup{}
	for _, row := range rows {
		var btns []tgmodels.InlineKeyboardButton
		for _, label := range row {
			btns = append(btns, tgmodels.InlineKeyboardButton{Text: label, CallbackData: "cb:" + label})
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, btns)
	}
	return kb
}

func wantBadRequest(t *testing.T, err error, desc string) {
	t.Helper()
	if !errors.Is(err, tg.ErrorBadRequest) || !strings.Contains(err.Error(), desc) {
		t.Fatalf("error = %v, want bad request %q", err, desc)
	}
}

func TestGetMeAndToken(t *testing.T) {
	srv := newServer(t, telegramtest.WithBotUsername("@my_bot"))
	b := newBot(t, srv)
	me, err := b.GetMe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != 123456 || !me.IsBot || me.Username != "my_bot" {
		t.Errorf("getMe = %+v", me)
	}

	wrong, err := tg.New("999:WRONG", tg.WithServerURL(srv.URL), tg.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.GetMe(ctxT(t)); !errors.Is(err, tg.ErrorUnauthorized) {
		t.Errorf("wrong token: error = %v, want unauthorized", err)
	}
	if r := rawCall(t, srv, "fooBar", map[string]any{}); r.ErrorCode != 404 || r.Description != "Not Found" {
		t.Errorf("unknown method answered %+v", r)
	}
	// Method names are case-insensitive, GET with a query works too.
	resp, err := http.Get(srv.URL + "/bot" + srv.Token() + "/GETME?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET getme: %s", resp.Status)
	}
	if got := srv.Calls(); got["getMe"] != 2 || got["fooBar"] != 1 {
		t.Errorf("Calls() = %v", got)
	}
}

func TestSendEditAndNotModified(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(42, telegramtest.FirstName("Amina"), telegramtest.LanguageCode("ar"))

	_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "hello"})
	if !errors.Is(err, tg.ErrorForbidden) || !strings.Contains(err.Error(), "bot can't initiate conversation with a user") {
		t.Fatalf("send before /start: %v", err)
	}
	srv.ClearViolations()

	u.Send("/start")
	msg, err := b.SendMessage(ctx, &tg.SendMessageParams{
		ChatID:      u.ID(),
		Text:        "<b>Welcome</b>, Amina &amp; co.\nPick one:",
		ParseMode:   tgmodels.ParseModeHTML,
		ReplyMarkup: keyboard([]string{"Yes", "No"}, []string{"Skip"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID != 2 || msg.Text != "Welcome, Amina & co.\nPick one:" || len(msg.Entities) != 1 || msg.Entities[0].Type != "bold" || msg.Entities[0].Length != 7 {
		t.Errorf("sent message = %+v", msg)
	}
	if msg.ReplyMarkup == nil || msg.ReplyMarkup.InlineKeyboard[0][1].CallbackData != "cb:No" {
		t.Errorf("reply markup = %+v", msg.ReplyMarkup)
	}
	last := u.Last()
	if !last.FromBot || last.Text != "Welcome, Amina & co.\nPick one:" || fmt.Sprint(last.Labels()) != "[[Yes No] [Skip]]" {
		t.Errorf("user sees %+v", last)
	}

	// The same text and markup again: not modified.
	_, err = b.EditMessageText(ctx, &tg.EditMessageTextParams{
		ChatID: u.ID(), MessageID: msg.ID,
		Text:        "<b>Welcome</b>, Amina &amp; co.\nPick one:",
		ParseMode:   tgmodels.ParseModeHTML,
		ReplyMarkup: keyboard([]string{"Yes", "No"}, []string{"Skip"}),
	})
	wantBadRequest(t, err, "message is not modified: specified new message content and reply markup are exactly the same")

	// Without reply_markup an edit removes the keyboard.
	edited, err := b.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: u.ID(), MessageID: msg.ID, Text: "Welcome ✓"})
	if err != nil {
		t.Fatal(err)
	}
	if edited.EditDate == 0 || edited.ReplyMarkup != nil {
		t.Errorf("edited = %+v", edited)
	}
	if last := u.Last(); last.Text != "Welcome ✓" || last.Buttons != nil || last.EditDate.IsZero() {
		t.Errorf("after edit user sees %+v", last)
	}
	if _, err := b.EditMessageReplyMarkup(ctx, &tg.EditMessageReplyMarkupParams{ChatID: u.ID(), MessageID: msg.ID}); err == nil {
		t.Error("removing an absent keyboard was accepted")
	}
	_, err = b.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: u.ID(), MessageID: 99, Text: "x"})
	wantBadRequest(t, err, "message to edit not found")
	_, err = b.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: u.ID(), MessageID: 1, Text: "x"})
	wantBadRequest(t, err, "message can't be edited")
	_, err = b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: ""})
	wantBadRequest(t, err, "message text is empty")
	_, err = b.SendMessage(ctx, &tg.SendMessageParams{ChatID: 777, Text: "x"})
	wantBadRequest(t, err, "chat not found")

	v := srv.Violations()
	if len(v) != 6 || v[0].Method != "editMessageText" || v[0].ChatID != 42 || v[0].Code != 400 {
		t.Errorf("violations = %v", v)
	}
}

func TestInlineKeyboardLimits(t *testing.T) {
	srv := newServer(t, telegramtest.WithoutRateLimits())
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(7)
	u.Send("/start")
	send := func(kb *tgmodels.InlineKeyboardMarkup) error {
		_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "q", ReplyMarkup: kb})
		return err
	}
	ok := &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{{Text: "a", CallbackData: strings.Repeat("x", 64)}}}}
	if err := send(ok); err != nil {
		t.Fatalf("64-byte callback data: %v", err)
	}
	long := &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{{Text: "a", CallbackData: strings.Repeat("é", 33)}}}}
	wantBadRequest(t, send(long), "BUTTON_DATA_INVALID")
	textOnly := &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{{Text: "a"}}}}
	wantBadRequest(t, send(textOnly), "Text buttons are unallowed in the inline keyboard")
	row9 := keyboard([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"})
	wantBadRequest(t, send(row9), "reply markup is too long")
	var rows [][]string
	for i := range 13 {
		rows = append(rows, []string{fmt.Sprint(i, "a"), fmt.Sprint(i, "b"), fmt.Sprint(i, "c"), fmt.Sprint(i, "d"), fmt.Sprint(i, "e"), fmt.Sprint(i, "f"), fmt.Sprint(i, "g"), fmt.Sprint(i, "h")})
	}
	wantBadRequest(t, send(keyboard(rows...)), "reply markup is too long") // 104 buttons
	if err := send(keyboard(rows[:12]...)); err != nil {
		t.Errorf("96 buttons: %v", err)
	}
	url := &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{{Text: "site", URL: "https://example.org/x"}}}}
	if err := send(url); err != nil {
		t.Errorf("URL button: %v", err)
	}
	if b, ok := u.Last().Button("site"); !ok || b.URL != "https://example.org/x" {
		t.Errorf("URL button seen as %+v", b)
	}
	if err := u.Tap("site"); err == nil {
		t.Error("tapping a URL button produced a callback query")
	}
}

func TestHTMLAndLength(t *testing.T) {
	srv := newServer(t, telegramtest.WithoutRateLimits())
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(8)
	u.Send("hi")
	send := func(text string) (*tgmodels.Message, error) {
		return b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: text, ParseMode: tgmodels.ParseModeHTML})
	}
	_, err := send("Score < 5")
	wantBadRequest(t, err, `can't parse entities: Unsupported start tag "" at byte offset 6`)
	_, err = send("<b>bold</i>")
	wantBadRequest(t, err, `can't parse entities: Unmatched end tag at byte offset 7, expected "</b>", found "</i>"`)
	_, err = send("<p>para</p>")
	wantBadRequest(t, err, `can't parse entities: Unsupported start tag "p" at byte offset 0`)

	if _, err := send(strings.Repeat("é", 4096)); err != nil {
		t.Errorf("4096 characters: %v", err)
	}
	_, err = send(strings.Repeat("é", 4097))
	wantBadRequest(t, err, "message is too long")
	// Tags do not count, and neither do trimmed spaces.
	if _, err := send("<b>" + strings.Repeat("a", 4096) + "</b>\n\n  "); err != nil {
		t.Errorf("4096 characters in tags: %v", err)
	}
	srv.ClearViolations()

	// A bare '&' goes through, as on Telegram, but is recorded.
	m, err := send("Q&A")
	if err != nil || m.Text != "Q&A" {
		t.Fatalf("bare &: %+v %v", m, err)
	}
	if v := srv.Violations(); len(v) != 1 || v[0].Code != 0 || !strings.Contains(v[0].Description, "unescaped '&'") {
		t.Errorf("violations = %v", v)
	}

	strict := newServer(t, telegramtest.WithStrictHTML())
	sb := newBot(t, strict)
	su := strict.User(8)
	su.Send("hi")
	_, err = sb.SendMessage(ctx, &tg.SendMessageParams{ChatID: su.ID(), Text: "Q&A", ParseMode: tgmodels.ParseModeHTML})
	wantBadRequest(t, err, "can't parse entities")
}

func TestRateLimits(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, telegramtest.WithClock(clock.Now))
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(9)
	u.Send("/start")
	send := func() error {
		_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "x"})
		return err
	}
	for i := range 5 {
		if err := send(); err != nil {
			t.Fatalf("message %d of the burst: %v", i+1, err)
		}
	}
	err := send()
	var tooMany *tg.TooManyRequestsError
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 1 || !strings.Contains(tooMany.Message, "Too Many Requests: retry after 1") {
		t.Fatalf("6th message: %v", err)
	}
	// Callback answers and chat actions are not limited.
	if _, err := b.SendChatAction(ctx, &tg.SendChatActionParams{ChatID: u.ID(), Action: tgmodels.ChatActionTyping}); err != nil {
		t.Errorf("chat action while limited: %v", err)
	}
	clock.Advance(time.Second)
	if err := send(); err != nil {
		t.Errorf("after a second: %v", err)
	}
	if err := send(); !errors.As(err, &tooMany) {
		t.Errorf("again at once: %v", err)
	}
	v := srv.Violations()
	if len(v) != 2 || v[0].Code != 429 || v[0].Method != "sendMessage" {
		t.Errorf("violations = %v", v)
	}

	// The per-bot limit across chats.
	global := newServer(t, telegramtest.WithClock(clock.Now), telegramtest.WithRateLimits(telegramtest.RateLimits{
		Chat: telegramtest.Limit{Rate: 1, Burst: 5}, Global: telegramtest.Limit{Rate: 3, Burst: 3},
	}))
	gb := newBot(t, global)
	for i := range 4 {
		gu := global.User(int64(100 + i))
		gu.Send("/start")
		_, err := gb.SendMessage(ctx, &tg.SendMessageParams{ChatID: gu.ID(), Text: "x"})
		if i < 3 && err != nil || i == 3 && !errors.As(err, &tooMany) {
			t.Errorf("chat %d: %v", i, err)
		}
	}

	// FailNext injects errors that are not violations.
	srv.ClearViolations()
	srv.FailNext("sendmessage", 429, "Too Many Requests: retry after 7", 1)
	clock.Advance(time.Hour)
	if err := send(); !errors.As(err, &tooMany) || tooMany.RetryAfter != 7 {
		t.Errorf("injected 429: %v", err)
	}
	if err := send(); err != nil {
		t.Errorf("after the injected failure: %v", err)
	}
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("injected failure recorded: %v", v)
	}
}

func TestPollingOffsets(t *testing.T) {
	srv := newServer(t)
	u := srv.User(5, telegramtest.Username("amina"), telegramtest.LanguageCode("pt-br"))
	u.Send("/start@needsbot_test_bot inv_42")
	u.Send("hello")
	u.Send("again")

	ups := getUpdates(t, srv, map[string]any{"limit": 2})
	if len(ups) != 2 || ups[0].Message.Text != "/start@needsbot_test_bot inv_42" || ups[1].ID != ups[0].ID+1 {
		t.Fatalf("first batch = %+v", ups)
	}
	m := ups[0].Message
	if m.From.LanguageCode != "pt-br" || m.From.Username != "amina" || m.Chat.ID != 5 || m.Chat.Type != "private" || m.Date == 0 {
		t.Errorf("message = %+v", m)
	}
	if len(m.Entities) != 1 || m.Entities[0].Type != "bot_command" || m.Entities[0].Length != 24 {
		t.Errorf("entities = %+v", m.Entities)
	}
	// Unconfirmed updates come again; confirmed ones are forgotten.
	if again := getUpdates(t, srv, map[string]any{}); len(again) != 3 {
		t.Errorf("without offset: %d updates", len(again))
	}
	rest := getUpdates(t, srv, map[string]any{"offset": ups[1].ID})
	if len(rest) != 2 || rest[0].ID != ups[1].ID {
		t.Fatalf("from offset: %+v", rest)
	}
	if all := getUpdates(t, srv, map[string]any{}); len(all) != 2 {
		t.Errorf("the first update was not forgotten: %d left", len(all))
	}
	last := rest[1].ID

	// A long poll waits for the next update.
	done := make(chan []tgmodels.Update)
	go func() { done <- getUpdates(t, srv, map[string]any{"offset": last + 1, "timeout": 5}) }()
	time.Sleep(50 * time.Millisecond) // let the poll start; not needed for correctness
	u.Send("late")
	select {
	case got := <-done:
		if len(got) != 1 || got[0].Message.Text != "late" || got[0].ID != last+1 {
			t.Errorf("long poll = %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return")
	}
}

func TestWaitHandledPolling(t *testing.T) {
	srv := newServer(t)
	u := srv.User(5)
	u.Send("a")
	ups := getUpdates(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := u.WaitHandled(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitHandled before confirmation: %v", err)
	}
	getUpdates(t, srv, map[string]any{"offset": ups[0].ID + 1})
	if err := u.WaitHandled(ctxT(t)); err != nil {
		t.Errorf("WaitHandled after confirmation: %v", err)
	}
	if c := u.Chat(); c.Pending != 0 {
		t.Errorf("pending = %d", c.Pending)
	}
}

func TestPollingConflicts(t *testing.T) {
	srv := newServer(t)
	polls := make(chan apiResponse, 2)
	for range 2 {
		go func() { polls <- rawCall(t, srv, "getUpdates", map[string]any{"timeout": 10}) }()
	}
	// Whichever poll came first is terminated by the second.
	r := <-polls
	if r.ErrorCode != 409 || r.Description != "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" {
		t.Errorf("earlier poll = %+v", r)
	}
	if r := rawCall(t, srv, "setWebhook", map[string]any{"url": "http://127.0.0.1:1/hook"}); !r.OK {
		t.Fatalf("setWebhook: %+v", r)
	}
	r = <-polls
	if r.ErrorCode != 409 || r.Description != "Conflict: terminated by setWebhook request" {
		t.Errorf("later poll = %+v", r)
	}
	r = rawCall(t, srv, "getUpdates", map[string]any{})
	if r.ErrorCode != 409 || !strings.Contains(r.Description, "can't use getUpdates method while webhook is active") {
		t.Errorf("poll with a webhook = %+v", r)
	}
}

// TestLibraryPolling runs go-telegram/bot's own polling loop against the
// server: updates decode into its models, including callback queries.
func TestLibraryPolling(t *testing.T) {
	srv := newServer(t)
	got := make(chan *tgmodels.Update, 10)
	b := newBot(t, srv, tg.WithNotAsyncHandlers(), tg.WithHTTPClient(2*time.Second, &http.Client{Timeout: 5 * time.Second}),
		tg.WithDefaultHandler(func(_ context.Context, _ *tg.Bot, upd *tgmodels.Update) { got <- upd }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	u := srv.User(11, telegramtest.FirstName("Luca"))
	u.Send("/start")
	upd := <-got
	if upd.Message == nil || upd.Message.Text != "/start" {
		t.Fatalf("update = %+v", upd)
	}
	q, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "Ready?", ReplyMarkup: keyboard([]string{"Go"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Tap("Go"); err != nil {
		t.Fatal(err)
	}
	upd = <-got
	cq := upd.CallbackQuery
	if cq == nil || cq.Data != "cb:Go" || cq.From.ID != 11 || cq.ChatInstance == "" {
		t.Fatalf("callback update = %+v", upd)
	}
	if cq.Message.Message == nil || cq.Message.Message.ID != q.ID || cq.Message.Message.Chat.ID != 11 {
		t.Errorf("callback message = %+v", cq.Message)
	}
	if ok, err := b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: cq.ID, Text: "Saved"}); !ok || err != nil {
		t.Fatalf("answer: %v %v", ok, err)
	}
	_, err = b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: cq.ID})
	wantBadRequest(t, err, "query is too old and response timeout expired or query ID is invalid")
	if a := u.CallbackAnswers(); len(a) != 1 || !a[0].Answered || a[0].Text != "Saved" || a[0].Label != "Go" {
		t.Errorf("answers = %+v", a)
	}
	if err := u.WaitHandled(ctxT(t)); err != nil {
		t.Errorf("WaitHandled: %v", err)
	}
}

func TestWebhookDeliveryAndRedelivery(t *testing.T) {
	srv := newServer(t, telegramtest.WithWebhookRetry(5*time.Millisecond, 5))
	var (
		mu       sync.Mutex
		received []string
		fails    = 1
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != "s3cret" {
			t.Errorf("secret header = %q", r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		}
		var upd tgmodels.Update
		if err := json.NewDecoder(r.Body).Decode(&upd); err != nil {
			t.Errorf("decode update: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		received = append(received, upd.Message.Text)
		if upd.Message.Text == "one" && fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}))
	defer hook.Close()

	b := newBot(t, srv)
	ctx := ctxT(t)
	if ok, err := b.SetWebhook(ctx, &tg.SetWebhookParams{URL: hook.URL + "/hook", SecretToken: "s3cret", AllowedUpdates: []string{"message", "callback_query"}}); !ok || err != nil {
		t.Fatalf("setWebhook: %v %v", ok, err)
	}
	u := srv.User(3)
	u.Send("one")
	u.Send("two")
	if err := u.WaitHandled(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if fmt.Sprint(received) != "[one one two]" {
		t.Errorf("deliveries = %v, want one redelivered before two", received)
	}
	mu.Unlock()
	info, err := b.GetWebhookInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.URL != hook.URL+"/hook" || info.PendingUpdateCount != 0 || info.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" {
		t.Errorf("webhook info = %+v", info)
	}
	v := srv.Violations()
	if len(v) != 1 || v[0].Method != "webhook" || v[0].Code != 500 || v[0].ChatID != 3 {
		t.Errorf("violations = %v", v)
	}
	if ok, err := b.DeleteWebhook(ctx, &tg.DeleteWebhookParams{}); !ok || err != nil {
		t.Errorf("deleteWebhook: %v %v", ok, err)
	}
	u.Send("three")
	if ups := getUpdates(t, srv, nil); len(ups) != 1 || ups[0].Message.Text != "three" {
		t.Errorf("after deleteWebhook: %+v", ups)
	}
}

func TestWebhookOrderPerChat(t *testing.T) {
	srv := newServer(t, telegramtest.WithoutRateLimits())
	var (
		mu      sync.Mutex
		perChat = map[int64][]string{}
		active  = map[int64]bool{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var upd tgmodels.Update
		_ = json.NewDecoder(r.Body).Decode(&upd)
		id := upd.Message.Chat.ID
		mu.Lock()
		if active[id] {
			t.Errorf("two deliveries at once for chat %d", id)
		}
		active[id] = true
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		active[id] = false
		perChat[id] = append(perChat[id], upd.Message.Text)
		mu.Unlock()
	}))
	defer hook.Close()
	if r := rawCall(t, srv, "setWebhook", map[string]any{"url": hook.URL, "max_connections": 8}); !r.OK {
		t.Fatal(r.Description)
	}
	var users []*telegramtest.User
	for i := range 5 {
		u := srv.User(int64(i + 1))
		users = append(users, u)
		for j := range 10 {
			u.Send(fmt.Sprint(j))
		}
	}
	for _, u := range users {
		if err := u.WaitHandled(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, texts := range perChat {
		if fmt.Sprint(texts) != "[0 1 2 3 4 5 6 7 8 9]" {
			t.Errorf("chat %d got %v", id, texts)
		}
	}
}

func TestWebhookReplyMethod(t *testing.T) {
	srv := newServer(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var upd tgmodels.Update
		_ = json.NewDecoder(r.Body).Decode(&upd)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case upd.CallbackQuery != nil:
			fmt.Fprintf(w, `{"method":"answerCallbackQuery","callback_query_id":%q,"text":"Got it"}`, upd.CallbackQuery.ID)
		case upd.Message != nil:
			fmt.Fprintf(w, `{"method":"sendMessage","chat_id":%d,"text":"echo: %s","reply_markup":{"inline_keyboard":[[{"text":"OK","callback_data":"ok"}]]}}`, upd.Message.Chat.ID, upd.Message.Text)
		}
	}))
	defer hook.Close()
	if r := rawCall(t, srv, "setWebhook", map[string]any{"url": hook.URL}); !r.OK {
		t.Fatal(r.Description)
	}
	u := srv.User(12)
	ctx := ctxT(t)
	u.Send("hi")
	msgs, err := u.WaitMessage(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Text != "echo: hi" || fmt.Sprint(msgs[0].Labels()) != "[[OK]]" {
		t.Errorf("reply = %+v", msgs[0])
	}
	if err := u.Tap("OK"); err != nil {
		t.Fatal(err)
	}
	if err := u.WaitHandled(ctx); err != nil {
		t.Fatal(err)
	}
	if a, ok := u.Chat().LastAnswer(); !ok || !a.Answered || a.Text != "Got it" || a.Data != "ok" {
		t.Errorf("answer = %+v", a)
	}
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("violations = %v", v)
	}
}

func TestDocumentAndPhotoUpload(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(13)
	u.Send("/export")
	csv := []byte("question,answer\nq1,yes\n")
	doc, err := b.SendDocument(ctx, &tg.SendDocumentParams{
		ChatID:    u.ID(),
		Document:  &tgmodels.InputFileUpload{Filename: "results.csv", Data: bytes.NewReader(csv)},
		Caption:   "Your <b>export</b>",
		ParseMode: tgmodels.ParseModeHTML,
	})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Document == nil || doc.Document.FileName != "results.csv" || doc.Document.FileSize != int64(len(csv)) || doc.Caption != "Your export" {
		t.Errorf("document message = %+v %+v", doc, doc.Document)
	}
	last := u.Last()
	if last.Kind != telegramtest.KindDocument || !bytes.Equal(last.File.Data, csv) || last.File.Name != "results.csv" || last.File.MIME != "text/csv" || last.Text != "Your export" {
		t.Errorf("user sees %+v (file %+v)", last, last.File)
	}

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	photo, err := b.SendPhoto(ctx, &tg.SendPhotoParams{ChatID: u.ID(), Photo: &tgmodels.InputFileUpload{Filename: "chart.png", Data: bytes.NewReader(img.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	if len(photo.Photo) != 1 || photo.Photo[0].Width != 40 || photo.Photo[0].Height != 30 {
		t.Errorf("photo = %+v", photo.Photo)
	}
	// A file id can be sent again.
	again, err := b.SendPhoto(ctx, &tg.SendPhotoParams{ChatID: u.ID(), Photo: &tgmodels.InputFileString{Data: photo.Photo[0].FileID}})
	if err != nil || again.Photo[0].FileID != photo.Photo[0].FileID {
		t.Errorf("resend by file id: %+v %v", again, err)
	}
	if !bytes.Equal(u.Last().File.Data, img.Bytes()) {
		t.Error("photo bytes differ")
	}
	_, err = b.SendPhoto(ctx, &tg.SendPhotoParams{ChatID: u.ID(), Photo: &tgmodels.InputFileUpload{Filename: "x.png", Data: strings.NewReader("not an image")}})
	wantBadRequest(t, err, "IMAGE_PROCESS_FAILED")
	_, err = b.SendDocument(ctx, &tg.SendDocumentParams{ChatID: u.ID(), Document: &tgmodels.InputFileString{Data: "nope"}})
	wantBadRequest(t, err, "wrong file identifier/HTTP URL specified")
}

// TestConversationTranscript plays a small questionnaire by hand: the bot
// side with raw library calls, the user side with Send and Tap.
func TestConversationTranscript(t *testing.T) {
	srv := newServer(t, telegramtest.WithoutRateLimits())
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(21, telegramtest.FirstName("Amina"))

	u.Start("inv_roma")
	ups := getUpdates(t, srv, nil)
	if ups[0].Message.Text != "/start inv_roma" {
		t.Fatalf("update = %+v", ups[0].Message)
	}
	q, err := b.SendMessage(ctx, &tg.SendMessageParams{
		ChatID: u.ID(), Text: "Do you attend an <i>Italian</i> course?", ParseMode: tgmodels.ParseModeHTML,
		ReplyMarkup: keyboard([]string{"Yes", "No"}, []string{"« Back"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Tap("Maybe"); err == nil || !strings.Contains(err.Error(), "[Yes] [No] [« Back]") {
		t.Errorf("tap on a missing button: %v", err)
	}
	if err := u.Tap("Yes"); err != nil {
		t.Fatal(err)
	}
	ups = getUpdates(t, srv, map[string]any{"offset": ups[0].ID + 1})
	cq := ups[0].CallbackQuery
	if _, err := b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: cq.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: u.ID(), MessageID: q.ID, Text: "Do you attend an Italian course? — Yes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "Thank you!\nType /delete to erase your answers."}); err != nil {
		t.Fatal(err)
	}
	u.SendSticker()
	u.SendLocation(41.9, 12.5)

	want := `me: /start inv_roma
bot: Do you attend an Italian course? — Yes
me tapped [Yes]
bot: Thank you!
     Type /delete to erase your answers.
me: [sticker 👍]
me: [location 41.9,12.5]
`
	if got := u.Transcript(); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("violations = %v", v)
	}
}

func TestWaitMessage(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	u := srv.User(30)
	u.Send("/start")
	go func() {
		for _, text := range []string{"one", "two"} {
			time.Sleep(10 * time.Millisecond)
			if _, err := b.SendMessage(context.Background(), &tg.SendMessageParams{ChatID: u.ID(), Text: text}); err != nil {
				t.Error(err)
			}
		}
	}()
	msgs, err := u.WaitMessage(ctxT(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != "one" || msgs[1].Text != "two" {
		t.Errorf("messages = %+v", msgs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	u.Send("more?")
	if _, err := u.WaitMessage(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitMessage without a reply: %v", err)
	}
	c, err := u.WaitFor(ctxT(t), func(c telegramtest.Chat) bool { return len(c.Messages) == 4 })
	if err != nil || c.Last().Text != "more?" {
		t.Errorf("WaitFor: %v %+v", err, c.Last())
	}
}

func TestUserUpdatesDecode(t *testing.T) {
	srv := newServer(t)
	u := srv.User(40, telegramtest.FirstName("Sara"))
	id := u.Send("hello")
	if err := u.Edit(id, "hello!"); err != nil {
		t.Fatal(err)
	}
	u.Forward("news")
	u.SendPhoto("look")
	u.SendVoice()
	u.SendContact("+390600000000")
	u.SendDocument("id.pdf", []byte("%PDF-1.4"))
	u.Reply(id, "re")
	u.Block()
	u.Unblock()
	ups := getUpdates(t, srv, nil)
	if len(ups) != 10 {
		t.Fatalf("%d updates", len(ups))
	}
	if e := ups[1].EditedMessage; e == nil || e.Text != "hello!" || e.EditDate == 0 || e.ID != id {
		t.Errorf("edited = %+v", e)
	}
	if f := ups[2].Message.ForwardOrigin; f == nil || f.MessageOriginHiddenUser == nil {
		t.Errorf("forward origin = %+v", f)
	}
	if m := ups[3].Message; len(m.Photo) != 1 || m.Caption != "look" {
		t.Errorf("photo = %+v", m)
	}
	if m := ups[4].Message; m.Voice == nil || m.Voice.Duration != 3 {
		t.Errorf("voice = %+v", m)
	}
	if m := ups[5].Message; m.Contact == nil || m.Contact.UserID != 40 || m.Contact.FirstName != "Sara" {
		t.Errorf("contact = %+v", m)
	}
	if m := ups[6].Message; m.Document == nil || m.Document.MimeType != "application/pdf" {
		t.Errorf("document = %+v", m)
	}
	if m := ups[7].Message; m.ReplyToMessage == nil || m.ReplyToMessage.ID != id {
		t.Errorf("reply = %+v", m)
	}
	if mc := ups[8].MyChatMember; mc == nil || mc.NewChatMember.Type != tgmodels.ChatMemberTypeBanned || mc.OldChatMember.Type != tgmodels.ChatMemberTypeMember {
		t.Errorf("block = %+v", mc)
	}
	if mc := ups[9].MyChatMember; mc == nil || mc.NewChatMember.Type != tgmodels.ChatMemberTypeMember {
		t.Errorf("unblock = %+v", mc)
	}
}

func TestBlockedUser(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	u := srv.User(50)
	u.Send("/start")
	srv.Block(50)
	_, err := b.SendMessage(ctxT(t), &tg.SendMessageParams{ChatID: u.ID(), Text: "x"})
	if !errors.Is(err, tg.ErrorForbidden) || !strings.Contains(err.Error(), "bot was blocked by the user") {
		t.Errorf("send to a blocked user: %v", err)
	}
	if v := srv.Violations(); len(v) != 1 || v[0].Code != 403 {
		t.Errorf("violations = %v", v)
	}
}

func TestGroupPrivacyAndChannel(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	g := srv.Group(-1001234567890, "Operators")
	u := srv.User(60, telegramtest.FirstName("Marco"))
	g.Send(u, "good morning")
	g.Send(u, "/start@other_bot")
	g.Send(u, "/start")
	g.Send(u, "/results@needsbot_test_bot")
	g.Send(u, "hey @needsbot_test_bot")
	ups := getUpdates(t, srv, nil)
	var texts []string
	for _, up := range ups {
		texts = append(texts, up.Message.Text)
		if up.Message.Chat.Type != "supergroup" || up.Message.Chat.Title != "Operators" {
			t.Errorf("chat = %+v", up.Message.Chat)
		}
	}
	if fmt.Sprint(texts) != "[/start /results@needsbot_test_bot hey @needsbot_test_bot]" {
		t.Errorf("bot saw %q", texts)
	}
	// The bot can answer in the group even though the user never wrote to it.
	if _, err := b.SendMessage(ctxT(t), &tg.SendMessageParams{ChatID: g.ID(), Text: "Please write to me in private."}); err != nil {
		t.Fatal(err)
	}
	if got := g.Transcript(); !strings.HasSuffix(got, "Marco: hey @needsbot_test_bot\nbot: Please write to me in private.\n") {
		t.Errorf("group transcript:\n%s", got)
	}

	ch := srv.Channel(-1009876543210, "News")
	ch.Post("hello subscribers")
	ups = getUpdates(t, srv, map[string]any{"offset": ups[len(ups)-1].ID + 1})
	if len(ups) != 1 || ups[0].ChannelPost == nil || ups[0].ChannelPost.SenderChat == nil || ups[0].ChannelPost.Chat.Type != "channel" {
		t.Errorf("channel post = %+v", ups)
	}
}

func TestCommandsMenuActionsDelete(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, telegramtest.WithClock(clock.Now))
	b := newBot(t, srv)
	ctx := ctxT(t)
	it := []tgmodels.BotCommand{{Command: "start", Description: "Inizia"}, {Command: "delete", Description: "Cancella i miei dati"}}
	if _, err := b.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: it, LanguageCode: "it"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: it[:1], Scope: &tgmodels.BotCommandScopeAllPrivateChats{}}); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetMyCommands(ctx, &tg.GetMyCommandsParams{LanguageCode: "it"})
	if err != nil || len(got) != 2 || got[1].Description != "Cancella i miei dati" {
		t.Errorf("getMyCommands(it) = %+v %v", got, err)
	}
	if c := srv.Commands("all_private_chats", ""); len(c) != 1 || c[0].Command != "start" {
		t.Errorf("Commands(all_private_chats) = %+v", c)
	}
	if none, err := b.GetMyCommands(ctx, &tg.GetMyCommandsParams{LanguageCode: "fr"}); err != nil || len(none) != 0 {
		t.Errorf("getMyCommands(fr) = %+v %v", none, err)
	}
	_, err = b.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: []tgmodels.BotCommand{{Command: "Start", Description: "x"}}})
	wantBadRequest(t, err, "BOT_COMMAND_INVALID")

	if _, err := b.SetChatMenuButton(ctx, &tg.SetChatMenuButtonParams{MenuButton: tgmodels.MenuButtonCommands{Type: tgmodels.MenuButtonTypeCommands}}); err != nil {
		t.Errorf("setChatMenuButton: %v", err)
	}
	if mb := srv.MenuButton(0); mb != `{"type":"commands"}` {
		t.Errorf("menu button = %s", mb)
	}

	u := srv.User(70)
	u.Send("/start")
	if _, err := b.SendChatAction(ctx, &tg.SendChatActionParams{ChatID: u.ID(), Action: tgmodels.ChatActionTyping}); err != nil {
		t.Fatal(err)
	}
	if a := u.Chat().Action; a != "typing" {
		t.Errorf("action = %q", a)
	}
	clock.Advance(6 * time.Second)
	if a := u.Chat().Action; a != "" {
		t.Errorf("action after 6 s = %q", a)
	}
	m, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "to delete"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.DeleteMessage(ctx, &tg.DeleteMessageParams{ChatID: u.ID(), MessageID: m.ID}); !ok || err != nil {
		t.Errorf("deleteMessage: %v %v", ok, err)
	}
	if last := u.Last(); last.Text != "/start" {
		t.Errorf("after delete the last message is %+v", last)
	}
	_, err = b.DeleteMessage(ctx, &tg.DeleteMessageParams{ChatID: u.ID(), MessageID: m.ID})
	wantBadRequest(t, err, "message to delete not found")
}

func TestCallbackExpiry(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, telegramtest.WithClock(clock.Now))
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(80)
	u.Send("/start")
	m, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "q", ReplyMarkup: keyboard([]string{"A"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.TapData(m.ID, "forged:data"); err != nil {
		t.Fatal(err)
	}
	ups := getUpdates(t, srv, nil)
	cq := ups[len(ups)-1].CallbackQuery
	if cq.Data != "forged:data" {
		t.Errorf("data = %q", cq.Data)
	}
	clock.Advance(16 * time.Second)
	_, err = b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: cq.ID})
	wantBadRequest(t, err, "query is too old")
	if a := u.CallbackAnswers(); len(a) != 1 || a[0].Answered {
		t.Errorf("answers = %+v", a)
	}
}

func TestEncodings(t *testing.T) {
	srv := newServer(t)
	u := srv.User(90)
	u.Send("/start")
	base := srv.URL + "/bot" + srv.Token() + "/sendMessage"
	form := url.Values{"chat_id": {"90"}, "text": {"<i>form</i>"}, "parse_mode": {"HTML"},
		"reply_markup": {`{"inline_keyboard":[[{"text":"A","callback_data":"a"}]]}`}}
	resp, err := http.PostForm(base, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("form: %s", body)
	}
	resp, err = http.Get(base + "?chat_id=90&text=query")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := rawCall(t, srv, "sendMessage", map[string]any{"chat_id": 90, "text": "json", "link_preview_options": map[string]any{"is_disabled": true}})
	if !r.OK {
		t.Fatal(r.Description)
	}
	var texts []string
	for _, m := range u.Messages() {
		texts = append(texts, m.Text)
	}
	if fmt.Sprint(texts) != "[/start form query json]" {
		t.Errorf("texts = %q", texts)
	}
	if m := u.Last(); !m.NoPreview {
		t.Errorf("link preview not disabled: %+v", m)
	}
}

func TestHistoryLimit(t *testing.T) {
	srv := newServer(t, telegramtest.WithHistoryLimit(10))
	u := srv.User(100)
	for i := range 35 {
		u.Send(fmt.Sprint(i))
	}
	msgs := u.Messages()
	if len(msgs) > 10 || msgs[len(msgs)-1].Text != "34" || msgs[len(msgs)-1].ID != 35 {
		t.Errorf("%d messages kept, last %+v", len(msgs), msgs[len(msgs)-1])
	}
}

// TestManyUsersWebhook drives many users at once against a webhook bot that
// answers every tap in its webhook response and sends the next question, the
// shape of the load test.
func TestManyUsersWebhook(t *testing.T) {
	srv := newServer(t, telegramtest.WithoutRateLimits())
	b := newBot(t, srv)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var upd tgmodels.Update
		if err := json.NewDecoder(r.Body).Decode(&upd); err != nil {
			t.Error(err)
			return
		}
		ctx := r.Context()
		switch {
		case upd.Message != nil:
			_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: upd.Message.Chat.ID, Text: "Q1", ReplyMarkup: keyboard([]string{"A", "B"})})
			if err != nil {
				t.Error(err)
			}
		case upd.CallbackQuery != nil:
			m := upd.CallbackQuery.Message.Message
			if _, err := b.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: m.Chat.ID, MessageID: m.ID, Text: m.Text + " ✓"}); err != nil {
				t.Error(err)
			}
			if _, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: m.Chat.ID, Text: "Q" + fmt.Sprint(m.ID), ReplyMarkup: keyboard([]string{"A", "B"})}); err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"method":"answerCallbackQuery","callback_query_id":%q}`, upd.CallbackQuery.ID)
		}
	}))
	defer hook.Close()
	if r := rawCall(t, srv, "setWebhook", map[string]any{"url": hook.URL, "max_connections": 20}); !r.OK {
		t.Fatal(r.Description)
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := srv.User(int64(1000 + i))
			u.Send("/start")
			for range 3 {
				if _, err := u.WaitFor(ctx, func(c telegramtest.Chat) bool { return len(c.Last().Buttons) > 0 }); err != nil {
					t.Error(err)
					return
				}
				if err := u.Tap("A"); err != nil {
					t.Error(err)
					return
				}
				if err := u.WaitHandled(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want := "me: /start\nbot: Q1 ✓\nme tapped [A]\nbot: Q2 ✓\nme tapped [A]\nbot: Q3 ✓\nme tapped [A]\nbot: Q4\n  [A] [B]\n"
	for i := range 50 {
		u := srv.User(int64(1000 + i))
		if got := u.Transcript(); got != want {
			t.Fatalf("user %d transcript:\n%s", i, got)
		}
		for _, a := range u.CallbackAnswers() {
			if !a.Answered {
				t.Errorf("user %d: unanswered tap %+v", i, a)
			}
		}
	}
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("violations = %v", v)
	}
	if calls := srv.Calls(); calls["answerCallbackQuery"] != 150 || calls["sendMessage"] != 200 || srv.PendingUpdates() != 0 {
		t.Errorf("calls = %v, pending %d", calls, srv.PendingUpdates())
	}
}

func TestGroupRepliesAndTaps(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	ctx := ctxT(t)
	g := srv.Group(-42, "Desk")
	u := srv.User(61, telegramtest.FirstName("Ana"))
	m, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: g.ID(), Text: "Vote", ReplyMarkup: keyboard([]string{"Up"})})
	if err != nil {
		t.Fatal(err)
	}
	g.Reply(u, m.ID, "me too") // replies to the bot reach it despite privacy mode
	if err := g.Tap(u, "Up"); err != nil {
		t.Fatal(err)
	}
	ups := getUpdates(t, srv, nil)
	if len(ups) != 2 || ups[0].Message.ReplyToMessage == nil || ups[1].CallbackQuery == nil || ups[0].Message.Chat.Type != "group" {
		t.Fatalf("updates = %+v", ups)
	}
	if _, err := b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: ups[1].CallbackQuery.ID, Text: "Counted", ShowAlert: true}); err != nil {
		t.Fatal(err)
	}
	want := "bot: Vote\n  [Up]\nAna: me too\nAna tapped [Up]\n  (alert) Counted\n"
	if got := g.Transcript(); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	getUpdates(t, srv, map[string]any{"offset": ups[1].ID + 1})
	if err := g.WaitHandled(ctx); err != nil {
		t.Error(err)
	}
	if c := g.Chat(); c.LastFromBot().Text != "Vote" || c.Title != "Desk" {
		t.Errorf("chat = %+v", c)
	}
	// TapIn names the message; a second answer to the same query fails.
	u.Send("/start")
	q, _ := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "old", ReplyMarkup: keyboard([]string{"X"})})
	if _, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.ID(), Text: "new", ReplyMarkup: keyboard([]string{"Y"})}); err != nil {
		t.Fatal(err)
	}
	if err := u.TapIn(q.ID, "X"); err != nil {
		t.Error(err)
	}
	if err := u.Tap("X"); err == nil {
		t.Error("Tap found a button that is not on the latest keyboard")
	}
}

func TestDropPendingNegativeOffsetAllowedUpdates(t *testing.T) {
	srv := newServer(t)
	u := srv.User(110)
	for i := range 5 {
		u.Send(fmt.Sprint(i))
	}
	if ups := getUpdates(t, srv, map[string]any{"offset": -2}); len(ups) != 2 || ups[0].Message.Text != "3" {
		t.Errorf("offset -2 = %+v", ups)
	}
	if n := srv.PendingUpdates(); n != 2 {
		t.Errorf("pending after offset -2 = %d", n)
	}
	if r := rawCall(t, srv, "deleteWebhook", map[string]any{"drop_pending_updates": true}); !r.OK {
		t.Fatal(r.Description)
	}
	if n := srv.PendingUpdates(); n != 0 {
		t.Errorf("pending after drop = %d", n)
	}
	// allowed_updates persists: callback queries are no longer delivered.
	getUpdates(t, srv, map[string]any{"allowed_updates": []string{"message"}})
	b := newBot(t, srv)
	if _, err := b.SendMessage(ctxT(t), &tg.SendMessageParams{ChatID: u.ID(), Text: "q", ReplyMarkup: keyboard([]string{"A"})}); err != nil {
		t.Fatal(err)
	}
	if err := u.Tap("A"); err != nil {
		t.Fatal(err)
	}
	u.Send("text")
	ups := getUpdates(t, srv, nil)
	if len(ups) != 1 || ups[0].Message == nil || ups[0].Message.Text != "text" {
		t.Errorf("with allowed_updates [message]: %+v", ups)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := srv.WaitIdle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle with an unconfirmed update: %v", err)
	}
	getUpdates(t, srv, map[string]any{"offset": ups[0].ID + 1})
	if err := srv.WaitIdle(ctxT(t)); err != nil {
		t.Errorf("WaitIdle: %v", err)
	}
}

func TestRequestLog(t *testing.T) {
	plain := newServer(t)
	u := plain.User(42)
	rawCall(t, plain, "sendMessage", map[string]any{"chat_id": u.ID(), "text": "hi"})
	if got := plain.Requests(); got != nil {
		t.Errorf("requests kept without WithRequestLog: %v", got)
	}

	srv := newServer(t, telegramtest.WithRequestLog())
	u = srv.User(42)
	u.Start("") // a user who never wrote cannot be written to (403)
	rawCall(t, srv, "sendMessage", map[string]any{"chat_id": u.ID(), "text": "<b>hi</b>", "parse_mode": "HTML",
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "A", "callback_data": "a"}}}}})
	rawCall(t, srv, "editMessageText", map[string]any{"chat_id": u.ID(), "message_id": 999, "text": "x"})
	got := srv.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2: %+v", len(got), got)
	}
	if r := got[0]; r.Method != "sendMessage" || r.ChatID != 42 || r.Code != 0 || r.Params["text"] != "<b>hi</b>" ||
		r.Params["parse_mode"] != "HTML" || !strings.Contains(r.Params["reply_markup"], `"callback_data":"a"`) {
		t.Errorf("first request %+v", r)
	}
	if r := got[1]; r.Method != "editMessageText" || r.Code != 400 {
		t.Errorf("an edit of a missing message is recorded with its error: %+v", r)
	}
}
