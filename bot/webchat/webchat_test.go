package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// env is the page's server in front of a fake Bot API, with the test
// playing the bot through raw Bot API calls.
type env struct {
	t    *testing.T
	tg   *telegramtest.Server
	page *httptest.Server
	// offset is the bot's getUpdates offset.
	offset int64
}

func testPersonas() []Persona {
	return []Persona{
		{Key: "respondent", Label: "Respondent", FirstName: "Amina", StartButton: true, StartPayload: "demo-invite"},
		{Key: "manager", Label: "Manager", FirstName: "Marco", UserID: 4242, Commands: []string{"/results"}},
	}
}

func newEnv(t *testing.T, opt Options) *env {
	t.Helper()
	tg := telegramtest.NewServer(telegramtest.WithoutRateLimits())
	t.Cleanup(tg.Close)
	if opt.Personas == nil {
		opt.Personas = testPersonas()
	}
	if opt.Languages == nil {
		opt.Languages = []Language{{Code: "en", Name: "English"}, {Code: "ar", Name: "العربية", RTL: true}, {Code: "zh-Hans", Name: "简体中文"}, {Code: "", Name: "(not sent)"}}
	}
	page := httptest.NewServer(New(tg, opt))
	t.Cleanup(page.Close)
	return &env{t: t, tg: tg, page: page}
}

