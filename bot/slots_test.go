package bot

import (
	"context"
	"strings"
	"sync"
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
	r, g, p := oneSlotPoller(t)
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

// Issue 19 (polling first-reply p99): a turn that owed its first reply
// gives its worker slot to a first turn waiting for one as soon as its
// first reply is out (here a /start that resumes the interview: its new
// card), and finishes — the old card's keyboard removed — once that turn
// is done with the slot. Only one turn runs at a time throughout (one
// worker), each chat's replies stay in order and nothing is sent twice.
func TestPollerFirstTurnYieldsAfterItsFirstReply(t *testing.T) {
	r, g, p := oneSlotPoller(t)
	const ida, idb int64 = 771, 772
	a, b := r.srv.User(ida, telegramtest.LanguageCode("it")), r.srv.User(idb, telegramtest.LanguageCode("it"))
	consent, off := toConsent(t, p, a, 0)

	// A's /start again (a first turn) holds the only slot, in its
	// session's load; then B's /start waits for the slot.
	openA, openB := g.hold(ida), g.hold(idb)
	var closeA, closeB sync.Once
	releaseA, releaseB := func() { closeA.Do(func() { close(openA) }) }, func() { closeB.Do(func() { close(openB) }) }
	t.Cleanup(releaseA) // before Stop (cleanups run last first): a failed check leaves no turn held
	t.Cleanup(releaseB)
	a.Send("/start")
	off, jobs := pollOnce(t, p, off)
	waitUntil(t, "A's turn holds the slot", func() bool { return g.loads(ida) == 1 })
	b.Send("/start")
	_, more := pollOnce(t, p, off)
	jobs = append(jobs, more...)
	waitUntil(t, "B's /start waits for the slot", func() bool { first, _ := r.intake.slots.waiting(); return first == 1 })

	// A's first reply (the card again, below) goes out, then its slot
	// goes to B's turn before the old card loses its keyboard.
	releaseA()
	waitUntil(t, "B's turn began", func() bool { return g.loads(idb) == 1 })
	if a.Last().ID == consent.ID {
		t.Fatalf("B's turn began before A's first reply:\n%s", a.Transcript())
	}
	if labelsOf(msgOf(a, consent.ID)) == "" {
		t.Fatalf("A's old card lost its keyboard before B's turn began: the slot was not handed over after A's first reply")
	}
	if first, others := r.intake.slots.waiting(); first != 0 || others != 1 {
		t.Fatalf("waiting for a slot: %d first turns, %d others; want A's turn alone, behind first turns", first, others)
	}

	// B's turn ends; A's turn finishes with the slot back.
	releaseB()
	waitSettled(context.Background(), jobs)
	waitUntil(t, "B's language menu", func() bool { return strings.Contains(labelsOf(b.Last()), "Italiano") })
	waitUntil(t, "A's old card without keyboard", func() bool { return labelsOf(msgOf(a, consent.ID)) == "" })
	if labelsOf(a.Last()) == "" {
		t.Fatalf("A's new card has no keyboard:\n%s", a.Transcript())
	}
	if g.loads(ida) != 1 || g.loads(idb) != 1 {
		t.Fatalf("loads %d %d, want one each", g.loads(ida), g.loads(idb))
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations: %+v", vs)
	}
}

// oneSlotPoller is a rig whose intake has one worker slot, whose sessions
// hold each chat's Load at a gate (chatGates), and a poller over it that
// holds no batch for its first turns (the tests pace them).
func oneSlotPoller(t *testing.T) (*rig, *chatGates, *Poller) {
	t.Helper()
	r := newRig(t)
	r.intake = NewIntake(r.handler, IntakeOptions{Workers: 1})
	t.Cleanup(r.intake.Stop)
	g := &chatGates{memSessions: r.sessions, gates: map[int64]chan struct{}{}, entered: map[int64]int{}}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }, firstHold: time.Hour}
	return r, g, p
}
