package bot

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/interview"
)

// gatedSessions holds every Load while hold is set, until open is closed.
type gatedSessions struct {
	*memSessions
	hold atomic.Bool
	open chan struct{}
}

func (g *gatedSessions) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	if g.hold.Load() {
		select {
		case <-g.open:
		case <-ctx.Done():
			return interview.Loaded{}, ctx.Err()
		}
	}
	return g.memSessions.Load(ctx, chat, key)
}

// Issue 19: by long polling, a tap on a question card is answered as its
// batch arrives — before its turn has even loaded the session — and only
// once: the turn, applied afterwards, does not answer it again.
func TestPollerAnswersTapBeforeItsTurn(t *testing.T) {
	r := newRig(t)
	g := &gatedSessions{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	var readies atomic.Int32
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { readies.Add(1); return nil }}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { stop(); <-done }()

	u := r.srv.User(741, telegramtest.LanguageCode("it"))
	u.Send("/start")
	waitUntil(t, "the language menu", func() bool { return strings.Contains(labelsOf(u.Last()), "Italiano") })
	if err := u.TapIn(u.Last().ID, "Italiano"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the consent card", func() bool {
		l := labelsOf(u.Last())
		return l != "" && !strings.Contains(l, "Italiano") && len(u.CallbackAnswers()) == 1 && u.CallbackAnswers()[0].Answered
	})
	consent := u.Last()

	g.hold.Store(true) // the tap's turn cannot load its session
	if err := u.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the tap answered while its turn waits", func() bool {
		a := u.CallbackAnswers()
		return len(a) == 2 && a[1].Answered
	})
	if readies.Load() == 0 {
		t.Fatal("answered early without asking Ready")
	}
	if m := msgOf(u, consent.ID); m.Text != consent.Text {
		t.Fatalf("the tap was applied while its session could not load:\n%s", u.Transcript())
	}
	close(g.open)
	waitUntil(t, "the tap applied", func() bool { return msgOf(u, consent.ID).Text != consent.Text || u.Last().ID != consent.ID })
	r.intake.Stop()
	if n := len(u.CallbackAnswers()); n != 2 {
		t.Fatalf("%d callback queries, want 2", n)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to the tap?): %+v", vs)
	}
}

func labelsOf(m telegramtest.Message) string {
	var s []string
	for _, row := range m.Labels() {
		s = append(s, row...)
	}
	return strings.Join(s, "|")
}

// A person's taps are answered early only up to the budget in a window:
// a flood's taps go to their turns, which drop them unanswered as before.
func TestEarlyBudget(t *testing.T) {
	b := earlyBudget{limit: 2}
	now := time.Unix(1000, 0)
	for i := range 2 {
		if !b.take(1, now) {
			t.Fatalf("within the budget: tap %d refused", i+1)
		}
	}
	if b.take(1, now.Add(time.Second)) {
		t.Fatal("over the budget: answered early")
	}
	if !b.take(2, now) {
		t.Fatal("another person refused")
	}
	if !b.take(1, now.Add(earlyWindow)) {
		t.Fatal("a new window: refused")
	}
}

func msgOf(u *telegramtest.User, id int) telegramtest.Message {
	for _, m := range u.Chat().Messages {
		if m.ID == id {
			return m
		}
	}
	return telegramtest.Message{}
}

// chatGate holds the Loads of one chat while hold is set, until open is
// closed.
type chatGate struct {
	*memSessions
	chat int64
	hold atomic.Bool
	open chan struct{}
}

func (g *chatGate) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	if chat == g.chat && g.hold.Load() {
		select {
		case <-g.open:
		case <-ctx.Done():
			return interview.Loaded{}, ctx.Err()
		}
	}
	return g.memSessions.Load(ctx, chat, key)
}

// pollOnce takes what the fake holds from offset on, dispatches it as one
// batch and waits until it is settled, as Poller.Run does; it returns the
// next offset.
func pollOnce(t *testing.T, p *Poller, offset int64) (int64, []*job) {
	t.Helper()
	ups, err := p.get(context.Background(), offset)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := p.dispatch(context.Background(), ups, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) > 0 {
		offset = ups[len(ups)-1].ID + 1
	}
	return offset, jobs
}

// Issue 19: in a polling batch, the turns of the taps answered early wait
// for the batch's turns that owe their first reply (a /start here) before
// they take a worker slot — at most firstHold: first replies first.
func TestPollerFirstRepliesFirst(t *testing.T) {
	r := newRig(t)
	const slow = 742
	g := &chatGate{memSessions: r.sessions, chat: slow, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }, firstHold: time.Hour}

	b := r.srv.User(741, telegramtest.LanguageCode("it"))
	b.Send("/start")
	off, jobs := pollOnce(t, p, 0)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the language menu", func() bool { return strings.Contains(labelsOf(b.Last()), "Italiano") })
	if err := b.TapIn(b.Last().ID, "Italiano"); err != nil {
		t.Fatal(err)
	}
	off, jobs = pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the consent card", func() bool {
		l := labelsOf(b.Last())
		return l != "" && !strings.Contains(l, "Italiano")
	})
	consent := b.Last()

	// One batch: a /start whose turn cannot load its session yet, and a
	// tap on the consent card.
	a := r.srv.User(slow, telegramtest.LanguageCode("it"))
	g.hold.Store(true)
	a.Send("/start")
	if err := b.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	off, jobs = pollOnce(t, p, off)
	if len(jobs) != 2 {
		t.Fatalf("%d updates in the batch, want 2", len(jobs))
	}
	waitUntil(t, "the tap answered early", func() bool {
		c := b.CallbackAnswers()
		return len(c) == 2 && c[1].Answered
	})
	time.Sleep(50 * time.Millisecond) // a held turn would have run by now
	if m := msgOf(b, consent.ID); m.Text != consent.Text || b.Last().ID != consent.ID {
		t.Fatalf("the tap's turn ran before the batch's /start was settled:\n%s", b.Transcript())
	}
	close(g.open)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the tap applied", func() bool { return msgOf(b, consent.ID).Text != consent.Text || b.Last().ID != consent.ID })
	waitUntil(t, "the /start answered", func() bool { return strings.Contains(labelsOf(a.Last()), "Italiano") })

	// Bounded: a first turn that takes long holds the taps' turns no
	// longer than firstHold.
	p.firstHold = 20 * time.Millisecond
	g.open = make(chan struct{})
	defer close(g.open)
	a.Send("ciao")
	card := b.Last()
	if err := b.TapIn(card.ID, card.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, _ = pollOnce(t, p, off)
	waitUntil(t, "the tap applied while the first turn still waits", func() bool {
		return msgOf(b, card.ID).Text != card.Text || b.Last().ID != card.ID
	})
	if n := len(b.CallbackAnswers()); n != 3 {
		t.Fatalf("%d callback queries, want 3", n)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to a tap?): %+v", vs)
	}
}
