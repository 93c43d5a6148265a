package bot

import (
	"context"
	"sync"
	"time"

	"github.com/needsbot/needsbot/interview"
)

// Per-chat mailboxes (issue 17 finding 1, issue 12 "no chat waits for
// another").
//
// Every chat with work has a mailbox: a bounded queue drained in order by
// one goroutine of its own, which exists only while the mailbox has work
// (an idle mailbox is freed). Different chats never queue behind each
// other. What is bounded:
//
//   - work: an update is worked on (Redis, Postgres, Bot API calls) only
//     while it holds one of IntakeOptions.Workers slots. A wait that
//     belongs to the chat alone — its 1 message/s pacing, a 429's
//     retry_after, backoff while Redis or Postgres is down — gives the
//     slot back (pauseWork), so one chat's pacing never holds a shared
//     worker.
//   - memory: at most IntakeOptions.Backlog updates wait per chat (excess
//     from one person is dropped with one localised "please wait"), and
//     at most IntakeOptions.MaxQueued in all; above that the poller stops
//     fetching and the webhook answers 503, so Telegram keeps them.
//
// An update is "settled" once it no longer needs its source's attention:
// it is done, or it is held back by its own chat (paced, parked in an
// outage, or queued behind such an update). The poller confirms a batch
// and the webhook returns as soon as their updates are settled — never
// later than settleHold — so a flooding chat holds back neither the poller
// nor Telegram's connections, while an update that is simply being worked
// on is still confirmed once applied (and a webhook tap's answer travels
// in the HTTP response, saving a Bot API call).

// settleHold bounds how long the poller (before its next getUpdates) and
// a webhook request wait for their updates to settle.
const settleHold = 3 * time.Second

// mailbox is one chat's queue. All fields are guarded by Intake.mu.
type mailbox struct {
	chat    int64
	q       []*job        // waiting, in order
	head    *job          // the job being worked on
	held    bool          // the head is held back by this chat: jobs behind it are settled
	warned  bool          // this overflow's "please wait" went out; reset when the mailbox empties
	running bool          // its goroutine exists
	idle    chan struct{} // closed when the mailbox is freed; made by WaitIdle
	first   [1]*job       // q's first backing array: a mailbox with one update allocates no queue
}

// job is one update (or a scheduled input) on its way through a mailbox.
type job struct {
	upd         *Update
	sched       interview.Input // a scheduled input for this chat (upd is nil): remind.go
	deferAnswer bool
	retries     int
	done        chan result // receives the result; nil when nobody waits for it (webhook, poller)
	webhook     bool        // arrived by webhook: its callback answer may ride in the HTTP response

	// jl, when set, is the poller's journal (journal.go), told just
	// before a finished job is settled (left: a poller woken by the
	// settling does not keep it) and once it is finished (done: applied,
	// dropped or given up; it forgets the update). A field rather than two
	// closures per update: polling made them for every update (issue 19).
	jl *journal

	mu       sync.Mutex
	settled  chan struct{} // closed once settled
	isSettle bool
	waiting  bool            // a webhook request waits for it and can carry a callback answer
	body     *CallbackAnswer // the answer that request carries
	answered bool            // the callback query was answered (in a body, or "one moment")
	offer    *CallbackAnswer // the answer the turn would give now, for a wait that settles the job (offerAnswer)
	early    chan struct{}   // closed when the poller's early answer, made apart, is done (early.go); nil: none
	// earlyQuery is the query of a tap the poller answers early (early.go):
	// by the goroutine that runs its turn, before the turn, when its chat
	// was idle as it was queued; else on a goroutine of its own (early
	// then set). "": not answered early.
	earlyQuery string
	gate       *firstGate // the batch's gate its turn enters once answered early (Poller.dispatch); nil: none
	gateToken  bool       // holds a token of gate, given back as the job settles (firstGate.enter)
	first      bool       // its turn owes the first reply (Poller.dispatch): first for a worker slot (slots.go)
	failed     bool       // not applied while the webhook request waited: it answers 500
	started    bool       // a turn began on it (begin): a hold that expires answers it no more
	heldOut    bool       // answered empty in its webhook response when the hold expired (releaseExpired)
	noticed    bool       // its turn put a notice in its callback answer (claimNotice): never answered empty
	loaded     bool       // its turn loaded the session (markLoaded): a hold that expires answers it empty
}

