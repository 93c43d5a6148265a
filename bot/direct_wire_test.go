package bot

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// wireCall is one request as the Bot API server received it.
type wireCall struct {
	method, contentType, acceptEncoding, body string
	length                                    int64
}

// wireRig is a Bot API server that records every request and answers as
// the Bot API does (reply, when set, answers instead), and a Sender whose
// direct calls reach it over net/http as run.go wires them.
func wireRig(t *testing.T, reply http.HandlerFunc) (*Sender, func() []wireCall) {
	t.Helper()
	var mu sync.Mutex
	var calls []wireCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, wireCall{r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], r.Header.Get("Content-Type"),
			r.Header.Get("Accept-Encoding"), string(body), r.ContentLength})
		mu.Unlock()
		if reply != nil {
			reply(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/answerCallbackQuery") {
			io.WriteString(w, `{"ok":true,"result":true}`)
			return
		}
		io.WriteString(w, `{"ok":true,"result":{"message_id":41,"date":1,"chat":{"id":7,"type":"private"},"text":"x"}}`)
	}))
	t.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	s := NewSender(nil, SenderOptions{Direct: NewDirectAPI(srv.URL, "1:x", DirectDoer(&http.Client{Transport: tr, Timeout: time.Minute})),
		Global: rate.NewLimiter(rate.Inf, 1), ChatRate: rate.Inf, MaxRetries: 1})
	s.sleep = func(context.Context, time.Duration) error { return nil }
	return s, func() []wireCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]wireCall(nil), calls...)
	}
}

// The request bodies of every direct method, byte for byte as the Bot API
// receives them: golden, written by main at 8bf6930 (before the Sender's
// params stayed on its stack and the request was built without
// http.NewRequestWithContext). A field lost, renamed or encoded otherwise
// fails here. The two long bodies (a text split in two messages) are
// given by their SHA-256.
func TestSenderWireBodies(t *testing.T) {
	s, calls := wireRig(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kb := [][]Key{{{"18–24", "1c5.3.18_24"}, {"25–34", "1c5.3.25_34"}}, {{"◀ Indietro", "1b5.3"}, {"Salta", ""}}}
	text := "✓ <i>Sì</i>\n\n<b>Quanti anni hai?</b> \"q\" & \\ \u2028\n<i>3 di 30</i>"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []Message{{Text: text, Keyboard: kb}, {Text: "solo testo"},
		{Text: strings.Repeat("parola ", 700) + "\n\n" + strings.Repeat("fine ", 200), Keyboard: kb}} {
		chat := int64(7)
		if m.Keyboard != nil && len(m.Text) < 100 {
			chat = -1001234567890
		}
		id, err := s.Send(ctx, chat, m)
		must(err)
		if id != 41 {
			t.Fatalf("sendMessage: message id %d, want 41", id)
		}
	}
	must(s.Edit(ctx, 7, 41, Message{Text: text, Keyboard: kb}))
	must(s.Edit(ctx, 7, 41, Message{Text: "senza tastiera"}))
	must(s.EditKeyboard(ctx, 7, 41, kb))
	must(s.EditKeyboard(ctx, 7, 41, nil))
	must(s.Answer(ctx, "4382bfdwdsb323b2d9", ""))
	must(s.Answer(ctx, "q\"1", "Salvato <b>ok</b>"))
	want := []struct {
		method string
		length int64
		body   string
	}{
		{"sendMessage", 444, `{"chat_id":-1001234567890,"text":"✓ \u003ci\u003eSì\u003c/i\u003e\n\n\u003cb\u003eQuanti anni hai?\u003c/b\u003e \"q\" \u0026 \\ \u2028\n\u003ci\u003e3 di 30\u003c/i\u003e","parse_mode":"HTML","link_preview_options":{"is_disabled":true},"reply_markup":{"inline_keyboard":[[{"text":"18–24","callback_data":"1c5.3.18_24"},{"text":"25–34","callback_data":"1c5.3.25_34"}],[{"text":"◀ Indietro","callback_data":"1b5.3"},{"text":"Salta"}]]}}`},
		{"sendMessage", 97, `{"chat_id":7,"text":"solo testo","parse_mode":"HTML","link_preview_options":{"is_disabled":true}}`},
		{"sendMessage", 4181, "sha256:1532dd1804e4d2011c7b9a9939101da197130813dabf598995d46ba34be43956"},
		{"sendMessage", 2099, "sha256:3f3d87c9d240aa83d6706e4f1733f7298097074fddce0a1476f6bb35fa305696"},
		{"editMessageText", 447, `{"chat_id":7,"message_id":41,"text":"✓ \u003ci\u003eSì\u003c/i\u003e\n\n\u003cb\u003eQuanti anni hai?\u003c/b\u003e \"q\" \u0026 \\ \u2028\n\u003ci\u003e3 di 30\u003c/i\u003e","parse_mode":"HTML","link_preview_options":{"is_disabled":true},"reply_markup":{"inline_keyboard":[[{"text":"18–24","callback_data":"1c5.3.18_24"},{"text":"25–34","callback_data":"1c5.3.25_34"}],[{"text":"◀ Indietro","callback_data":"1b5.3"},{"text":"Salta"}]]}}`},
		{"editMessageText", 117, `{"chat_id":7,"message_id":41,"text":"senza tastiera","parse_mode":"HTML","link_preview_options":{"is_disabled":true}}`},
		{"editMessageReplyMarkup", 233, `{"chat_id":7,"message_id":41,"reply_markup":{"inline_keyboard":[[{"text":"18–24","callback_data":"1c5.3.18_24"},{"text":"25–34","callback_data":"1c5.3.25_34"}],[{"text":"◀ Indietro","callback_data":"1b5.3"},{"text":"Salta"}]]}}`},
		{"editMessageReplyMarkup", 67, `{"chat_id":7,"message_id":41,"reply_markup":{"inline_keyboard":[]}}`},
		{"answerCallbackQuery", 42, `{"callback_query_id":"4382bfdwdsb323b2d9"}`},
		{"answerCallbackQuery", 75, `{"callback_query_id":"q\"1","text":"Salvato \u003cb\u003eok\u003c/b\u003e"}`},
	}
	got := calls()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		body := g.body
		if strings.HasPrefix(w.body, "sha256:") {
			body = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
		}
		if g.method != w.method || g.length != w.length || int64(len(g.body)) != w.length || body != w.body || g.contentType != "application/json" {
			t.Errorf("request %d: %s (length %d, %s)\n%s\nwant %s (length %d)\n%s", i, g.method, g.length, g.contentType, body, w.method, w.length, w.body)
		}
	}
}

