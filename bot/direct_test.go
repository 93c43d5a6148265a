package bot

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// The direct calls against the fake Bot API: what the person sees is what
// the library's calls would show.
func TestDirectAPICalls(t *testing.T) {
	srv := telegramtest.NewServer()
	t.Cleanup(srv.Close)
	api, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, APIClient(testnet.Client())))
	if err != nil {
		t.Fatal(err)
	}
	obs := &countObserver{outcomes: map[string]int{}}
	s := NewSender(api, SenderOptions{Observer: obs, Direct: NewDirectAPI(srv.URL, srv.Token(), testnet.Client())})
	ctx := context.Background()
	u := srv.User(77)
	u.Send("hi")

	kb := [][]Key{{{Text: "Sì", Data: "1c0.0.si"}, {Text: "No", Data: "1c0.0.no"}}}
	id, err := s.Send(ctx, 77, Message{Text: "<b>Domanda</b> & più", Keyboard: kb})
	if err != nil || id == 0 {
		t.Fatalf("send: id %d, err %v", id, err)
	}
	m := u.Last()
	if m.ID != id || m.Text != "Domanda & più" || m.ParseMode != "HTML" || len(m.Buttons) != 1 || len(m.Buttons[0]) != 2 ||
		m.Buttons[0][0].Data != "1c0.0.si" {
		t.Fatalf("sent message: %+v", m)
	}
	if err := s.Edit(ctx, 77, id, Message{Text: "Risposta: <i>sì</i>", Keyboard: [][]Key{{{Text: "◀", Data: "1b"}}}}); err != nil {
		t.Fatal(err)
	}
	if m := u.Last(); m.Text != "Risposta: sì" || len(m.Buttons) != 1 || m.Buttons[0][0].Text != "◀" {
		t.Fatalf("edited message: %+v", m)
	}
	if err := s.EditKeyboard(ctx, 77, id, nil); err != nil {
		t.Fatal(err)
	}
	if m := u.Last(); len(m.Buttons) != 0 || m.Text != "Risposta: sì" {
		t.Fatalf("keyboard not removed: %+v", m)
	}
	// The same keyboard again changes nothing: "not modified" is harmless.
	if err := s.EditKeyboard(ctx, 77, id, nil); err != nil {
		t.Fatal(err)
	}
	// A text longer than one message goes in parts, the keyboard on the last.
	long := strings.Repeat("parola ", 1000)
	last, err := s.Send(ctx, 77, Message{Text: long, Keyboard: kb})
	if err != nil {
		t.Fatal(err)
	}
	msgs := u.Messages()
	if msgs[len(msgs)-1].ID != last || len(msgs[len(msgs)-1].Buttons) != 1 || len(msgs[len(msgs)-2].Buttons) != 0 {
		t.Fatalf("split send: last %d, messages %d", last, len(msgs))
	}
	if obs.outcomes["sendMessage ok"] != 3 || obs.outcomes["editMessageText ok"] != 1 || obs.outcomes["editMessageReplyMarkup ok"] != 1 ||
		obs.outcomes["editMessageReplyMarkup not_modified"] != 1 {
		t.Fatalf("outcomes %v", obs.outcomes)
	}
	// A tap's answer, with its notice.
	if err := u.TapIn(last, "Sì"); err != nil {
		t.Fatal(err)
	}
	q := u.CallbackAnswers()[0]
	if err := s.Answer(ctx, q.QueryID, "Salvato"); err != nil {
		t.Fatal(err)
	}
	if a := u.CallbackAnswers()[0]; !a.Answered || a.Text != "Salvato" || obs.outcomes["answerCallbackQuery ok"] != 1 {
		t.Fatalf("callback answer %+v, outcomes %v", a, obs.outcomes)
	}
	// A blocked person: ErrBlocked, as through the library.
	srv.Block(77)
	if _, err := s.Send(ctx, 77, Message{Text: "x"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("blocked: %v", err)
	}
}

// A failure to reach the API never shows the token (errors are logged).
func TestDirectAPIErrorHidesToken(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	d := NewDirectAPI(url, "123456:SECRET-TOKEN", testnet.Client())
	_, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: 1, Text: "x"})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("token in error: %v", err)
	}
	if _, class := classify(err, nil); !errors.Is(class, ErrTransient) {
		t.Fatalf("network failure: %v, want transient", class)
	}
}

func TestFastMessageID(t *testing.T) {
	for _, c := range []struct {
		in string
		id int
		ok bool
	}{
		{`{"ok":true,"result":{"message_id":123,"date":1}}`, 123, true},
		{`{"ok":true,"result":{"message_id":7}}`, 7, true},
		{`{"ok":true,"result":{"message_id":}}`, 0, false},
		{`{"ok":true,"result":{"message_id":12`, 0, false},
		{`{"ok":true,"result":{"message_id":1x}}`, 0, false},
		{`{"ok":true,"result":true}`, 0, false},
		{`{"ok":false,"error_code":400,"description":"Bad Request"}`, 0, false},
		{`{"result":{"message_id":5},"ok":true}`, 0, false}, // parsed the slow way
	} {
		if id, ok := fastMessageID([]byte(c.in)); id != c.id || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.in, id, ok, c.id, c.ok)
		}
	}
}