func newJob(u *Update) *job {
	return &job{upd: u, settled: make(chan struct{})}
}

// leave tells the journal: the job is about to be settled as finished.
func (j *job) leave() {
	if j.jl != nil {
		j.jl.left(j)
	}
}

// finish delivers the job's result and tells the journal.
func (j *job) finish(res result) {
	if j.done != nil {
		j.done <- res
	}
	if j.jl != nil {
		j.jl.done(j)
	}
}

// settle marks the job settled. ans, when set, is a callback answer to put
// in the waiting webhook response; settle reports whether it went there
// (when not, the caller answers through the API).
func (j *job) settle(ans *CallbackAnswer) (inBody bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.settled == nil {
		j.settled = make(chan struct{})
	}
	if !j.isSettle {
		j.isSettle = true
		close(j.settled)
		if j.gateToken {
			j.gateToken = false
			<-j.gate.tokens
		}
	}
	if ans != nil && j.waiting && !j.answered {
		j.body, j.answered = ans, true
		return true
	}
	return false
}

func (j *job) wasSettled() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.isSettle
}

// claimAnswer reports whether the callback query is still unanswered and
// marks it answered.
func (j *job) claimAnswer() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.answered {
		return false
	}
	j.answered = true
	return true
}

func (j *job) wasAnswered() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.answered
}

// release ends a webhook request's wait: the answer it carries, if any,
// and whether the update failed (Telegram should deliver it again).
func (j *job) release() (*CallbackAnswer, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.waiting = false
	return j.body, j.failed
}

// releaseExpired ends a webhook request's wait that settleHold ended
// before the job settled. An early-kind tap (tapEarly) whose turn has not
// begun and that nobody answered yet is answered now, with no text, in
// the response — as the poller answers a batch's taps early (early.go) —
// instead of by its turn, which may start too late for Telegram (issue
// 19: a saturated bot's queued taps). The job is marked answered under its
// mutex, so the turn that begins later (begin) answers it no more and puts
// a notice above the card (answeredEarly).
//
// A tap whose turn began and has offered its answer (offerAnswer: its
// step is saved, its Bot API calls under way — one of them slow) is
// answered with that answer in the response, as when a call waits for
// the bot-wide budget (answerOffered): the turn, once done, answers it no
// more. Before, the response went back empty and the turn answered the
// tap through the API at its end: a request of its own, and the person's
// spinner turning until then. A tap whose turn has loaded its session
// but not offered its answer yet (stepping, saving: markLoaded) is
// answered empty, as one whose turn has not begun, unless the turn has
// put a notice in its answer already (claimNotice, under the same mutex:
// the notice then keeps the answer, the turn's outcome, through the API);
// a turn that decides about its notice later finds the tap answered and
// puts the notice on the card (answeredEarly). Before, every such tap was
// answered by a request of its own at the turn's end. A turn still
// loading keeps its answer: a load that fails because the store is down
// parks the tap with "one moment" (mailbox_outage.go), which an empty
// answer would take the place of.
func (j *job) releaseExpired(tapEarly bool) (*CallbackAnswer, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.waiting && !j.isSettle && !j.answered && j.body == nil {
		switch {
		case j.started && j.offer != nil:
			j.body, j.answered = j.offer, true
		case tapEarly && !j.noticed && (!j.started || j.loaded):
			j.body = &CallbackAnswer{QueryID: j.upd.Query}
			j.answered, j.heldOut = true, true
		}
	}
	j.waiting = false
	return j.body, j.failed
}

