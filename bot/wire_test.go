package bot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer answers each request it reads with the next of its replies,
// written as they are (framing and all); a reply that ends with the
// marker closeAfter is written without it and the connection closed.
type rawServer struct {
	ln net.Listener

	mu       sync.Mutex
	replies  []string
	requests []*http.Request
	bodies   []string
	accepts  int
	got      chan struct{} // a request was read
}

const closeAfter = "\x00close"

func newRawServer(t *testing.T, replies ...string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, replies: replies, got: make(chan struct{}, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepts++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.bodies = append(s.bodies, string(body))
		var rep string
		if len(s.replies) > 0 {
			rep, s.replies = s.replies[0], s.replies[1:]
		}
		s.mu.Unlock()
		s.got <- struct{}{}
		if rep == "" { // no reply: hold the connection
			_, _ = io.Copy(io.Discard, r)
			return
		}
		closeIt := strings.HasSuffix(rep, closeAfter)
		rep = strings.TrimSuffix(rep, closeAfter)
		if _, err := io.WriteString(c, rep); err != nil || closeIt {
			return
		}
	}
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

func (s *rawServer) counts() (accepts, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts, len(s.requests)
}

const (
	okSentBody   = `{"ok":true,"result":{"message_id":42,"date":1,"chat":{"id":7,"type":"private"},"text":"x"}}`
	okAnswerBody = `{"ok":true,"result":true}`
)

func withLength(body string) string { return withStatus("200 OK", body) }

func withStatus(status, body string) string {
	return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// The ways an HTTP/1.x server may frame a reply, each read to the same
// body, and whether the connection is used again.
func TestWireReplyFraming(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n" +
		"10;ext=1\r\n" + okSentBody[:16] + "\r\n" + strconv.FormatInt(int64(len(okSentBody)-16), 16) + "\r\n" + okSentBody[16:] + "\r\n0\r\nX-Trailer: 1\r\n\r\n"
	for _, c := range []struct {
		name      string
		reply     string
		id        int
		reuse     bool
		wantError bool
	}{
		{"content-length", withLength(okSentBody), 42, true, false},
		{"chunked with extension and trailer", chunked, 42, true, false},
		{"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\n" + withLength(okSentBody), 42, true, false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(okSentBody)) + "\r\n\r\n" + okSentBody + closeAfter, 42, false, false},
		{"HTTP/1.0 to the end", "HTTP/1.0 200 OK\r\n\r\n" + okSentBody + closeAfter, 42, false, false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: " + strconv.Itoa(len(okSentBody)) + "\r\n\r\n" + okSentBody, 42, true, false},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: " + strconv.Itoa(len(okSentBody)) + "\n\n" + okSentBody, 42, true, false},
		{"answer", withLength(okAnswerBody), 0, true, false},
		{"refusal", withStatus("400 Bad Request", `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`), 0, true, true},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + okSentBody + closeAfter, 0, false, true},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n" + closeAfter, 0, false, true},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" + closeAfter, 0, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newRawServer(t, c.reply, withLength(okAnswerBody))
			d := NewWireAPI(srv.url(), "1:x", nil)
			if !d.Wire() {
				t.Fatal("no wire client")
			}
			id, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: 7, Text: "x"})
			if (err != nil) != c.wantError || id != c.id {
				t.Fatalf("id %d, err %v; want %d, error %v", id, err, c.id, c.wantError)
			}
			if c.wantError {
				return
			}
			// The next call: on the same connection, or a new one.
			if _, err := d.call(context.Background(), "answerCallbackQuery", &directAnswer{CallbackQueryID: "q"}); err != nil {
				t.Fatal(err)
			}
			accepts, requests := srv.counts()
			if want := map[bool]int{true: 1, false: 2}[c.reuse]; accepts != want || requests != 2 {
				t.Fatalf("%d connections, %d requests; want %d, 2", accepts, requests, want)
			}
		})
	}
}