// do calls the page's API and decodes the JSON answer into out.
func (e *env) do(method, path string, body any, out any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.page.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testnet.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (e *env) session(persona string, user int64, fresh bool, lang string) sessionView {
	e.t.Helper()
	var s sessionView
	if code := e.do("POST", "/api/session", map[string]any{"persona": persona, "user": user, "fresh": fresh, "lang": lang}, &s); code != 200 {
		e.t.Fatalf("session %s: %d", persona, code)
	}
	return s
}

func (e *env) chat(user int64, since string) chatView {
	e.t.Helper()
	var c chatView
	q := "/api/chat?user=" + strconv.FormatInt(user, 10)
	if since != "" {
		q += "&since=" + since
	}
	if code := e.do("GET", q, nil, &c); code != 200 {
		e.t.Fatalf("chat: %d", code)
	}
	return c
}

// botCall is one Bot API call by the test's bot.
func (e *env) botCall(method string, params map[string]any) json.RawMessage {
	e.t.Helper()
	b, _ := json.Marshal(params)
	resp, err := testnet.Client().Post(e.tg.URL+"/bot"+e.tg.Token()+"/"+method, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		Description string          `json:"description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || !r.OK {
		e.t.Fatalf("%s: %v %s", method, err, r.Description)
	}
	return r.Result
}

// update is the part of an update the tests look at.
type update struct {
	UpdateID int64 `json:"update_id"`
	Message  *struct {
		Text string `json:"text"`
		From struct {
			ID           int64  `json:"id"`
			FirstName    string `json:"first_name"`
			LanguageCode string `json:"language_code"`
		} `json:"from"`
	} `json:"message"`
	CallbackQuery *struct {
		ID      string `json:"id"`
		Data    string `json:"data"`
		Message struct {
			MessageID int `json:"message_id"`
		} `json:"message"`
	} `json:"callback_query"`
}

// updates fetches (and so acknowledges the earlier) updates, as a bot's
// getUpdates loop does.
func (e *env) updates() []update {
	e.t.Helper()
	var us []update
	if err := json.Unmarshal(e.botCall("getUpdates", map[string]any{"offset": e.offset, "timeout": 0}), &us); err != nil {
		e.t.Fatal(err)
	}
	if len(us) > 0 {
		e.offset = us[len(us)-1].UpdateID + 1
	}
	return us
}

func TestConfig(t *testing.T) {
	e := newEnv(t, Options{Title: "needsbot"})
	var c struct {
		Title    string                       `json:"title"`
		Bot      botView                      `json:"bot"`
		Personas []map[string]any             `json:"personas"`
		Langs    []map[string]json.RawMessage `json:"languages"`
	}
	if code := e.do("GET", "/api/config", nil, &c); code != 200 {
		t.Fatalf("config: %d", code)
	}
	if c.Title != "needsbot" || c.Bot.Username != telegramtest.DefaultBotUsername || len(c.Personas) != 2 || len(c.Langs) != 4 {
		t.Fatalf("config: %+v", c)
	}
	for _, p := range c.Personas {
		if _, ok := p["UserID"]; ok || p["start_payload"] != nil {
			t.Fatalf("persona leaks internals: %v", p)
		}
	}
	if c.Personas[1]["commands"].([]any)[0] != "/results" || c.Personas[0]["start_button"] != true {
		t.Fatalf("personas: %v", c.Personas)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.session("respondent", 0, false, "en")
	b := e.session("respondent", 0, false, "en")
	if a.User == b.User || a.User < 6_000_000_000 || a.User >= 7_000_000_000 {
		t.Fatalf("fresh respondents: %d %d", a.User, b.User)
	}
	if again := e.session("respondent", a.User, false, "en"); again.User != a.User {
		t.Fatalf("a reload did not keep the respondent: %d, want %d", again.User, a.User)
	}
	if fresh := e.session("respondent", a.User, true, "en"); fresh.User == a.User {
		t.Fatal("fresh=true kept the old respondent")
	}
	if m := e.session("manager", a.User, false, "ar"); m.User != 4242 || m.Lang != "ar" {
		t.Fatalf("manager: %+v", m)
	}
	// A respondent id cannot be claimed for another persona, nor made up.
	if m := e.session("respondent", 4242, false, "en"); m.User == 4242 {
		t.Fatal("respondent took the manager's id")
	}
	if m := e.session("respondent", 123, false, "en"); m.User == 123 {
		t.Fatal("respondent took an id the server never gave out")
	}
	// The language hint reaches the bot as language_code, lowercased like
	// Telegram's; "" sends none.
	z := e.session("respondent", 0, false, "zh-Hans")
	e.do("POST", "/api/send", map[string]any{"user": z.User, "text": "你好"}, nil)
	if code := e.do("POST", "/api/language", map[string]any{"user": z.User, "lang": ""}, nil); code != 200 {
		t.Fatalf("language: %d", code)
	}
	e.do("POST", "/api/send", map[string]any{"user": z.User, "text": "again"}, nil)
	us := e.updates()
	if len(us) != 2 || us[0].Message.From.LanguageCode != "zh-hans" || us[1].Message.From.LanguageCode != "" || us[0].Message.From.FirstName != "Amina" {
		t.Fatalf("updates: %+v %+v", us[0].Message, us[len(us)-1].Message)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.session("respondent", 0, false, "en")
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"unknown persona", "POST", "/api/session", map[string]any{"persona": "admin"}, 400},
		{"unknown language", "POST", "/api/session", map[string]any{"persona": "respondent", "lang": "xx"}, 400},
		{"unknown field", "POST", "/api/session", map[string]any{"persona": "respondent", "admin": true}, 400},
		{"unknown user", "POST", "/api/send", map[string]any{"user": 99, "text": "hi"}, 404},
		{"empty text", "POST", "/api/send", map[string]any{"user": r.User, "text": "  "}, 400},
		{"text too long", "POST", "/api/send", map[string]any{"user": r.User, "text": strings.Repeat("é", 4097)}, 400},
		{"no such button", "POST", "/api/tap", map[string]any{"user": r.User, "message": 1, "label": "Yes"}, 409},
		{"bad start payload", "POST", "/api/start", map[string]any{"user": r.User, "payload": "a b"}, 400},
		{"bad language", "POST", "/api/language", map[string]any{"user": r.User, "lang": "klingon"}, 400},
		{"GET of a POST API", "GET", "/api/send", nil, 405},
		{"unknown API", "GET", "/api/nothing", nil, 404},
		{"chat of an unknown user", "GET", "/api/chat?user=5", nil, 404},
		{"bad since", "GET", "/api/chat?user=" + strconv.FormatInt(r.User, 10) + "&since=x", nil, 400},
		{"file not there", "GET", "/api/file?user=" + strconv.FormatInt(r.User, 10) + "&message=1", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.do(tt.method, tt.path, tt.body, nil); got != tt.want {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
	// A cross-site form cannot drive the chat: only JSON is accepted.
	resp, err := testnet.Client().Post(e.page.URL+"/api/send", "application/x-www-form-urlencoded", strings.NewReader("user=1&text=hi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d", resp.StatusCode)
	}
}

// TestConversation plays a short exchange: START through the invite, a
// question with buttons, a tap with a toast, the edit that records the
// answer, and "typing" while the bot has not acknowledged an update.
func TestConversation(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.session("respondent", 0, false, "en")
	if c := e.chat(r.User, ""); len(c.Messages) != 0 || c.Pending != 0 {
		t.Fatalf("new chat: %+v", c)
	}
	if code := e.do("POST", "/api/start", map[string]any{"user": r.User}, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	c := e.chat(r.User, "")
	if c.Pending != 1 || len(c.Messages) != 1 || c.Messages[0].HTML != `<a class="cmd" href="#">/start</a>` {
		// The deep link's payload reaches the bot, but the bubble reads
		// "/start", as in Telegram.
		t.Fatalf("after START: %+v", c)
	}
	us := e.updates()
	if len(us) != 1 || us[0].Message.Text != "/start demo-invite" || us[0].Message.From.ID != r.User {
		t.Fatalf("the bot got %+v", us)
	}
	e.botCall("sendMessage", map[string]any{"chat_id": r.User, "parse_mode": "HTML",
		"text": "<b>Do you agree?</b> Send /help if unsure & <i>relax</i>",
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{
			{{"text": "Yes", "callback_data": "y"}, {"text": "No", "callback_data": "n"}},
			{{"text": "Privacy", "url": "https://example.org/privacy"}},
		}}})
	e.updates() // acknowledges /start
	c = e.chat(r.User, "")
	if c.Pending != 0 || len(c.Messages) != 2 {
		t.Fatalf("after the question: %+v", c)
	}
	q := c.Messages[1]
	wantHTML := `<b>Do you agree?</b> Send <a class="cmd" href="#">/help</a> if unsure &amp; <i>relax</i>`
	if !q.FromBot || q.HTML != wantHTML || q.Edited {
		t.Fatalf("question: %+v\nwant html %s", q, wantHTML)
	}
	if len(q.Buttons) != 2 || q.Buttons[0][1].Text != "No" || q.Buttons[0][1].URL != "" || q.Buttons[1][0].URL != "https://example.org/privacy" {
		t.Fatalf("buttons: %+v", q.Buttons)
	}

	if code := e.do("POST", "/api/tap", map[string]any{"user": r.User, "message": q.ID, "label": "Yes"}, nil); code != 200 {
		t.Fatalf("tap: %d", code)
	}
	us = e.updates()
	if len(us) != 1 || us[0].CallbackQuery == nil || us[0].CallbackQuery.Data != "y" || us[0].CallbackQuery.Message.MessageID != q.ID {
		t.Fatalf("the bot got %+v", us)
	}
	e.botCall("answerCallbackQuery", map[string]any{"callback_query_id": us[0].CallbackQuery.ID, "text": "Saved ✓"})
	e.botCall("editMessageText", map[string]any{"chat_id": r.User, "message_id": q.ID, "parse_mode": "HTML", "text": "<b>Do you agree?</b>\n✓ <i>Yes</i>"})
	e.updates()
	c = e.chat(r.User, "")
	edited := c.Messages[1]
	// Edited in place, without the "edited" mark (Telegram shows none for
	// a bot's edits of its messages with buttons).
	if edited.ID != q.ID || edited.Edited || edited.HTML != "<b>Do you agree?</b>\n✓ <i>Yes</i>" || len(edited.Buttons) != 0 {
		t.Fatalf("edited in place: %+v", edited)
	}
	if len(c.Toasts) != 1 || c.Toasts[0].Text != "Saved ✓" || c.Toasts[0].Alert {
		t.Fatalf("toasts: %+v", c.Toasts)
	}
	// A stale tap (the keyboard is gone) is refused.
	if code := e.do("POST", "/api/tap", map[string]any{"user": r.User, "message": q.ID, "label": "No"}, nil); code != http.StatusConflict {
		t.Fatalf("stale tap: %d", code)
	}
}

func TestLongPoll(t *testing.T) {
	e := newEnv(t, Options{PollTimeout: 300 * time.Millisecond})
	r := e.session("respondent", 0, false, "en")
	e.do("POST", "/api/send", map[string]any{"user": r.User, "text": "hello"}, nil)
	c := e.chat(r.User, "")
	since := strconv.FormatUint(c.Version, 10)

	// Nothing happens: the poll ends after PollTimeout with the same
	// version. Only a lower bound, which load cannot break (a timer never
	// fires early); how fast a poll wakes is TestLongPollWakesOnChange's,
	// with a deadline far from any real duration.
	start := time.Now()
	if same := e.chat(r.User, since); same.Version != c.Version || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("idle poll: version %d after %v", same.Version, time.Since(start))
	}
}

func TestLongPollWakesOnChange(t *testing.T) {
	e := newEnv(t, Options{PollTimeout: 20 * time.Second})
	r := e.session("respondent", 0, false, "en")
	c := e.chat(r.User, "")
	done := make(chan chatView, 1)
	go func() { done <- e.chat(r.User, strconv.FormatUint(c.Version, 10)) }()
	time.Sleep(50 * time.Millisecond)
	e.do("POST", "/api/send", map[string]any{"user": r.User, "text": "wake up"}, nil)
	select {
	case got := <-done:
		if got.Pending != 1 || got.Messages[0].HTML != "wake up" {
			t.Fatalf("woke with %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll did not wake on a new message")
	}

	// The bot answers while the page waits: the poll wakes too.
	c = e.chat(r.User, "")
	go func() { done <- e.chat(r.User, strconv.FormatUint(c.Version, 10)) }()
	e.botCall("sendMessage", map[string]any{"chat_id": r.User, "text": "hi there"})
	select {
	case got := <-done:
		if got.Version == c.Version || got.Messages[len(got.Messages)-1].HTML != "hi there" {
			t.Fatalf("woke with %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll did not wake on the bot's message")
	}
}

func TestFilesAndCommands(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.session("manager", 0, false, "en")
	e.do("POST", "/api/send", map[string]any{"user": m.User, "text": "/results"}, nil)

	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var pngData bytes.Buffer
	_ = png.Encode(&pngData, img)
	e.upload("sendPhoto", m.User, "photo", "chart.png", pngData.Bytes(), "Results <b>chart</b>")
	e.upload("sendDocument", m.User, "document", "results.csv", []byte("a,b\n1,2\n"), "")

	e.botCall("setMyCommands", map[string]any{"commands": []map[string]string{{"command": "start", "description": "Start"}}})
	e.botCall("setMyCommands", map[string]any{"commands": []map[string]string{{"command": "results", "description": "Risultati"}}, "language_code": "it"})
	c := e.chat(m.User, "")
	if len(c.Commands) != 1 || c.Commands[0].Command != "/start" {
		t.Fatalf("default commands: %+v", c.Commands)
	}
	e.do("POST", "/api/language", map[string]any{"user": m.User, "lang": "it"}, nil)
	// "it" is not among this page's languages: refused, commands unchanged.
	if c := e.chat(m.User, ""); c.Commands[0].Command != "/start" {
		t.Fatalf("commands: %+v", c.Commands)
	}
	e.botCall("setMyCommands", map[string]any{"commands": []map[string]string{{"command": "results", "description": "Results"}},
		"scope": map[string]any{"type": "chat", "chat_id": m.User}})
	c = e.chat(m.User, "")
	if len(c.Commands) != 1 || c.Commands[0].Command != "/results" {
		t.Fatalf("per-chat commands: %+v", c.Commands)
	}

	// A map pin shows its title and address (it was an empty bubble).
	e.botCall("sendVenue", map[string]any{"chat_id": m.User, "latitude": 43.77, "longitude": 11.25, "title": "Sportello", "address": "Via Roma 1"})
	if c := e.chat(m.User, ""); c.Messages[len(c.Messages)-1].Kind != "venue" || c.Messages[len(c.Messages)-1].Extra != "Sportello — Via Roma 1" {
		t.Fatalf("venue: %+v", c.Messages[len(c.Messages)-1])
	}

	photo, doc := c.Messages[1], c.Messages[2]
	if photo.Kind != "photo" || photo.File == nil || photo.HTML != "Results <b>chart</b>" || doc.Kind != "document" || doc.File.Name != "results.csv" {
		t.Fatalf("media: %+v %+v", photo, doc)
	}
	resp, err := testnet.Client().Get(e.page.URL + photo.File.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, pngData.Bytes()) {
		t.Fatalf("photo: %s, %d bytes", resp.Header.Get("Content-Type"), len(body))
	}
	resp, err = testnet.Client().Get(e.page.URL + doc.File.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("Content-Disposition") != `attachment; filename=results.csv` || string(body) != "a,b\n1,2\n" {
		t.Fatalf("document: %v %q", resp.Header, body)
	}
	// Another user cannot read the manager's files.
	r := e.session("respondent", 0, false, "en")
	if code := e.do("GET", "/api/file?user="+strconv.FormatInt(r.User, 10)+"&message="+strconv.Itoa(doc.ID), nil, nil); code != 404 {
		t.Fatalf("someone else's file: %d", code)
	}
}

// upload sends a file as a bot does, in a multipart request.
func (e *env) upload(method string, chat int64, field, name string, data []byte, caption string) {
	e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("chat_id", strconv.FormatInt(chat, 10))
	if caption != "" {
		_ = w.WriteField("caption", caption)
		_ = w.WriteField("parse_mode", "HTML")
	}
	fw, _ := w.CreateFormFile(field, name)
	_, _ = fw.Write(data)
	_ = w.Close()
	resp, err := testnet.Client().Post(e.tg.URL+"/bot"+e.tg.Token()+"/"+method, w.FormDataContentType(), &b)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		out, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("%s: %s", method, out)
	}
}

func TestPageIsSelfContained(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/", "/app.js", "/app.css", "/icon.svg"} {
		resp, err := testnet.Client().Get(e.page.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) < 200 {
			t.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("%s: CSP %q", path, csp)
		}
	}
	// Nothing is loaded from the network: no absolute URLs in src, href,
	// url() or fetch() anywhere in the page.
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|fetch\(\s*["'](https?:)?//|@import`)
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(static, path)
		if m := external.Find(data); m != nil {
			t.Errorf("%s loads from the network: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMaxUsers(t *testing.T) {
	e := newEnv(t, Options{MaxUsers: 2})
	first := e.session("respondent", 0, false, "en")
	e.session("respondent", 0, false, "en")
	e.session("respondent", 0, false, "en")
	if code := e.do("POST", "/api/send", map[string]any{"user": first.User, "text": "hi"}, nil); code != 404 {
		t.Fatalf("the oldest respondent is still remembered: %d", code)
	}
	if m := e.session("manager", 0, false, "en"); m.User != 4242 {
		t.Fatal("fixed personas are never forgotten")
	}
}

// TestPersonaAction: a persona's demo button runs its action once per
// POST and the page gets its text; personas without one have none.
func TestPersonaAction(t *testing.T) {
	runs := 0
	ps := testPersonas()
	ps[1].Action = &Action{Label: "+ 300 synthetic interviews", Run: func(context.Context) (string, error) {
		runs++
		return "Added 300.", nil
	}}
	e := newEnv(t, Options{Personas: ps})
	var cfg struct {
		Personas []struct {
			Key    string `json:"key"`
			Action *struct {
				Label string `json:"label"`
			} `json:"action"`
		} `json:"personas"`
	}
	e.do("GET", "/api/config", nil, &cfg)
	if cfg.Personas[0].Action != nil || cfg.Personas[1].Action == nil || cfg.Personas[1].Action.Label != "+ 300 synthetic interviews" {
		t.Fatalf("config: %+v", cfg)
	}
	var out struct {
		Text string `json:"text"`
	}
	if code := e.do("POST", "/api/action", map[string]any{"persona": "manager"}, &out); code != 200 || out.Text != "Added 300." || runs != 1 {
		t.Fatalf("action: %d %q runs %d", code, out.Text, runs)
	}
	if code := e.do("POST", "/api/action", map[string]any{"persona": "respondent"}, nil); code != 404 {
		t.Fatalf("a persona without an action: %d", code)
	}
}
