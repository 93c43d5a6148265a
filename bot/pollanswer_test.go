package bot

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// heldAnswers holds every answerCallbackQuery while hold is set, until
// open is closed, and counts the answers in flight.
type heldAnswers struct {
	next http.RoundTripper
	hold atomic.Bool
	open chan struct{}
	once sync.Once

	mu      sync.Mutex
	in, max int
}

func (h *heldAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	if !h.hold.Load() || !strings.HasSuffix(r.URL.Path, "/answerCallbackQuery") {
		return h.next.RoundTrip(r)
	}
	h.mu.Lock()
	h.in++
	h.max = max(h.max, h.in)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.in--
		h.mu.Unlock()
	}()
	select {
	case <-h.open:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return h.next.RoundTrip(r)
}

func (h *heldAnswers) release() { h.once.Do(func() { close(h.open) }) }

func (h *heldAnswers) inFlight() (in, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.in, h.max
}

// earlyRig is a rig whose Bot API client holds callback answers on
// demand, and n people at the consent card; their taps on it are in the
// Bot API, not fetched yet.
func earlyRig(t *testing.T, n, bound int, tick time.Duration) (*rig, *Poller, *heldAnswers, []*telegramtest.User, int64) {
	t.Helper()
	r := newRig(t)
	h := &heldAnswers{next: testnet.Client().Transport, open: make(chan struct{})}
	api, err := tg.New(r.srv.Token(), tg.WithServerURL(r.srv.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, APIClient(&http.Client{Transport: h})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.release) // before the intake's Stop (cleanups run last first)
	r.handler.cfg.Sender = NewSender(api, SenderOptions{ChatRate: 1000, ChatBurst: 100})
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }}
	p.answers.bound, p.answers.tick = bound, tick
	var (
		users    []*telegramtest.User
		consents []telegramtest.Message
		off      int64
	)
	for i := range n {
		u := r.srv.User(int64(760+i), telegramtest.LanguageCode("it"))
		var consent telegramtest.Message
		consent, off = toConsent(t, p, u, off)
		users, consents = append(users, u), append(consents, consent)
	}
	h.hold.Store(true)
	for i, u := range users {
		if err := u.TapIn(consents[i].ID, consents[i].Labels()[0][0]); err != nil {
			t.Fatal(err)
		}
	}
	return r, p, h, users, off
}

// finishEarly lets the held answers through and checks that every tap was
// answered once and applied.
func finishEarly(t *testing.T, r *rig, h *heldAnswers, users []*telegramtest.User, jobs []*job) {
	t.Helper()
	h.release()
	waitSettled(context.Background(), jobs)
	r.intake.Stop()
	for _, u := range users {
		a := u.CallbackAnswers()
		if len(a) != 2 || !a[1].Answered {
			t.Fatalf("%s: callback answers %+v, want the language's and the tap's", u.Transcript(), a)
		}
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to a tap?): %+v", vs)
	}
}

// Issue 19 (polling bot CPU per call): against a Bot API that answers
// fast, a batch's early answers go out a few at a time, in the batch's
// order, instead of one goroutine — and over HTTP/1.1 one connection —
// per tap all at once. Here the bound is 2 and a batch holds 6 taps:
// before, all 6 answers were in flight together.
func TestPollerEarlyAnswersBounded(t *testing.T) {
	const n = 6
	r, p, h, users, off := earlyRig(t, n, 2, time.Hour)
	p.answers.lastFast.Store(time.Now().UnixNano()) // a near Bot API
	_, jobs := pollOnce(t, p, off)
	if len(jobs) != n {
		t.Fatalf("%d updates in the batch, want %d", len(jobs), n)
	}
	waitUntil(t, "answers in flight", func() bool { in, _ := h.inFlight(); return in >= 2 })
	time.Sleep(100 * time.Millisecond) // room for more to start, if any would
	if _, most := h.inFlight(); most != 2 {
		t.Fatalf("%d early answers in flight at once, want at most 2", most)
	}
	finishEarly(t, r, h, users, jobs)
}

// The bound holds no answer behind slow ones: a Bot API that has not
// answered fast lately (api.telegram.org, a network round trip away) gets
// every answer at once, and when the answers in flight stall, the waiting
// ones start too.
func TestPollerEarlyAnswersNotHeldBehindSlowOnes(t *testing.T) {
	const n = 6
	t.Run("far", func(t *testing.T) {
		r, p, h, users, off := earlyRig(t, n, 2, time.Hour)
		_, jobs := pollOnce(t, p, off)
		waitUntil(t, "every answer in flight", func() bool { in, _ := h.inFlight(); return in == n })
		finishEarly(t, r, h, users, jobs)
	})
	t.Run("stalled", func(t *testing.T) {
		r, p, h, users, off := earlyRig(t, n, 2, 20*time.Millisecond)
		p.answers.lastFast.Store(time.Now().UnixNano())
		_, jobs := pollOnce(t, p, off)
		waitUntil(t, "every answer in flight", func() bool { in, _ := h.inFlight(); return in == n })
		finishEarly(t, r, h, users, jobs)
	})
}