// A reply read without encoding/json reads as encoding/json reads it.
func TestReadReplyBodyFastPaths(t *testing.T) {
	for _, c := range []struct {
		status int
		in     string
		id     int
		code   int
	}{
		{200, `{"ok":true,"result":true}`, 0, 0},
		{200, `{"ok":true,"result":{"message_id":9,"date":1}}`, 9, 0},
		{200, `{"ok":true, "result":true}`, 0, 0},
		{200, `{"result":true,"ok":true}`, 0, 0},
		{400, `{"ok":false,"error_code":400,"description":"Bad Request: query is too old and response timeout expired or query ID is invalid"}`, 0, 400},
		{502, `<html>bad gateway</html>`, 0, 502},
		{200, `{"ok":true,"result":true}x`, 0, 200},
	} {
		id, err := readReplyBody(c.status, []byte(c.in))
		code := 0
		if err != nil {
			var api *APIError
			if !errors.As(err, &api) {
				t.Errorf("%s: %v, not an *APIError", c.in, err)
				continue
			}
			code = api.Code
		}
		if id != c.id || code != c.code {
			t.Errorf("%s: id %d, code %d (%v); want %d, %d", c.in, id, code, err, c.id, c.code)
		}
	}
}

// seenRT records the requests that reach it and answers each with an
// empty 200.
type seenRT struct{ reqs []*http.Request }

func (s *seenRT) RoundTrip(r *http.Request) (*http.Response, error) {
	s.reqs = append(s.reqs, r)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// A direct call under a deadline reaches the transport as DirectAPI built
// it (http.Client would pass a copy, made for its Timeout, with copies of
// the URL and headers); one without a deadline goes through the client,
// whose Timeout then bounds it.
func TestDirectDoerRoundTripsOnce(t *testing.T) {
	rt := &seenRT{}
	d := DirectDoer(&http.Client{Transport: rt, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://api.invalid/bot1:x/answerCallbackQuery", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := d.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	if len(rt.reqs) != 1 || rt.reqs[0] != req {
		t.Fatalf("under a deadline: the transport saw %d requests, the one built: %v", len(rt.reqs), len(rt.reqs) == 1 && rt.reqs[0] == req)
	}
	req, err = http.NewRequestWithContext(context.Background(), http.MethodPost, "http://api.invalid/bot1:x/answerCallbackQuery", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := d.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	if len(rt.reqs) != 2 {
		t.Fatalf("without a deadline: the transport saw %d requests in all", len(rt.reqs))
	}
	if _, ok := rt.reqs[1].Context().Deadline(); !ok {
		t.Fatal("without a deadline of its own, a call was not bounded by the client's Timeout")
	}
}

// The direct methods' requests share one parsed URL per method and one
// header (nothing on the way writes them), and are otherwise what
// http.NewRequestWithContext builds: the same URL, Host, length and a body
// that can be read again (GetBody: the transport retries a POST on a
// keep-alive connection the server had closed).
func TestDirectRequestSharesURLAndHeader(t *testing.T) {
	rt := &seenRT{}
	d := NewDirectAPI("https://api.telegram.org/", "123:TOK", DirectDoer(&http.Client{Transport: rt}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		for _, p := range []any{&directMessage{ChatID: 7, MessageID: 5, Text: "a"}, &directAnswer{CallbackQueryID: "q"}} {
			method := "editMessageText"
			if _, ok := p.(*directAnswer); ok {
				method = "answerCallbackQuery"
			}
			if _, err := d.call(ctx, method, p); err == nil || !strings.Contains(err.Error(), "unreadable") {
				t.Fatalf("%s: %v", method, err) // seenRT answers an empty body
			}
		}
	}
	if _, err := d.call(ctx, "setMyCommands", map[string]any{"commands": []string{}}); err == nil {
		t.Fatal("setMyCommands: no error for an empty reply")
	}
	if len(rt.reqs) != 5 {
		t.Fatalf("%d requests", len(rt.reqs))
	}
	for i, r := range rt.reqs {
		want, _ := http.NewRequest(http.MethodPost, "https://api.telegram.org/bot123:TOK/"+path.Base(r.URL.Path), strings.NewReader("x"))
		// The direct methods ask for identity (jsonHeader), others leave
		// Accept-Encoding to the transport.
		headers, encoding := 2, "identity"
		if i == 4 {
			headers, encoding = 1, ""
		}
		if r.URL.String() != want.URL.String() || r.Host != want.Host || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept-Encoding") != encoding ||
			len(r.Header) != headers || r.Proto != want.Proto {
			t.Errorf("request %d: %s %s host %q header %v %s", i, r.Method, r.URL, r.Host, r.Header, r.Proto)
		}
		body, _ := io.ReadAll(r.Body)
		again, err := r.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		body2, _ := io.ReadAll(again)
		if int64(len(body)) != r.ContentLength || string(body) != string(body2) || len(body) == 0 {
			t.Errorf("request %d: body %q (length %d), again %q", i, body, r.ContentLength, body2)
		}
	}
	if rt.reqs[0].URL != rt.reqs[2].URL || rt.reqs[1].URL != rt.reqs[3].URL || rt.reqs[0].URL == rt.reqs[1].URL {
		t.Error("a direct method's calls do not share its parsed URL")
	}
	if reflect.ValueOf(rt.reqs[0].Header).UnsafePointer() != reflect.ValueOf(rt.reqs[3].Header).UnsafePointer() {
		t.Error("the direct calls do not share their header")
	}
	if rt.reqs[4].URL == rt.reqs[0].URL || reflect.ValueOf(rt.reqs[4].Header).UnsafePointer() == reflect.ValueOf(rt.reqs[0].Header).UnsafePointer() {
		t.Error("another method shares the direct methods' URL or header")
	}
}
