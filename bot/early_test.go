package bot

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/interview"
)

// gatedSessions holds every Load while hold is set, until open is closed.
type gatedSessions struct {
	*memSessions
	hold    atomic.Bool
	open    chan struct{}
	waiting atomic.Int32 // Loads held at the gate
}

func (g *gatedSessions) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	if g.hold.Load() {
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
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

// Issue 19: a language choice is answered as its batch arrives, like a
// step tap, before its turn has loaded the session — and only once.
func TestPollerAnswersLanguageBeforeItsTurn(t *testing.T) {
	r := newRig(t)
	g := &gatedSessions{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }}
	u := r.srv.User(744, telegramtest.LanguageCode("it"))
	u.Send("/start")
	off, jobs := pollOnce(t, p, 0)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the language menu", func() bool { return strings.Contains(labelsOf(u.Last()), "Italiano") })
	menu := u.Last()

	g.hold.Store(true) // the choice's turn cannot load its session
	if err := u.TapIn(menu.ID, "Italiano"); err != nil {
		t.Fatal(err)
	}
	_, jobs = pollOnce(t, p, off)
	waitUntil(t, "the choice answered while its turn waits", func() bool {
		a := u.CallbackAnswers()
		return len(a) == 1 && a[0].Answered
	})
	if m := msgOf(u, menu.ID); m.Text != menu.Text || u.Last().ID != menu.ID {
		t.Fatalf("the choice was applied while its session could not load:\n%s", u.Transcript())
	}
	close(g.open)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the consent card", func() bool {
		l := labelsOf(u.Last())
		return l != "" && !strings.Contains(l, "Italiano")
	})
	r.intake.Stop()
	if n := len(u.CallbackAnswers()); n != 1 {
		t.Fatalf("%d callback queries, want 1", n)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to the choice?): %+v", vs)
	}
}

// A language choice answered early whose language the form no longer
// speaks (published again without it since the menu was shown) is refused
// in a message: its answer went out empty. A key that names no language
// at all is left to its turn, which answers it with the notice.
func TestPollerEarlyLanguageRefused(t *testing.T) {
	r := newRig(t)
	snap := formlib.Fixed(r.core.Forms, r.core.Catalog)
	snap.Languages = map[string][]string{}
	for _, id := range r.core.Forms.ByAudience() {
		snap.Languages[id] = []string{"it", "en"}
	}
	r.core.Library = snap
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }}
	u := r.srv.User(745, telegramtest.LanguageCode("it"))
	u.Send("/start")
	off, jobs := pollOnce(t, p, 0)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the language menu", func() bool { return strings.Contains(labelsOf(u.Last()), "Italiano") })
	menu := u.Last()
	stale := r.handler.Renderer().Plain("it", dialog.MsgStale, nil)

	fr, _ := Callback{Kind: CbLanguage, Option: "fr"}.Encode() // in the catalog, not spoken by the form
	if err := u.TapData(menu.ID, fr); err != nil {
		t.Fatal(err)
	}
	off, jobs = pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the refusal", func() bool { return strings.Contains(u.Last().Text, stale) })
	if a := u.CallbackAnswers(); len(a) != 1 || !a[0].Answered || a[0].Text != "" {
		t.Fatalf("callback answers %+v, want one, empty", a)
	}

	xx, _ := Callback{Kind: CbLanguage, Option: "xx"}.Encode() // no language
	if err := u.TapData(menu.ID, xx); err != nil {
		t.Fatal(err)
	}
	_, jobs = pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the second answer", func() bool { return len(u.CallbackAnswers()) == 2 && u.CallbackAnswers()[1].Answered })
	if a := u.CallbackAnswers()[1]; a.Text != stale {
		t.Fatalf("a key of no language answered %q, want the notice", a.Text)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations: %+v", vs)
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

// chatGates holds the Loads of the chats in gates until their channel is
// closed, and counts the Loads that started.
type chatGates struct {
	*memSessions
	mu      sync.Mutex
	gates   map[int64]chan struct{}
	entered map[int64]int
}

func (g *chatGates) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	g.mu.Lock()
	g.entered[chat]++
	gate := g.gates[chat]
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return interview.Loaded{}, ctx.Err()
		}
	}
	return g.memSessions.Load(ctx, chat, key)
}

func (g *chatGates) hold(chat int64) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := make(chan struct{})
	g.gates[chat], g.entered[chat] = c, 0
	return c
}

