package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// APIFault is what the Bot API front does to the bot's calls.
type APIFault int

// The Bot API faults.
const (
	APINone     APIFault = iota
	APIStorm429          // every reply call answered 429 with retry_after
	API5xx               // every third reply call answered 502
	APITimeout           // every third reply call hangs, then the connection drops
	APISlow              // every reply call takes 2 s (scaled in the short form)
)

// Front is the bot's Bot API endpoint: it passes calls to the fake Bot API
// (bot/telegramtest, an http.Handler) and injects faults into the calls
// that reply to respondents. Faults injected here never reach the fake, so
// its violations stay the bot's own mistakes.
type Front struct {
	URL  string
	api  http.Handler
	srv  *http.Server
	slow time.Duration // how long a slow call takes
	hang time.Duration // how long a call that times out hangs before its connection drops

	fault    atomic.Int32
	n        atomic.Int64
	injected sync.Map // APIFault → *atomic.Int64
}

// NewFront starts a front for api on a loopback port.
func NewFront(api http.Handler, slow, hang time.Duration) (*Front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{URL: "http://" + ln.Addr().String(), api: api, slow: slow, hang: hang}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Set changes the fault; APINone ends it.
func (f *Front) Set(a APIFault) { f.fault.Store(int32(a)) }

// Injected is how many calls the front failed with fault a.
func (f *Front) Injected(a APIFault) int64 {
	v, _ := f.injected.LoadOrStore(a, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func (f *Front) count(a APIFault) {
	v, _ := f.injected.LoadOrStore(a, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// replyMethod reports whether a call is one that answers a respondent (the
// ones Telegram throttles and that fail in an incident); start-up, polling
// and webhook calls pass untouched so that the replicas stay up.
func replyMethod(path string) bool {
	m := strings.ToLower(path[strings.LastIndexByte(path, '/')+1:])
	switch m {
	case "sendmessage", "editmessagetext", "editmessagereplymarkup", "answercallbackquery",
		"deletemessage", "deletemessages", "sendchataction", "sendvenue", "sendphoto", "senddocument":
		return true
	}
	return false
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := APIFault(f.fault.Load())
	if a == APINone || !replyMethod(r.URL.Path) {
		f.api.ServeHTTP(w, r)
		return
	}
	third := f.n.Add(1)%3 == 0
	switch a {
	case APIStorm429:
		f.count(a)
		retry := 2
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after %d","parameters":{"retry_after":%d}}`, retry, retry)
		return
	case API5xx:
		if third {
			f.count(a)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
			return
		}
	case APITimeout:
		if third {
			f.count(a)
			f.wait(r.Context(), f.hang)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
	case APISlow:
		f.count(a)
		f.wait(r.Context(), f.slow)
	}
	f.api.ServeHTTP(w, r)
}

func (f *Front) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Close stops the front.
func (f *Front) Close() { _ = f.srv.Close() }
