package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	"golang.org/x/time/rate"

	"github.com/needsbot/needsbot/internal/testnet"
)

// Bodies exactly as the Bot API returns them.
const (
	bodyNotModified = `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}`
	bodyQueryOld    = `{"ok":false,"error_code":400,"description":"Bad Request: query is too old and response timeout expired or query ID is invalid"}`
	bodyEditGone    = `{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}`
	bodyBadEntities = `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""}`
	bodyBlocked     = `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`
	bodyThrottled   = `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`
	bodyBadGateway  = `{"ok":false,"error_code":502,"description":"Bad Gateway"}`
	bodyInternal    = `{"ok":false,"error_code":500,"description":"Internal Server Error"}`
	bodyUnauth      = `{"ok":false,"error_code":401,"description":"Unauthorized"}`
	bodyMessage     = `{"ok":true,"result":{"message_id":5,"date":1765000000,"chat":{"id":42,"type":"private"},"text":"x"}}`
	bodyTrue        = `{"ok":true,"result":true}`
)

type reply struct {
	status int // default: 200 for ok bodies, error_code otherwise
	body   string
}

// apiRig is an httptest Bot API that answers each call with the next
// scripted reply, and a Sender whose waits are recorded, not slept.
type apiRig struct {
	mu      sync.Mutex
	replies []reply
	calls   []string
	waits   []time.Duration
	obs     *countObserver
	s       *Sender
	url     string
}

func newAPIRig(t *testing.T, wrap bool, replies ...reply) *apiRig {
	t.Helper()
	r := &apiRig{replies: replies, obs: &countObserver{outcomes: map[string]int{}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:])
		if len(r.replies) == 0 {
			t.Errorf("unexpected call %s", req.URL.Path)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		rep := r.replies[0]
		r.replies = r.replies[1:]
		status := rep.status
		if status == 0 {
			status = http.StatusOK
			if e := parseAPIError(http.StatusOK, []byte(rep.body)); e != nil {
				status = e.Code
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(rep.body))
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	var client tg.HttpClient = testnet.Client()
	if wrap {
		client = APIClient(client)
	}
	api, err := tg.New("123:TEST", tg.WithServerURL(srv.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, client))
	if err != nil {
		t.Fatal(err)
	}
	r.s = NewSender(api, SenderOptions{Global: rate.NewLimiter(rate.Inf, 1), ChatRate: rate.Inf, MaxRetries: 2, Observer: r.obs})
	r.s.sleep = func(_ context.Context, d time.Duration) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.waits = append(r.waits, d)
		return nil
	}
	t.Cleanup(func() {
		if len(r.replies) != 0 {
			t.Errorf("%d scripted replies not consumed", len(r.replies))
		}
	})
	return r
}

func (r *apiRig) check(t *testing.T, calls int, waits []time.Duration, outcome string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) != calls {
		t.Errorf("%d calls %v, want %d", len(r.calls), r.calls, calls)
	}
	if len(r.waits) != len(waits) {
		t.Errorf("waits %v, want %v", r.waits, waits)
	} else {
		for i := range waits {
			if r.waits[i] != waits[i] {
				t.Errorf("waits %v, want %v", r.waits, waits)
			}
		}
	}
	if outcome != "" && r.obs.outcomes[outcome] == 0 {
		t.Errorf("outcomes %v, want %q", r.obs.outcomes, outcome)
	}
}

var testKB = [][]Key{{{Text: "A", Data: "1c0.0.a"}}}

func TestSenderDecidesFromAPIBody(t *testing.T) {
	t.Run("library", func(t *testing.T) { testSenderDecidesFromAPIBody(t, false) })
	t.Run("direct", func(t *testing.T) { testSenderDecidesFromAPIBody(t, true) })
}

