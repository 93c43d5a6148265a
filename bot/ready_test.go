package bot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// Issue 19 (polling first-reply p99): a batch's taps are answered early
// without waiting for a Ready check when one found the stores reachable
// moments before. Here the check after the first hangs (a Postgres slow to
// answer its ping): the next batch's tap is answered early all the same,
// while its turn cannot load its session. Before, the batch waited for the
// check — readyTimeout, then the tap went to its held turn unanswered.
//
// No clock decides which batch checks: the first batch's verdict is not
// refreshed (refresh: an hour) however slowly the machine walks to the
// consent card, and the tap after it finds the verdict due for a refresh
// (refresh: a nanosecond), so that its check is begun, and hangs.
func TestPollerEarlyAnswerDoesNotWaitForASlowReady(t *testing.T) {
	r := newRig(t)
	g := &gatedSessions{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	var slow atomic.Bool
	var readies atomic.Int32
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(ctx context.Context) error {
			readies.Add(1)
			if slow.Load() {
				<-ctx.Done() // never answers in time
				return ctx.Err()
			}
			return nil
		}, fresh: time.Hour, refresh: time.Hour}
	u := r.srv.User(744, telegramtest.LanguageCode("it"))
	consent, off := toConsent(t, p, u, 0)
	if err := u.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	off, jobs := pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	if readies.Load() != 1 {
		t.Fatalf("%d Ready checks for the first batches of taps, want 1 (the verdict reused)", readies.Load())
	}
	waitUntil(t, "the next question", func() bool { return msgOf(u, consent.ID).Text != consent.Text || u.Last().ID != consent.ID })
	card := u.Last()
	answers := len(u.CallbackAnswers())

	slow.Store(true)
	p.refresh = time.Nanosecond // the next batch begins a check, which hangs
	g.hold.Store(true)          // the tap's turn cannot load its session
	if err := u.TapIn(card.ID, card.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, jobs = pollOnce(t, p, off)
	waitUntil(t, "the tap answered early while the Ready check hangs", func() bool {
		a := u.CallbackAnswers()
		return len(a) == answers+1 && a[answers].Answered
	})
	waitUntil(t, "the batch's check begun", func() bool { return readies.Load() == 2 })
	close(g.open)
	waitSettled(context.Background(), jobs)
	r.intake.Stop()
	if n := len(u.CallbackAnswers()); n != answers+1 {
		t.Fatalf("%d callback queries, want %d", n, answers+1)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to the tap?): %+v", vs)
	}
}

// A verdict of "reachable" is not reused once a turn failed because a
// store was down (Intake.outageAt) after its check began: the batch waits
// for a check begun after it, as before — so the taps of an outage get
// their "one moment" as soon as one turn noticed it.
func TestPollerReadyNotReusedAfterAnOutage(t *testing.T) {
	r := newRig(t)
	var hang atomic.Bool
	var down atomic.Bool
	release := make(chan struct{})
	defer close(release)
	p := &Poller{Intake: r.intake, Ready: func(ctx context.Context) error {
		if hang.Load() {
			<-release // a check in flight that ends only when told
		}
		if down.Load() {
			return errors.New("down")
		}
		return nil
	}, fresh: time.Hour}
	ready := func(ctx context.Context) bool {
		t.Helper()
		got := make(chan bool, 1)
		go func() { got <- p.ready(ctx) }()
		select {
		case ok := <-got:
			return ok
		case <-time.After(5 * time.Second):
			t.Fatal("ready waited for the check in flight")
			return false
		}
	}
	ctx := context.Background()
	if !ready(ctx) {
		t.Fatal("not ready with the stores reachable")
	}
	time.Sleep(readyRefresh) // the next call starts a check in the background
	hang.Store(true)
	if !ready(ctx) {
		t.Fatal("a fresh verdict was not reused")
	}
	// A turn finds a store down: the fresh verdict is void, and the batch
	// waits for the check in flight (until its context ends).
	r.intake.outageAt.Store(time.Now().UnixNano())
	down.Store(true)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if ready(short) {
		t.Fatal("a verdict from before the outage was reused")
	}
	// The check that hung ends "reachable" but began before the outage:
	// not trusted; the next check (begun after it) decides.
	down.Store(false)
	hang.Store(false)
	release <- struct{}{}
	waitUntil(t, "the check ended", func() bool {
		p.readiness.mu.Lock()
		defer p.readiness.mu.Unlock()
		return p.readiness.running == nil
	})
	if !ready(ctx) {
		t.Fatal("not ready once the stores are back")
	}
}