// The request as a net/http server reads it: the method's path, the JSON
// body as DirectAPI writes it, its length and type, the Host.
func TestWireRequest(t *testing.T) {
	srv := newRawServer(t, withLength(okSentBody))
	d := NewWireAPI(srv.url()+"/prefix/", "123:AbC_-9", nil)
	m := &directMessage{ChatID: -100123, Text: "<b>Ciao</b> & \"tu\"\n", ParseMode: "HTML", Preview: &directPreview{IsDisabled: true},
		ReplyMarkup: directKeyboard([][]Key{{{Text: "Sì", Data: "1c0.0.si"}}}, false)}
	if _, err := d.call(context.Background(), "sendMessage", m); err != nil {
		t.Fatal(err)
	}
	req, body := srv.requests[0], srv.bodies[0]
	if req.Method != http.MethodPost || req.URL.Path != "/prefix/bot123:AbC_-9/sendMessage" || req.Host != srv.ln.Addr().String() ||
		req.Header.Get("Content-Type") != "application/json" || req.ContentLength != int64(len(body)) || len(req.TransferEncoding) != 0 {
		t.Fatalf("request %s %s host %s headers %v length %d", req.Method, req.URL, req.Host, req.Header, req.ContentLength)
	}
	if want := string(appendMessage(nil, m)); body != want {
		t.Fatalf("body %s\nwant %s", body, want)
	}
}

// A keep-alive connection the server closed while it was idle: the call
// goes on a new connection, once; a reply cut after it began is an error,
// not sent again.
func TestWireServerClosedIdleConnection(t *testing.T) {
	t.Run("closed before the request", func(t *testing.T) {
		// The server closes each connection after its reply without
		// saying so (no Connection: close).
		srv := newRawServer(t, withLength(okSentBody)+closeAfter, withLength(okAnswerBody)+closeAfter)
		d := NewWireAPI(srv.url(), "1:x", nil)
		if _, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: 7, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.call(context.Background(), "answerCallbackQuery", &directAnswer{CallbackQueryID: "q"}); err != nil {
			t.Fatalf("second call on a closed connection: %v", err)
		}
		if accepts, requests := srv.counts(); accepts != 2 || requests != 2 {
			t.Fatalf("%d connections, %d requests; want 2, 2", accepts, requests)
		}
	})
	t.Run("cut in the reply", func(t *testing.T) {
		srv := newRawServer(t, withLength(okSentBody), "HTTP/1.1 200 OK\r\nContent-Len"+closeAfter, withLength(okAnswerBody))
		d := NewWireAPI(srv.url(), "1:x", nil)
		if _, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: 7, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		_, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: 7, Text: "y"})
		if _, class := classify(err, nil); !errors.Is(class, ErrTransient) {
			t.Fatalf("cut reply: %v (%v), want transient", err, class)
		}
		if accepts, requests := srv.counts(); accepts != 1 || requests != 2 {
			t.Fatalf("%d connections, %d requests; want 1, 2 (not sent again)", accepts, requests)
		}
	})
}