// testSenderDecidesFromAPIBody runs the cases through go-telegram/bot, or
// with direct through DirectAPI for the calls it makes (sendMessage and
// the edits; answerCallbackQuery stays with the library).
func testSenderDecidesFromAPIBody(t *testing.T, direct bool) {
	ctx := context.Background()
	newAPIRig := func(t *testing.T, wrap bool, replies ...reply) *apiRig {
		t.Helper()
		r := newAPIRig(t, wrap, replies...)
		if direct {
			r.s.direct = NewDirectAPI(r.url, "123:TEST", testnet.Client())
		}
		return r
	}
	t.Run("400 not modified is swallowed", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyNotModified})
		if err := r.s.Edit(ctx, 42, 5, Message{Text: "q", Keyboard: testKB}); err != nil {
			t.Fatal(err)
		}
		r.check(t, 1, nil, "editMessageText not_modified")
	})
	t.Run("400 query too old is swallowed", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyQueryOld})
		if err := r.s.Answer(ctx, "q1", ""); err != nil {
			t.Fatal(err)
		}
		r.check(t, 1, nil, "answerCallbackQuery query_too_old")
	})
	t.Run("400 message to edit not found is swallowed", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyEditGone})
		if err := r.s.EditKeyboard(ctx, 42, 5, nil); err != nil {
			t.Fatal(err)
		}
		r.check(t, 1, nil, "editMessageReplyMarkup edit_gone")
	})
	t.Run("other 400 is a refusal, not retried", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyBadEntities})
		_, err := r.s.Send(ctx, 42, Message{Text: "<b>x"})
		var api *APIError
		if !errors.Is(err, ErrTelegram) || !errors.As(err, &api) || api.Code != 400 {
			t.Fatalf("want ErrTelegram with the API's 400, got %v", err)
		}
		r.check(t, 1, nil, "sendMessage 400")
	})
	t.Run("a reworded not-modified is a refusal: descriptions match whole", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified"}`})
		if err := r.s.Edit(ctx, 42, 5, Message{Text: "q"}); !errors.Is(err, ErrTelegram) {
			t.Fatalf("want ErrTelegram, got %v", err)
		}
	})
	t.Run("403 blocked", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyBlocked})
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); !errors.Is(err, ErrBlocked) {
			t.Fatalf("want ErrBlocked, got %v", err)
		}
		r.check(t, 1, nil, "sendMessage 403")
	})
	t.Run("429 waits retry_after then delivers", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyThrottled}, reply{body: bodyMessage})
		id, err := r.s.Send(ctx, 42, Message{Text: "x"})
		if err != nil || id != 5 {
			t.Fatalf("id %d, err %v", id, err)
		}
		r.check(t, 2, []time.Duration{7 * time.Second}, "sendMessage 429")
		if r.obs.waited != 7*time.Second {
			t.Errorf("observer told of %v waited", r.obs.waited)
		}
	})
	t.Run("429 past the retries is transient and carries retry_after", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyThrottled}, reply{body: bodyThrottled}, reply{body: bodyThrottled})
		_, err := r.s.Send(ctx, 42, Message{Text: "x"})
		var api *APIError
		if !errors.Is(err, ErrTransient) || !errors.As(err, &api) || api.RetryAfter != 7 {
			t.Fatalf("want ErrTransient with retry_after 7, got %v", err)
		}
		r.check(t, 3, []time.Duration{7 * time.Second, 7 * time.Second}, "")
	})
	t.Run("5xx is retried with backoff", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyBadGateway}, reply{body: bodyInternal}, reply{body: bodyMessage})
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); err != nil {
			t.Fatal(err)
		}
		r.check(t, 3, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, "sendMessage 502")
	})
	t.Run("a proxy's non-JSON 502 is transient", func(t *testing.T) {
		r := newAPIRig(t, true, reply{status: 502, body: "<html>bad gateway</html>"}, reply{body: bodyTrue})
		if err := r.s.Answer(ctx, "q1", ""); err != nil {
			t.Fatal(err)
		}
		r.check(t, 2, []time.Duration{200 * time.Millisecond}, "answerCallbackQuery 502")
	})
	t.Run("5xx past the retries is transient", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyInternal}, reply{body: bodyInternal}, reply{body: bodyInternal})
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); !errors.Is(err, ErrTransient) {
			t.Fatalf("want ErrTransient, got %v", err)
		}
		r.check(t, 3, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, "sendMessage 500")
	})
	t.Run("401 is refused, not retried", func(t *testing.T) {
		r := newAPIRig(t, true, reply{body: bodyUnauth})
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); !errors.Is(err, ErrTelegram) {
			t.Fatalf("want ErrTelegram, got %v", err)
		}
		r.check(t, 1, nil, "sendMessage refused")
	})
	t.Run("without APIClient the library's typed errors still give the code", func(t *testing.T) {
		if direct {
			t.Skip("DirectAPI reads the body itself")
		}
		r := newAPIRig(t, false, reply{body: bodyBlocked}, reply{body: bodyThrottled}, reply{body: bodyMessage}, reply{body: bodyNotModified})
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); !errors.Is(err, ErrBlocked) {
			t.Fatalf("want ErrBlocked, got %v", err)
		}
		if _, err := r.s.Send(ctx, 42, Message{Text: "x"}); err != nil {
			t.Fatal(err)
		}
		// No description without APIClient: not swallowed, but not retried either.
		if err := r.s.Edit(ctx, 42, 5, Message{Text: "q"}); !errors.Is(err, ErrTelegram) {
			t.Fatalf("want ErrTelegram, got %v", err)
		}
		r.check(t, 4, []time.Duration{7 * time.Second}, "sendMessage 403")
	})
}

// No response at all is transient.
func TestSenderNetworkFailureIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	api, err := tg.New("123:TEST", tg.WithServerURL(url), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, APIClient(testnet.Client())))
	if err != nil {
		t.Fatal(err)
	}
	obs := &countObserver{outcomes: map[string]int{}}
	s := NewSender(api, SenderOptions{MaxRetries: 1, Observer: obs})
	var waits int
	s.sleep = func(context.Context, time.Duration) error { waits++; return nil }
	if _, err := s.Send(context.Background(), 42, Message{Text: "x"}); !errors.Is(err, ErrTransient) {
		t.Fatalf("want ErrTransient, got %v", err)
	}
	if waits != 1 || obs.outcomes["sendMessage network"] != 2 {
		t.Fatalf("waits %d, outcomes %v", waits, obs.outcomes)
	}
}

func TestParseAPIError(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   *APIError
	}{
		{200, bodyTrue, nil},
		{429, bodyThrottled, &APIError{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7}},
		{403, bodyBlocked, &APIError{Code: 403, Description: "Forbidden: bot was blocked by the user"}},
		{502, "<html></html>", &APIError{Code: 502, Description: "Bad Gateway"}},
		{200, "not json", nil},
	} {
		got := parseAPIError(c.status, []byte(c.body))
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%d %s: got %+v, want %+v", c.status, c.body, got, c.want)
		}
	}
}
