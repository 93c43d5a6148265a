package bot

import (
	"context"
	"time"
)

// Early answers (issue 19). By long polling, a batch of up to 100 updates
// arrives at once and its taps used to be answered only inside their
// turns, after the session's load, the inbound limit and the save — behind
// every other turn of the batch: the button's spinner waited for the whole
// batch. The poller now answers a batch's taps on a question card (choose,
// tick, done, back, skip, OK, page) before it queues them, with no text,
// as the peer bots do, and the turn does not answer them again
// (job.answered). Kept as before:
//
//   - an outage's "one moment": a batch's taps are answered early only when
//     Poller.Ready (Redis and Postgres reachable) said so at most
//     readyFresh before, and no turn found a store down since
//     (Poller.ready);
//   - a flood costs no more calls than before: a person's taps are answered
//     early only up to earlyLimit per earlyWindow (the inbound limit's
//     numbers); beyond it the turn decides (a flood's taps go unanswered);
//   - a tap is answered once: the job is marked answered before it is
//     queued; its turn starts once the early answer is done, and one that
//     failed is unmarked, so that the turn answers it;
//   - a notice the turn has for an early-answered tap (a validation
//     message) goes above the question card instead (turn.send).
//
// Taps on other buttons (/delete, staff menus, services, reminders) keep
// their answers with a notice ("already used", "not your municipality")
// and are answered by their turns; so is a language key that names no
// language of the catalog.

// earlyWindow is the window of Poller.EarlyLimit.
const earlyWindow = 10 * time.Second

// earlyKinds are the callback kinds answered early: steps of the
// interview, whose answer carries no text but for a stale page or a
// validation notice, and the language menu's keys, whose answer carries
// none but for a language the form no longer speaks (languageButton then
// says so in a message).
//
// Issue 19 (polling first-reply p99): a language choice was answered by
// its turn, after the session's load, the step and the save, and a
// batch of them (the walkers choose their language together, as a class
// handed a QR code does) waited for one another's turns on the two cores:
// the language choices were a quarter of the slowest 1 % of first
// replies, at a median of 18–27 ms against 6 for a tap answered early.
var earlyKinds = map[byte]bool{CbChoose: true, CbToggle: true, CbDone: true, CbBack: true, CbSkip: true, CbAck: true, CbPage: true,
	CbLanguage: true}

// earlyBudget counts each person's early answers in a fixed window.
type earlyBudget struct {
	limit int
	users map[int64]*earlyCount
}

type earlyCount struct {
	start time.Time
	n     int
}

// maxEarlyUsers bounds the table; windows that ended are evicted.
const maxEarlyUsers = 50000

func (b *earlyBudget) take(user int64, now time.Time) bool {
	if b.users == nil {
		b.users = map[int64]*earlyCount{}
	}
	c := b.users[user]
	if c == nil || now.Sub(c.start) >= earlyWindow {
		if c == nil && len(b.users) >= maxEarlyUsers {
			for id, o := range b.users {
				if now.Sub(o.start) >= earlyWindow {
					delete(b.users, id)
				}
			}
			if len(b.users) >= maxEarlyUsers {
				return false
			}
		}
		c = &earlyCount{start: now}
		b.users[user] = c
	}
	if c.n >= b.limit {
		return false
	}
	c.n++
	return true
}

// earlyTap returns the query id of u when it is a private tap answered
// early, else "".
func (h *Handler) earlyTap(u *Update) (query string, user int64) {
	if u.Kind != upCallback {
		return "", 0
	}
	ev := h.classify(u)
	if ev.kind != evCallback || ev.query == "" || ev.user == 0 {
		return "", 0
	}
	cb, err := DecodeCallback(ev.data)
	if err != nil || !earlyKinds[cb.Kind] {
		return "", 0
	}
	if cb.Kind == CbLanguage && cb.Option != pageOption {
		if _, ok := h.cfg.Library.Current().Catalog.Language(cb.Option); !ok {
			// Not a language at all (forged, or withdrawn from the
			// catalog): its turn answers it with the notice.
			return "", 0
		}
	}
	return ev.query, ev.user
}

// isEarlyTap reports whether u is a private tap of an early kind
// (earlyTap): a webhook answers it empty when its hold expires before its
// turn begins (job.releaseExpired).
func (h *Handler) isEarlyTap(u *Update) bool {
	if u.Kind != upCallback {
		return false
	}
	q, _ := h.earlyTap(u)
	return q != ""
}

// answerEarly answers j's tap through the API and reports whether it did;
// a failure unmarks the job so that its turn's outcome answers it
// (Intake.deliver).
func (in *Intake) answerEarly(j *job, query string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
	defer cancel()
	if err := ignoreTelegram(in.h.cfg.Sender.Answer(ctx, query, "")); err != nil {
		in.log.Warn("early callback answer failed", "err", err)
		j.mu.Lock()
		j.answered = false
		j.mu.Unlock()
		return false
	}
	return true
}

