package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// sentReply is about what the Bot API answers an edit with: the whole
// message, its keyboard included.
var sentReply = `{"ok":true,"result":{"message_id":5,"from":{"id":1,"is_bot":true,"first_name":"Bot","username":"bench_bot"},` +
	`"chat":{"id":7,"first_name":"A","type":"private"},"date":1,"edit_date":2,"text":"` + strings.Repeat("x", 300) + `",` +
	`"reply_markup":{"inline_keyboard":[[{"text":"18–24","callback_data":"1c5.3.18_24"},{"text":"25–34","callback_data":"1c5.3.25_34"}]]}}}`

// wrappedRT is a RoundTripper in front of an *http.Transport, as
// run.go's bufferedBodies is.
type wrappedRT struct{ next http.RoundTripper }

func (w wrappedRT) RoundTrip(r *http.Request) (*http.Response, error) { return w.next.RoundTrip(r) }

// BenchmarkSenderCalls is a tap's outbound calls in polling mode — its
// callback answer and the card's edit — through the Sender and DirectAPI
// over net/http to a loopback server, under a turn's deadline (30 s):
// "wrapped" with the client's transport behind a RoundTripper of its own
// (http.Client then runs a timer goroutine per call for its Timeout),
// "bare" over the *http.Transport itself (directClient in run.go),
// "roundtrip" bare through DirectDoer (run.go's wiring). The
// server runs in the same process: compare the two, not the absolute
// figures.
func BenchmarkSenderCalls(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		if strings.HasSuffix(r.URL.Path, "/answerCallbackQuery") {
			_, _ = io.WriteString(w, `{"ok":true,"result":true}`)
			return
		}
		_, _ = io.WriteString(w, sentReply)
	}))
	defer srv.Close()
	kb := [][]Key{{{"18–24", "1c5.3.18_24"}, {"25–34", "1c5.3.25_34"}, {"35–44", "1c5.3.35_44"}}, {{"◀ Indietro", "1b5.3"}}}
	for _, name := range []string{"wrapped", "bare", "roundtrip"} {
		bare := name != "wrapped"
		b.Run(name, func(b *testing.B) {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 128
			var rt http.RoundTripper = tr
			if !bare {
				rt = wrappedRT{tr}
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: rt, Timeout: 60 * time.Second}
			var doer HTTPDoer = c
			if name == "roundtrip" {
				doer = DirectDoer(c)
			}
			s := NewSender(nil, SenderOptions{Direct: NewDirectAPI(srv.URL, "1:x", doer),
				Global: rate.NewLimiter(rate.Inf, 1), ChatRate: rate.Inf, ChatBurst: 1000})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Answer(ctx, "q1", ""); err != nil {
					b.Fatal(err)
				}
				if err := s.Edit(ctx, 7, 5, Message{Text: "✓ <i>Sì</i>\n\n<b>Quanti anni hai?</b>\n<i>3 di 30</i>", Keyboard: kb}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