func (g *chatGates) loads(chats ...int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range chats {
		n += g.entered[c]
	}
	return n
}

// pollOnce takes what the fake holds from offset on and dispatches it as
// one batch, as Poller.Run does; it returns the next offset.
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

// toConsent walks u to the consent card through p and returns it.
func toConsent(t *testing.T, p *Poller, u *telegramtest.User, off int64) (telegramtest.Message, int64) {
	t.Helper()
	u.Send("/start")
	off, jobs := pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the language menu", func() bool { return strings.Contains(labelsOf(u.Last()), "Italiano") })
	if err := u.TapIn(u.Last().ID, "Italiano"); err != nil {
		t.Fatal(err)
	}
	off, jobs = pollOnce(t, p, off)
	waitSettled(context.Background(), jobs)
	waitUntil(t, "the consent card", func() bool {
		l := labelsOf(u.Last())
		return l != "" && !strings.Contains(l, "Italiano")
	})
	return u.Last(), off
}

// Issue 19: in a polling batch, while the turns that owe their first reply
// (a /start here) are not settled, only firstTaps turns of the taps
// answered early run at a time: first replies first.
func TestPollerFirstRepliesFirst(t *testing.T) {
	r := newRig(t)
	g := &chatGates{memSessions: r.sessions, gates: map[int64]chan struct{}{}, entered: map[int64]int{}}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }, firstTaps: 1, firstHold: time.Hour}
	const slow, b1, b2 = 742, 741, 743
	u1, u2 := r.srv.User(b1, telegramtest.LanguageCode("it")), r.srv.User(b2, telegramtest.LanguageCode("it"))
	c1, off := toConsent(t, p, u1, 0)
	c2, off := toConsent(t, p, u2, off)

	// One batch: a /start and two taps, all three turns held in their
	// sessions' load.
	a := r.srv.User(slow, telegramtest.LanguageCode("it"))
	openA, open1, open2 := g.hold(slow), g.hold(b1), g.hold(b2)
	a.Send("/start")
	if err := u1.TapIn(c1.ID, c1.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	if err := u2.TapIn(c2.ID, c2.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, jobs := pollOnce(t, p, off)
	if len(jobs) != 3 {
		t.Fatalf("%d updates in the batch, want 3", len(jobs))
	}
	waitUntil(t, "both taps answered early", func() bool {
		x, y := u1.CallbackAnswers(), u2.CallbackAnswers()
		return len(x) == 2 && x[1].Answered && len(y) == 2 && y[1].Answered
	})
	waitUntil(t, "the /start and one tap's turn started", func() bool { return g.loads(slow) == 1 && g.loads(b1, b2) == 1 })
	time.Sleep(50 * time.Millisecond) // a second tap's turn would have started by now
	if n := g.loads(b1, b2); n != 1 {
		t.Fatalf("%d taps' turns started beside the unsettled /start, want 1", n)
	}
	close(openA)
	waitUntil(t, "the /start answered", func() bool { return strings.Contains(labelsOf(a.Last()), "Italiano") })
	waitUntil(t, "the other tap's turn started once the /start was settled", func() bool { return g.loads(b1, b2) == 2 })
	close(open1)
	close(open2)
	waitSettled(context.Background(), jobs)
	for _, x := range []struct {
		u *telegramtest.User
		c telegramtest.Message
	}{{u1, c1}, {u2, c2}} {
		waitUntil(t, "the tap applied", func() bool { return msgOf(x.u, x.c.ID).Text != x.c.Text || x.u.Last().ID != x.c.ID })
		if n := len(x.u.CallbackAnswers()); n != 2 {
			t.Fatalf("%d callback queries, want 2", n)
		}
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to a tap?): %+v", vs)
	}
}