// answerHere makes j's early answer on the goroutine that runs its turn,
// just before the turn, and then enters the batch's gate (firstGate.enter).
//
// Issue 19 (the bot's CPU per Bot API call): each tap answered early had a
// goroutine of its own, which the turn's goroutine then waited for — by
// long polling, 0.93 goroutines started and 0.91 wake-ups per update of
// ~17 (docs/performance.md, "Session 13: hops"). A tap queued to an idle
// chat has its turn's goroutine started (or handed its mailbox) at once,
// as that goroutine was, and makes the answer first: the same call at
// the same moment, without the hand-off. A tap whose chat has work before
// it is answered apart as before (answerApart): its spinner waits for
// nothing of its chat's.
func (in *Intake) answerHere(j *job) {
	if in.answerEarly(j, j.earlyQuery) && j.gate != nil {
		j.gate.enter(j)
	}
}

// answerApart makes j's early answer on a goroutine of its own, which then
// runs the batch's gate for it (firstGate.run); j.early is closed when its
// turn may start. It is called before j is in its mailbox, with in.mu held.
func (in *Intake) answerApart(j *job) {
	j.early = make(chan struct{})
	g, query := j.gate, j.earlyQuery
	go func() {
		if in.answerEarly(j, query) && g != nil {
			g.run(j)
			return
		}
		close(j.early)
	}()
}

// firstGate lets only a few turns of a batch's taps answered early run at
// a time while the batch's turns that owe their first reply — a /start, a
// typed answer, a language choice — are not settled (issue 19:
// first-reply latency). Those people saw the button's answer already;
// what their turns cost — the sessions' load and save, the cards' edits —
// would otherwise share the two cores with the first turns, 32 worker
// slots against a handful, and a batch's typed answers waited for most of
// the batch's work before their first reply (polling first-reply p99:
// /start, typed answers and language choices were 10 % of the updates and
// most of the slowest 1 %). A few tokens rather than a wait: while a first
// turn waits for I/O (a completion's Postgres write) the taps' turns keep
// the cores busy, and the batch takes no longer. Work is only reordered:
// the same turns run, each chat's in order, and the poller still confirms
// the batch once all are settled.
type firstGate struct {
	tokens chan struct{}
	done   chan struct{} // closed once the first turns are settled, at most firstHold after the batch
}

// firstTaps is the number of tokens of a firstGate: the taps' turns that
// run at once beside the first turns.
const firstTaps = 4

// firstHold bounds a firstGate: a first turn that takes longer (its
// Postgres write on a loaded machine) holds the taps' turns no longer. A
// tap's person waits for the next card after the button's answer, and
// loadgen's walkers give up on a card that has not come 3 s after the
// answer: without the bound, a loaded run's taps queued 4 at a time behind
// seconds-long first turns and walks stalled.
const firstHold = 50 * time.Millisecond

func newFirstGate(first []*job, tokens int, hold time.Duration) *firstGate {
	if tokens <= 0 {
		tokens = firstTaps
	}
	if hold <= 0 {
		hold = firstHold
	}
	g := &firstGate{tokens: make(chan struct{}, tokens), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		t := time.NewTimer(hold)
		defer t.Stop()
		for _, j := range first {
			select {
			case <-j.settled:
			case <-t.C:
				return
			}
		}
	}()
	return g
}

// run lets j's turn start (j.early) once it holds a token or the first
// turns are settled, and keeps the token until j is settled.
func (g *firstGate) run(j *job) {
	select {
	case g.tokens <- struct{}{}:
	case <-g.done:
		close(j.early)
		return
	}
	close(j.early)
	select {
	case <-j.settled:
	case <-g.done:
	}
	<-g.tokens
}

// enter is run by the goroutine of j's turn, before it: it waits for a
// token or for the first turns to be settled. A token taken is given back
// when j settles (job.settle), as run gives it back.
func (g *firstGate) enter(j *job) {
	select {
	case g.tokens <- struct{}{}:
	case <-g.done:
		return
	}
	j.mu.Lock()
	if j.isSettle {
		j.mu.Unlock()
		<-g.tokens
		return
	}
	j.gateToken = true
	j.mu.Unlock()
}

// answeredEarly reports whether the tap of the job being worked on with
// ctx was answered before its turn (early, or "one moment"; by webhook,
// empty when its hold expired first): a notice can then only go on the
// card.
func answeredEarly(ctx context.Context) bool {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil || w.j.upd == nil {
		return false
	}
	if w.j.webhook {
		return w.j.wasHeldOut()
	}
	return w.j.wasAnswered()
}