// An idle connection the server closed is seen as closed before it is
// used again; an open one as open.
func TestWirePeekOpen(t *testing.T) {
	srv := newRawServer(t, withLength(okAnswerBody), withLength(okAnswerBody)+closeAfter)
	d := NewWireAPI(srv.url(), "1:x", nil)
	ctx := context.Background()
	if _, err := d.call(ctx, "answerCallbackQuery", &directAnswer{CallbackQueryID: "q"}); err != nil {
		t.Fatal(err)
	}
	c := d.wire.idle[0]
	if !c.open() {
		t.Fatal("an open idle connection seen as closed")
	}
	if _, err := d.call(ctx, "answerCallbackQuery", &directAnswer{CallbackQueryID: "q"}); err != nil {
		t.Fatal(err)
	}
	// The server has closed it now: its FIN arrives in a moment.
	for i := 0; c.open(); i++ {
		if i == 500 {
			t.Fatal("a connection closed by the server still seen as open after 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Taken again after wireCheckAfter, it is dropped for a new one
	// without an error or a second attempt.
	c.used = time.Now().Add(-2 * wireCheckAfter)
	srv.mu.Lock()
	srv.replies = []string{withLength(okAnswerBody)}
	srv.mu.Unlock()
	got, reused, err := d.wire.conn(ctx, time.Now().Add(time.Minute))
	if err != nil || reused || got == c {
		t.Fatalf("conn: reused %v, same %v, err %v", reused, got == c, err)
	}
	got.Close()
}

// A cancelled call ends at once with the context's error (not retried by
// the Sender as a network failure), and its connection is not reused.
func TestWireCancel(t *testing.T) {
	srv := newRawServer(t, "") // never answers
	d := NewWireAPI(srv.url(), "1:x", nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.got
		cancel()
	}()
	_, err := d.call(ctx, "sendMessage", &directMessage{ChatID: 7, Text: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if outcome, _ := classify(err, nil); outcome != "canceled" {
		t.Fatalf("outcome %s", outcome)
	}
	if len(d.wire.idle) != 0 {
		t.Fatal("the cancelled call's connection kept")
	}
	// A context already done: nothing is sent.
	if _, err := d.call(ctx, "sendMessage", &directMessage{ChatID: 7, Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if _, requests := srv.counts(); requests != 1 {
		t.Fatalf("%d requests", requests)
	}
	// A deadline that passes is the context's too.
	srv2 := newRawServer(t, "")
	d2 := NewWireAPI(srv2.url(), "1:x", nil)
	ctx2, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(50*time.Millisecond))
	defer cancel2()
	if _, err := d2.call(ctx2, "sendMessage", &directMessage{ChatID: 7, Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
}

// Which URLs get the wire client: plain http without a proxy.
func TestWireOnlyForPlainHTTP(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	for url, want := range map[string]bool{
		"http://127.0.0.1:8081":      true,
		"http://localhost:8081/":     true,
		"http://bot-api:8081/base":   true,
		"https://api.telegram.org":   false,
		"http://user:pw@bot-api:80":  false,
		"http://bot-api:8081/?x=1":   false,
		"unix:///var/run/bot-api.so": false,
	} {
		if got := NewWireAPI(url, "123:ABC", nil).Wire(); got != want {
			t.Errorf("%s: wire %v, want %v", url, got, want)
		}
	}
	if NewWireAPI("http://127.0.0.1:8081", "123:A B", nil).Wire() {
		t.Error("a token with a space in a request line")
	}
}

// Under many calls at once (and -race), every reply reaches its caller.
func TestWireConcurrentCalls(t *testing.T) {
	var n sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Echo the chat id as the message id; some replies long enough to
		// be sent chunked.
		id := string(bytes.TrimPrefix(bytes.SplitN(body, []byte(","), 2)[0], []byte(`{"chat_id":`)))
		n.Store(id, true)
		pad := ""
		if id[len(id)-1] == '7' {
			pad = strings.Repeat("x", 5000)
		}
		_, _ = io.WriteString(w, `{"ok":true,"result":{"message_id":`+id+`,"text":"`+pad+`"}}`)
	}))
	defer srv.Close()
	d := NewWireAPI(srv.URL, "1:x", nil)
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				chat := int64(g*1000 + i + 1)
				id, err := d.call(context.Background(), "sendMessage", &directMessage{ChatID: chat, Text: "x"})
				if err != nil || int64(id) != chat {
					t.Errorf("chat %d: id %d, err %v", chat, id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(d.wire.idle) > wireMaxIdle || len(d.wire.idle) == 0 {
		t.Fatalf("%d idle connections", len(d.wire.idle))
	}
	d.CloseIdle()
}