// replayRT answers every request with the same response, made once (its
// body read again from the start): a transport that allocates nothing,
// so that what a call allocates is the Sender's and DirectAPI's own.
type replayRT struct {
	answer, message strings.Reader
	resp            http.Response
	sink            [4096]byte
}

type replayBody struct{ r *strings.Reader }

func (b replayBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b replayBody) Close() error               { return nil }

func (rt *replayRT) RoundTrip(req *http.Request) (*http.Response, error) {
	for {
		if _, err := req.Body.Read(rt.sink[:]); err != nil {
			break
		}
	}
	req.Body.Close()
	r, reply := &rt.message, sentReply
	if strings.HasSuffix(req.URL.Path, "/answerCallbackQuery") {
		r, reply = &rt.answer, `{"ok":true,"result":true}`
	}
	r.Reset(reply)
	rt.resp = http.Response{StatusCode: 200, ContentLength: int64(len(reply)), Body: replayBody{r}, Request: req}
	return &rt.resp, nil
}

// What a direct call allocates on the bot's side of the transport, exact
// (testing.AllocsPerRun): the request (net/http's copy of a request made
// on the stack), its body, the body's reader and its GetBody — no URL, no
// header map, no params, no markup, no Split slice, no reply limit reader
// and no lane channel. main at 8bf6930: 10 for an answer, 13 for an edit,
// 10 for a keyboard's removal, 14 for a new message.
func TestDirectCallAllocs(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are not exact under the race detector")
	}
	rt := &replayRT{}
	s := NewSender(nil, SenderOptions{Direct: NewDirectAPI("http://api.invalid", "1:x", DirectDoer(&http.Client{Transport: rt})),
		Global: rate.NewLimiter(rate.Inf, 1), ChatRate: rate.Inf, ChatBurst: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := Message{Text: "✓ <i>Sì</i>\n\n<b>Quanti anni hai?</b>", Keyboard: [][]Key{{{"18–24", "1c5.3.18_24"}, {"25–34", "1c5.3.25_34"}}}}
	for _, c := range []struct {
		name string
		max  float64
		call func() error
	}{
		{"answerCallbackQuery", 5, func() error { return s.Answer(ctx, "q1", "") }},
		{"editMessageText", 5, func() error { return s.Edit(ctx, 7, 5, m) }},
		{"editMessageReplyMarkup", 5, func() error { return s.EditKeyboard(ctx, 7, 5, nil) }},
		// and the chat limiter's reservation
		{"sendMessage", 6, func() error { _, err := s.Send(ctx, 7, m); return err }},
	} {
		n := testing.AllocsPerRun(100, func() {
			if err := c.call(); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.max {
			t.Errorf("%s: %.1f allocations per call, want at most %.0f", c.name, n, c.max)
		}
	}
}

// The direct calls ask for their replies uncompressed (net/http asked for
// gzip on every call), and a reply compressed all the same, or sent
// without a length (chunked), reads as before.
func TestDirectRepliesUncompressed(t *testing.T) {
	s, calls := wireRig(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Send(ctx, 7, Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Answer(ctx, "q", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls() {
		if c.acceptEncoding != "identity" {
			t.Errorf("%s: Accept-Encoding %q, want identity", c.method, c.acceptEncoding)
		}
	}
	for _, mode := range []string{"gzip", "chunked", "gzip chunked"} {
		s, _ := wireRig(t, func(w http.ResponseWriter, r *http.Request) {
			reply := `{"ok":true,"result":{"message_id":41,"date":1,"chat":{"id":7,"type":"private"},"text":"x"}}`
			status := 200
			switch {
			case strings.HasSuffix(r.URL.Path, "/answerCallbackQuery"):
				reply = `{"ok":true,"result":true}`
			case strings.HasSuffix(r.URL.Path, "/editMessageText"):
				reply, status = bodyThrottled, 429
			}
			w.Header().Set("Content-Type", "application/json")
			var out io.Writer = w
			if strings.Contains(mode, "gzip") {
				w.Header().Set("Content-Encoding", "gzip")
				zw := gzip.NewWriter(w)
				defer zw.Close()
				out = zw
			}
			w.WriteHeader(status)
			if strings.Contains(mode, "chunked") {
				w.(http.Flusher).Flush()
			}
			io.WriteString(out, reply)
		})
		if id, err := s.Send(ctx, 7, Message{Text: "x"}); err != nil || id != 41 {
			t.Errorf("%s: sendMessage: id %d, %v", mode, id, err)
		}
		if err := s.Answer(ctx, "q", ""); err != nil {
			t.Errorf("%s: answerCallbackQuery: %v", mode, err)
		}
		var api *APIError
		if err := s.Edit(ctx, 7, 41, Message{Text: "x"}); !errors.As(err, &api) || api.Code != 429 || api.RetryAfter != 7 ||
			api.Description != "Too Many Requests: retry after 7" {
			t.Errorf("%s: editMessageText: %v, want the 429 with retry_after 7", mode, err)
		}
	}
}

// heldEvents is a bot-wide budget with events at hand (as
// redisstore.Limiter after a reservation): Allow takes one.
type heldEvents struct{ allowed, waited int }

func (h *heldEvents) Allow() bool { h.allowed++; return true }
func (h *heldEvents) Wait(context.Context) error {
	h.waited++
	return nil
}

// A live call takes an event at hand from any budget with Allow (webhook
// mode's Redis limiter has one too): no Wait, and no budgetPatience timer
// armed — the call allocates what it does with an unlimited budget.
func TestSenderTakesHeldEventWithoutTimer(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are not exact under the race detector")
	}
	h := &heldEvents{}
	s := NewSender(nil, SenderOptions{Direct: NewDirectAPI("http://api.invalid", "1:x", DirectDoer(&http.Client{Transport: &replayRT{}})),
		Global: h, ChatRate: rate.Inf, ChatBurst: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		if err := s.EditKeyboard(ctx, 7, 5, nil); err != nil {
			t.Fatal(err)
		}
	})
	if h.waited != 0 || h.allowed == 0 || n > 5 {
		t.Fatalf("%d Allow, %d Wait, %.1f allocations per call: want events taken by Allow, at most 5 allocations", h.allowed, h.waited, n)
	}
}