// The gate is bounded: a first turn that takes long (its Postgres write on
// a loaded machine) holds the taps' turns no longer than firstHold.
func TestPollerFirstGateBounded(t *testing.T) {
	r := newRig(t)
	g := &chatGates{memSessions: r.sessions, gates: map[int64]chan struct{}{}, entered: map[int64]int{}}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }, firstTaps: 1, firstHold: 20 * time.Millisecond}
	const slow, b1, b2 = 752, 751, 753
	u1, u2 := r.srv.User(b1, telegramtest.LanguageCode("it")), r.srv.User(b2, telegramtest.LanguageCode("it"))
	c1, off := toConsent(t, p, u1, 0)
	c2, off := toConsent(t, p, u2, off)
	a := r.srv.User(slow, telegramtest.LanguageCode("it"))
	openA, open1, open2 := g.hold(slow), g.hold(b1), g.hold(b2)
	a.Send("/start")
	if err := u1.TapIn(c1.ID, c1.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	if err := u2.TapIn(c2.ID, c2.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, jobs := pollOnce(t, p, off)
	waitUntil(t, "both taps' turns started while the /start still waits", func() bool { return g.loads(b1, b2) == 2 })
	close(open1)
	close(open2)
	close(openA)
	waitSettled(context.Background(), jobs)
}

// goid is the calling goroutine's id (tests only: from its stack's header).
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// loadsOn records the goroutine of each session load.
type loadsOn struct {
	*memSessions
	mu  sync.Mutex
	ids []uint64
}

func (l *loadsOn) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	l.mu.Lock()
	l.ids = append(l.ids, goid())
	l.mu.Unlock()
	return l.memSessions.Load(ctx, chat, key)
}

func (l *loadsOn) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[len(l.ids)-1]
}

// answersOn records the goroutine of each callback answer (Observer).
type answersOn struct {
	nopObserver
	mu  sync.Mutex
	ids []uint64
}

func (a *answersOn) Call(method, _ string, _ time.Duration) {
	if method != "answerCallbackQuery" {
		return
	}
	a.mu.Lock()
	a.ids = append(a.ids, goid())
	a.mu.Unlock()
}

func (a *answersOn) all() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]uint64(nil), a.ids...)
}

// Issue 19 (the bot's CPU per call): a tap polled for an idle chat is
// answered early by the goroutine that then runs its turn — not by a
// goroutine of its own that the turn's waits for (a goroutine started and
// a hand-off per tap). The answer still comes first, and once.
func TestPollerEarlyAnswerOnItsTurnsGoroutine(t *testing.T) {
	r := newRig(t)
	loads := &loadsOn{memSessions: r.sessions}
	r.core.Sessions = loads
	r.rewire()
	answers := &answersOn{}
	r.handler.cfg.Sender.obs = answers
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }}
	u := r.srv.User(745, telegramtest.LanguageCode("it"))
	consent, off := toConsent(t, p, u, 0)
	if err := u.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, jobs := pollOnce(t, p, off)
	if !waitSettled(context.Background(), jobs) {
		t.Fatal("the tap not settled")
	}
	r.intake.Stop()
	a := answers.all()
	if len(a) != 2 || len(u.CallbackAnswers()) != 2 {
		t.Fatalf("%d callback answers made (%d seen by the fake), want 2: the language choice and the consent", len(a), len(u.CallbackAnswers()))
	}
	if turn := loads.last(); a[1] != turn {
		t.Fatalf("the tap was answered on goroutine %d, its turn ran on %d: a goroutine per tap", a[1], turn)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to the tap?): %+v", vs)
	}
}

// A tap polled while its chat has work before it (its previous tap's turn,
// held here in the session's load) is answered at once all the same, on
// a goroutine of its own: its spinner waits for nothing of its chat's.
func TestPollerEarlyAnswerBehindItsChat(t *testing.T) {
	r := newRig(t)
	g := &gatedSessions{memSessions: r.sessions, open: make(chan struct{})}
	r.core.Sessions = g
	r.rewire()
	p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
		Ready: func(context.Context) error { return nil }}
	u := r.srv.User(746, telegramtest.LanguageCode("it"))
	consent, off := toConsent(t, p, u, 0)
	g.hold.Store(true)
	if err := u.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	off, first := pollOnce(t, p, off)
	waitUntil(t, "the first tap answered, its turn held", func() bool {
		a := u.CallbackAnswers()
		return len(a) == 2 && a[1].Answered && g.waiting.Load() == 1
	})
	if err := u.TapIn(consent.ID, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	_, second := pollOnce(t, p, off)
	waitUntil(t, "the second tap answered while the first's turn waits", func() bool {
		a := u.CallbackAnswers()
		return len(a) == 3 && a[2].Answered
	})
	if n := g.waiting.Load(); n != 1 {
		t.Fatalf("%d turns held, want the first tap's", n)
	}
	close(g.open)
	waitSettled(context.Background(), append(first, second...))
	r.intake.Stop()
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to a tap?): %+v", vs)
	}
}