// begin marks that a turn begins on the job: from now on an expiring hold
// leaves its answer to the turn (releaseExpired).
func (j *job) begin() {
	j.mu.Lock()
	j.started = true
	j.mu.Unlock()
}

// wasHeldOut reports whether the tap was answered empty when its webhook
// hold expired (releaseExpired).
func (j *job) wasHeldOut() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.heldOut
}

// failWaiting marks the job failed if a webhook request still waits for
// it, and reports whether one did.
func (j *job) failWaiting() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.waiting || j.isSettle {
		return false
	}
	j.failed = true
	return true
}

// waitSettled waits until every job is settled, at most settleHold, and
// reports whether they all are.
func waitSettled(ctx context.Context, jobs []*job) bool {
	t := holdTimers.Get().(*time.Timer)
	t.Reset(settleHold)
	defer func() {
		t.Stop()
		holdTimers.Put(t)
	}()
	for _, j := range jobs {
		select {
		case <-j.settled:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// holdTimers keeps waitSettled's timers: one is made per webhook request
// otherwise. A stopped timer's channel holds no stale tick (Go 1.23).
var holdTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// enqueueJob puts j in chat's mailbox. With block, a full intake (MaxQueued)
// makes it wait for room; without, it returns ErrBusy. Reminders are never
// refused for room (one per chat). A duplicate of an update already in the
// mailbox, or an update over the chat's backlog, is settled and done at
// once without being applied (the overflow gets one "please wait").
func (in *Intake) enqueueJob(ctx context.Context, j *job, chat int64) (*job, error) {
	return in.enqueueBlocking(ctx, j, chat, true)
}

func (in *Intake) enqueueBlocking(ctx context.Context, j *job, chat int64, block bool) (*job, error) {
	if j.settled == nil {
		j.settled = make(chan struct{})
	}
	in.mu.Lock()
	for {
		if in.stopped {
			in.mu.Unlock()
			return nil, ErrStopped
		}
		if in.queued < in.maxQueued || j.upd == nil {
			break
		}
		if !block {
			in.mu.Unlock()
			return nil, ErrBusy
		}
		if j.earlyQuery != "" && j.early == nil {
			// Its tap is answered now, not once there is room.
			in.answerApart(j)
		}
		if in.room == nil {
			in.room = make(chan struct{})
		}
		room := in.room
		in.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		in.mu.Lock()
	}
	b := in.boxes[chat]
	if b == nil {
		b = &mailbox{chat: chat}
		in.boxes[chat] = b
	}
	if j.earlyQuery != "" && j.early == nil && b.running {
		// Its chat has work before it: its tap is answered now, not
		// behind that work.
		in.answerApart(j)
	}
	if j.upd != nil {
		if b.has(j.upd.ID) {
			// Delivered again while the first copy waits (a webhook
			// redelivery, a duplicate): the first copy applies it.
			in.mu.Unlock()
			j.leave()
			j.settle(nil)
			j.finish(result{})
			return j, nil
		}
		if len(b.q) >= in.backlog {
			first := !b.warned
			b.warned = true
			in.mu.Unlock()
			in.overflow(j, first)
			return j, nil
		}
	}
	if b.q == nil {
		b.q = b.first[:0]
	}
	b.q = append(b.q, j)
	in.queued++
	if b.head != nil && b.held {
		j.settle(nil)
	}
	if !b.running {
		b.running = true
		in.startDrain(b)
	}
	in.mu.Unlock()
	return j, nil
}

// has reports whether update id waits or runs in the mailbox.
func (b *mailbox) has(id int64) bool {
	if b.head != nil && b.head.upd != nil && b.head.upd.ID == id {
		return true
	}
	for _, q := range b.q {
		if q.upd != nil && q.upd.ID == id {
			return true
		}
	}
	return false
}

// Mailbox goroutines are reused (issue 19): a goroutine whose mailbox is
// empty waits a while (drainerIdle) for another mailbox to drain instead
// of exiting. A new goroutine starts with a small stack and grows it again
// through the whole turn (Redis, rendering, the Bot API) — runtime
// morestack was 3 % of the bot's CPU. A mailbox is only ever handed to a
// goroutine that is idle, never queued behind a busy one: with none idle,
// a new goroutine starts, so no chat waits for another as before. At most
// maxIdleDrainers wait; the others exit.

// drainer is an idle mailbox goroutine: next hands it its next mailbox.
type drainer struct {
	next chan *mailbox // buffered: a hand-off never blocks
}

// drainerIdle is how long an idle mailbox goroutine waits for work.
const drainerIdle = 10 * time.Second

// startDrain gives b a goroutine: an idle one, else a new one. in.mu is
// held.
func (in *Intake) startDrain(b *mailbox) {
	if n := len(in.idle); n > 0 {
		d := in.idle[n-1]
		in.idle[n-1] = nil
		in.idle = in.idle[:n-1]
		d.next <- b
		return
	}
	in.drainers++
	in.wg.Add(1)
	go in.drainLoop(b)
}

// drainLoop drains b, then the mailboxes it is handed while idle.
func (in *Intake) drainLoop(b *mailbox) {
	defer in.wg.Done()
	d := &drainer{next: make(chan *mailbox, 1)}
	var idle *time.Timer
	for {
		in.drain(b)
		in.mu.Lock()
		if in.stopped || len(in.idle) >= in.maxIdle {
			in.mu.Unlock()
			return
		}
		in.idle = append(in.idle, d)
		in.mu.Unlock()
		if idle == nil {
			idle = time.NewTimer(drainerIdle)
		} else {
			idle.Reset(drainerIdle)
		}
		select {
		case b = <-d.next:
			idle.Stop()
			continue
		case <-idle.C:
		case <-in.quit:
			idle.Stop()
		}
		in.mu.Lock()
		if in.dropIdle(d) {
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		// Handed a mailbox just as it stopped waiting: it is in next.
		b = <-d.next
	}
}

// dropIdle takes d off the idle list; false when it was handed a mailbox
// meanwhile. in.mu is held.
func (in *Intake) dropIdle(d *drainer) bool {
	for i, x := range in.idle {
		if x == d {
			last := len(in.idle) - 1
			copy(in.idle[i:], in.idle[i+1:])
			in.idle[last] = nil
			in.idle = in.idle[:last]
			return true
		}
	}
	return false
}

// drain works through the mailbox in order and frees it when empty.
func (in *Intake) drain(b *mailbox) {
	for {
		in.mu.Lock()
		if len(b.q) == 0 {
			b.running, b.head, b.held = false, nil, false
			delete(in.boxes, b.chat)
			if b.idle != nil {
				close(b.idle)
			}
			in.mu.Unlock()
			return
		}
		j := b.q[0]
		b.q[0] = nil
		b.q = b.q[1:]
		if len(b.q) == 0 {
			b.q = nil // give the backing array back
		}
		b.head = j
		b.held = j.wasSettled()
		in.mu.Unlock()

		in.process(b, j)

		in.mu.Lock()
		in.queued--
		if in.room != nil {
			// Someone waits for room (enqueueBlocking).
			close(in.room)
			in.room = nil
		}
		in.mu.Unlock()
	}
}

// holdBack settles j, which waits for its own chat, and every job behind it.
func (in *Intake) holdBack(b *mailbox, j *job) {
	j.settle(j.offered())
	in.mu.Lock()
	defer in.mu.Unlock()
	if b.head != j || b.held {
		return
	}
	b.held = true
	for _, q := range b.q {
		q.settle(nil)
	}
}

// overflow drops j, over its chat's backlog. The first of an overflow gets
// one localised "please wait" (the inbound limit's message), sent off the
// caller's path; a webhook tap gets an empty answer in its response.
func (in *Intake) overflow(j *job, first bool) {
	ev := in.h.classify(j.upd)
	var ans *CallbackAnswer
	if ev.query != "" {
		ans = &CallbackAnswer{QueryID: ev.query}
	}
	j.leave()
	j.settle(ans)
	j.finish(result{})
	in.h.cfg.Events.Interview("throttled")
	if !first || ev.chat == 0 || ev.kind == evGroup || ev.kind == evOther || ev.kind == evForged || ev.kind == evBlocked {
		return
	}
	in.log.Info("chat backlog full: updates dropped", "chat", in.h.chatKey(ev.chat))
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
		defer cancel()
		lang := in.h.lang("", ev.langHint)
		if _, err := in.h.cfg.Sender.Send(ctx, ev.chat, Message{Text: in.h.rend().Text(lang, MsgSlowDown, nil)}); err != nil {
			in.log.Warn("send failed", "chat", in.h.chatKey(ev.chat), "msg", MsgSlowDown, "err", err)
		}
	}()
}

// WaitIdle waits until chat has nothing queued, running or parked.
func (in *Intake) WaitIdle(ctx context.Context, chat int64) error {
	for {
		in.mu.Lock()
		b := in.boxes[chat]
		var idle chan struct{}
		if b != nil {
			if b.idle == nil {
				b.idle = make(chan struct{})
			}
			idle = b.idle
		}
		in.mu.Unlock()
		if b == nil {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Pending reports how many updates are queued, running or parked.
func (in *Intake) Pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.queued
}

// work is the context value of a job being worked on: it lets the Sender
// give the job's worker slot back while the job waits for its own chat.
type work struct {
	in      *Intake
	b       *mailbox
	j       *job
	attempt int // 0 for the first attempt at the job

	mu      sync.Mutex
	held    bool // holds a worker slot
	pauses  int
	replied bool // a Bot API call of the job succeeded (firstReplyOut)
}

type workKey struct{}

func (w *work) acquire() {
	w.in.slots.acquire(w.j != nil && w.j.first)
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

func (w *work) releaseSlot() {
	w.mu.Lock()
	held := w.held
	w.held = false
	w.mu.Unlock()
	if held {
		w.in.slots.release()
	}
}

// pauseWork is called before a wait that belongs to the caller's chat
// alone (pacing, retry_after, outage backoff): it gives the worker slot
// back and settles the job (and those behind it). The returned func takes
// a slot again. Outside a mailbox both are no-ops.
func pauseWork(ctx context.Context) (resume func()) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil {
		return func() {}
	}
	w.mu.Lock()
	w.pauses++
	release := w.pauses == 1 && w.held
	if release {
		w.held = false
	}
	w.mu.Unlock()
	if release {
		w.in.slots.release()
	}
	if w.j != nil && w.b != nil {
		w.in.holdBack(w.b, w.j)
	}
	return func() {
		w.mu.Lock()
		w.pauses--
		take := w.pauses == 0 && !w.held
		w.mu.Unlock()
		if take {
			w.acquire()
		}
	}
}

// firstReplyOut is called after each Bot API call of the job being worked
// on with ctx that succeeded. After the first one of a turn that owed its
// first reply (job.first), the turn gives its worker slot to the oldest
// first turn waiting for one, if any, and waits for a slot again ahead of
// the other turns (workSlots.yield). Outside a mailbox it does nothing.
//
// Issue 19 (polling first-reply p99): the bench's walkers run in step, so
// a batch of ~100 completions (or /starts, or language choices) arrives at
// once, 32 turns run while the rest wait for a slot, and the slowest 1 %
// of first replies are the back of those bursts. A completion's turn held
// its slot ~7 ms (p50, load 15) after its thank-you was out — the card's
// edit, the reminder's cancel, the mark — and a language choice's ~3.5 ms
// after its callback answer, while first turns of the same burst waited
// for the slot (traced: docs/performance.md, "Session 8: pollp99"). Work
// is only reordered, as with the firstGate: the same calls, each chat's in
// order; a first turn's later replies wait only while other first turns
// do.
func firstReplyOut(ctx context.Context) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil || !w.j.first {
		return
	}
	w.mu.Lock()
	yield := !w.replied && w.held && w.pauses == 0
	w.replied = true
	w.mu.Unlock()
	if yield {
		// The slot stays w's (held): yield returns once it has one again.
		w.in.slots.yield()
	}
}

// answeredVia records that the callback query of the job being worked on
// with ctx was answered through the Bot API (or refused as answered): a
// later attempt at the same update (after a failure) must not answer it
// again — Telegram would refuse it as too old. Outside a mailbox it does
// nothing.
func answeredVia(ctx context.Context) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil {
		return
	}
	w.j.mu.Lock()
	w.j.answered = true
	w.j.mu.Unlock()
}

// offerAnswer records ans as the callback answer of the webhook tap being
// worked on with ctx, before the turn's Bot API calls: should one of them
// wait — for the chat's pacing (holdBack) or for the bot-wide budget
// (answerOffered) — the waiting webhook response carries it and goes back
// at once, instead of the tap being answered through the API once the turn
// ends (issue 19: under Telegram's limits a fifth of the taps outlived
// settleHold that way, some too late for Telegram). Without a wait nothing
// changes: the turn's outcome carries the answer. Outside a mailbox, and
// for updates not from a webhook, it does nothing.
func offerAnswer(ctx context.Context, ans *CallbackAnswer) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil || !w.j.webhook {
		return
	}
	w.j.mu.Lock()
	w.j.offer = ans
	w.j.mu.Unlock()
}

func (j *job) offered() *CallbackAnswer {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.offer
}

// answerOffered settles the job being worked on with ctx, its offered
// answer in the waiting webhook response (offerAnswer), when the turn
// waits for the bot-wide budget: the step is saved by then, and a send
// that fails afterwards parks the job as a paced one would (undelivered).
func answerOffered(ctx context.Context) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil {
		return
	}
	if ans := w.j.offered(); ans != nil {
		w.j.settle(ans)
	}
}

// claimNotice reports whether the tap of the job being worked on with ctx
// may carry a notice in its callback answer, and if so records that it
// does, so that an expiring webhook hold does not answer it empty
// (releaseExpired): the decision and the job's state change together,
// under the job's mutex. False when the tap was answered already (early,
// "one moment", or empty when its hold expired: answeredEarly): the notice
// then goes on the card.
func claimNotice(ctx context.Context) bool {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil || w.j.upd == nil || !w.j.webhook {
		return !answeredEarly(ctx)
	}
	j := w.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.heldOut {
		return false
	}
	j.noticed = true
	return true
}

// markLoaded records that the turn of the webhook job being worked on
// with ctx has loaded its session (the core presents it): an expiring
// hold may answer its tap empty from now on (releaseExpired).
func markLoaded(ctx context.Context) {
	w, _ := ctx.Value(workKey{}).(*work)
	if w == nil || w.j == nil || !w.j.webhook {
		return
	}
	w.j.mu.Lock()
	w.j.loaded = true
	w.j.mu.Unlock()
}

// firstWebhookAttempt reports whether ctx is the first attempt at an
// update that arrived by webhook: another replica may hold a copy of it.
func firstWebhookAttempt(ctx context.Context) bool {
	w, _ := ctx.Value(workKey{}).(*work)
	return w != nil && w.j != nil && w.j.webhook && w.attempt == 0
}

// lowKey marks a context whose Bot API calls go in the Sender's
// low-priority lane.
type lowKey struct{}

// LowPriority returns ctx marked so that the Sender's calls made with it —
// reminders and other scheduled messages — go behind live replies.
func LowPriority(ctx context.Context) context.Context { return context.WithValue(ctx, lowKey{}, true) }

func isLowPriority(ctx context.Context) bool { v, _ := ctx.Value(lowKey{}).(bool); return v }
