package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

// Issue 19 (polling first-reply p99): with every worker slot held, a turn
// that owes its first reply (a /start here; a typed last answer in the
// bench) gets the next free slot before taps that were waiting for one
// longer — taps an earlier batch queued, which no firstGate orders.
func TestPollerFirstTurnTakesTheNextSlot(t *testing.T) {
	r := newRig(t)
	r.intake = NewIntake(r.handler, IntakeOptions{Workers: 1})
	t.Cleanup(r.intake.Stop)
	g := &chatGates{memSessions: r.sessions, gates: map[int64]chan struct{}{}, entered: map[int64]int{}}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }, firstHold: time.Hour}
	const slow, b1, b2 int64 = 762, 761, 763
	u1, u2 := r.srv.User(b1, telegramtest.LanguageCode("it")), r.srv.User(b2, telegramtest.LanguageCode("it"))
	c1, off := toConsent(t, p, u1, 0)
	c2, off := toConsent(t, p, u2, off)

	// A batch of two taps: the first one's turn holds the only slot (in
	// its session's load), the second waits for it.
	open1, open2 := g.hold(b1), g.hold(b2)
	if err := u1.TapIn(c1.ID, c1.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	if err := u2.TapIn(c2.ID, c2.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	off, jobs := pollOnce(t, p, off)
	waitUntil(t, "one tap's turn holds the slot, the other waits", func() bool {
		_, others := r.intake.slots.waiting()
		return g.loads(b1, b2) == 1 && others == 1
	})
	// The next batch: a /start, which waits for a slot after the tap.
	a := r.srv.User(slow, telegramtest.LanguageCode("it"))
	openA := g.hold(slow)
	a.Send("/start")
	_, more := pollOnce(t, p, off)
	jobs = append(jobs, more...)
	waitUntil(t, "the /start waits for a slot too", func() bool { first, others := r.intake.slots.waiting(); return first+others == 2 })

	// The first tap's turn ends: its slot goes to the /start.
	held, waiting := b1, b2
	if g.loads(b2) == 1 {
		held, waiting = b2, b1
	}
	map[int64]chan struct{}{b1: open1, b2: open2}[held] <- struct{}{}
	waitUntil(t, "a turn took the freed slot", func() bool { return g.loads(slow, waiting) == 1 })
	if g.loads(waiting) != 0 {
		t.Fatal("the tap that waited longer took the freed slot before the /start")
	}
	close(openA)
	waitUntil(t, "the /start answered", func() bool { return strings.Contains(labelsOf(a.Last()), "Italiano") })
	close(open1)
	close(open2)
	waitSettled(context.Background(), jobs)
	if g.loads(b1) != 1 || g.loads(b2) != 1 || g.loads(slow) != 1 {
		t.Fatalf("loads %d %d %d, want one each", g.loads(b1), g.loads(b2), g.loads(slow))
	}
}
