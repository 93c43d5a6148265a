package bot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/needsbot/needsbot/interview"
)

// Intake takes updates in and hands each to its chat's mailbox
// (mailbox.go): one chat strictly in order, different chats never queued
// behind each other, work bounded by a number of worker slots, memory by
// a backlog per chat and a total. It recovers panics, parks updates during
// a Redis or Postgres outage (mailbox_outage.go) and drains on Stop.
type Intake struct {
	h           *Handler
	timeout     time.Duration
	log         *slog.Logger
	backlog     int
	maxQueued   int
	window      time.Duration
	unavailable func(error) bool
	slots       *workSlots // one per update being worked on (slots.go)
	// outageAt is when a turn last failed because a store was down (unix
	// ns): the poller's last Ready verdict is not trusted past it (Poller.ready).
	outageAt atomic.Int64

	mu       sync.Mutex
	boxes    map[int64]*mailbox
	queued   int           // jobs in all mailboxes, the running ones included
	room     chan struct{} // made by a wait for room, closed (and cleared) when a job leaves
	idle     []*drainer    // mailbox goroutines waiting for a mailbox (mailbox.go)
	maxIdle  int
	drainers int // mailbox goroutines started, ever
	stopped  bool
	quit     chan struct{} // closed by Stop: parked updates stop waiting
	wg       sync.WaitGroup

	// holdEnd, when set (tests), ends the webhook requests' holds when
	// closed, as settleHold's end does.
	holdEnd chan struct{}
}

type result struct {
	out Outcome
	err error
}

// ErrStopped is returned for updates offered after Stop.
var ErrStopped = errors.New("intake stopped")

// ErrBusy is returned when the intake holds IntakeOptions.MaxQueued
// updates already (the webhook answers 503: Telegram keeps the update).
var ErrBusy = errors.New("intake full")

// IntakeOptions configures an Intake.
type IntakeOptions struct {
	Workers   int           // updates worked on at once, default 32
	Backlog   int           // updates waiting per chat, default 16; more are dropped with one "please wait"
	MaxQueued int           // updates waiting in all, default 20000
	Timeout   time.Duration // per attempt at an update, default 30 s
	// OutageWindow is how long an update is kept and retried while Redis
	// or Postgres is down (default DefaultOutageWindow).
	OutageWindow time.Duration
	// Unavailable classifies an update's error as a store outage (default
	// Unavailable).
	Unavailable func(error) bool
	Logger      *slog.Logger
}

// NewIntake returns an intake; mailboxes start with their first update.
func NewIntake(h *Handler, o IntakeOptions) *Intake {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Backlog <= 0 {
		o.Backlog = 16
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 20000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.OutageWindow <= 0 {
		o.OutageWindow = DefaultOutageWindow
	}
	if o.Unavailable == nil {
		o.Unavailable = Unavailable
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Intake{h: h, timeout: o.Timeout, log: o.Logger, backlog: o.Backlog, maxQueued: o.MaxQueued,
		window: o.OutageWindow, unavailable: o.Unavailable, slots: newWorkSlots(o.Workers),
		boxes: map[int64]*mailbox{}, quit: make(chan struct{}), maxIdle: 2 * o.Workers}
	// Staff work done off a turn shows the question again through the
	// chat's worker, in order with the chat's updates (Request.Defer).
	sched := in.Scheduled
	h.sched.Store(&sched)
	return in
}

// process works on one job until it is applied, dropped, or — parked in an
// outage — the outage window ends; then it delivers the result.
func (in *Intake) process(b *mailbox, j *job) {
	var (
		res         result
		parkedSince time.Time
		parks       int
	)
	// The tap's early answer goes first (it has its own deadline): the
	// turn then knows whether it was answered, and its calls come after
	// it. No worker slot is held meanwhile.
	if j.early != nil {
		<-j.early // made apart (answerApart)
	} else if j.earlyQuery != "" {
		in.answerHere(j)
	}
	for attempt := 0; ; attempt++ {
		w := &work{in: in, b: b, j: j, attempt: attempt}
		w.acquire()
		res = in.run(w)
		w.releaseSlot()
		if res.err == nil || j.upd == nil {
			break
		}
		if errors.Is(res.err, interview.ErrInFlight) {
			// A copy is probably being handled by another replica: its
			// replies are that one's. Settled at once (the webhook answers
			// 200, no callback answer: the other copy's), looked at again
			// in a moment — dropped if sent by then, else shown again.
			in.holdBack(b, j)
			in.pause(inFlightGrace)
			continue
		}
		if stalled := in.unavailable(res.err); stalled || undelivered(res.err) {
			now := time.Now()
			if stalled {
				in.outageAt.Store(now.UnixNano())
			}
			if parkedSince.IsZero() {
				parkedSince = now
				if stalled {
					in.log.Warn("store unavailable: update parked", "update", j.upd.ID, "err", res.err)
				} else {
					in.log.Warn("replies not delivered: update parked", "update", j.upd.ID, "err", res.err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
				in.oneMoment(ctx, j)
				cancel()
				in.holdBack(b, j)
			}
			if now.Sub(parkedSince) >= in.window || in.stopping() {
				in.log.Error("update dropped: store or Bot API unavailable for the whole outage window", "update", j.upd.ID,
					"parked", now.Sub(parkedSince).Round(time.Millisecond), "err", res.err)
				ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
				in.h.apologise(ctx, j.upd)
				cancel()
				break
			}
			in.pause(parkBackoff(parks))
			parks++
			continue
		}
		if j.webhook && j.failWaiting() {
			// Its request is still open: answering 500 makes Telegram
			// deliver it again, and the session's dedup keeps the copy
			// from applying twice.
			break
		}
		if attempt >= j.retries {
			in.log.Error("update dropped", "update", j.upd.ID, "err", res.err)
			break
		}
		in.log.Warn("update failed, retrying", "update", j.upd.ID, "attempt", attempt+1, "err", res.err)
		in.pause(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	in.deliver(j, res)
}

// inFlightGrace is how long a webhook update found applied but not sent
// waits before it is shown again (interview.ErrInFlight): time for the
// replica handling its copy to send the replies and mark them.
const inFlightGrace = 2 * time.Second

// undelivered reports whether err means the turn's replies did not reach
// Telegram for a reason that passes: the Bot API failed past the Sender's
// retries (5xx, 429, network) or the attempt ran out of time (a slow Bot
// API). The turn may have been saved already; its replies — the new
// question card, or the edit that gives the card its keyboard back — must
// still go out, or the person is left with a card without buttons. The
// update is parked like one in a store outage and tried again: the
// session's dedup makes the retry show the current question (a replay)
// instead of applying the input twice.
func undelivered(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, context.DeadlineExceeded)
}

// deliver settles j with its outcome: a callback answer goes in the waiting
// webhook response, else through the API unless answered already.
func (in *Intake) deliver(j *job, res result) {
	ans := res.out.Answer
	if ans != nil && ans.QueryID == "" {
		ans = nil
	}
	j.leave()
	if !j.settle(ans) && ans != nil && j.claimAnswer() {
		ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
		if err := ignoreTelegram(in.h.cfg.Sender.Answer(ctx, ans.QueryID, ans.Text)); err != nil {
			in.log.Warn("callback answer failed", "err", err)
		}
		cancel()
	}
	j.finish(res)
}

// pause waits d, or less once Stop was called.
func (in *Intake) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-in.quit:
	}
}

func (in *Intake) stopping() bool {
	select {
	case <-in.quit:
		return true
	default:
		return false
	}
}

// run handles one update with its own deadline, detached from the caller's
// cancellation so that shutdown finishes in-flight work, and recovers a
// panic into a logged error and a localised apology.
func (in *Intake) run(w *work) (res result) {
	j := w.j
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), workKey{}, w), in.timeout)
	defer cancel()
	if j.upd == nil {
		// Reminders go in the sender's low-priority lane, behind live replies.
		return in.runReminder(LowPriority(ctx), j)
	}
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("panic handling update", "update", j.upd.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			in.h.apologise(ctx, j.upd)
			// Handled: redelivering a poison update would panic again.
			res = result{}
		}
	}()
	// A webhook's answer may ride in its response; a tap answered with
	// "one moment" already must not be answered again by the handler.
	if j.webhook {
		j.begin()
	}
	deferAnswer := j.deferAnswer || j.webhook || j.wasAnswered()
	out, err := in.h.Handle(ctx, j.upd, deferAnswer)
	if err != nil {
		in.log.Error("update not applied", "update", j.upd.ID, "err", err)
	}
	return result{out, err}
}

// Submit hands an update to its chat's mailbox and waits for the result.
func (in *Intake) Submit(ctx context.Context, u *Update, deferAnswer bool, retries int) (Outcome, error) {
	j, err := in.enqueue(ctx, u, deferAnswer, retries)
	if err != nil {
		return Outcome{}, err
	}
	res := <-j.done
	return res.out, res.err
}

func (in *Intake) enqueue(ctx context.Context, u *Update, deferAnswer bool, retries int) (*job, error) {
	return in.enqueueKept(ctx, u, deferAnswer, retries, nil)
}

// enqueueKept is enqueue with the poller's journal (nil: none) told when
// the update is finished.
func (in *Intake) enqueueKept(ctx context.Context, u *Update, deferAnswer bool, retries int, jl *journal) (*job, error) {
	j := newJob(u)
	j.deferAnswer, j.retries = deferAnswer, retries
	j.done = make(chan result, 1)
	if jl != nil {
		jl.track(j)
	}
	return in.enqueueJob(ctx, j, ChatOf(u))
}

// Stop refuses new updates, ends the waits of parked ones (each gets one
// more try) and waits for the queued and in-flight ones.
func (in *Intake) Stop() {
	in.mu.Lock()
	if !in.stopped {
		in.stopped = true
		close(in.quit)
	}
	in.mu.Unlock()
	in.wg.Wait()
}

// maxUpdateBody bounds a webhook request body.
const maxUpdateBody = 1 << 20

// Webhook returns the HTTP handler for Telegram's webhook: 401 for a wrong
// secret, 400 for a body that is no update, 503 while shutting down or when
// the intake is full (Telegram keeps the update and delivers it again).
// Otherwise the update is queued in its chat's mailbox and the request
// returns 200 as soon as the update is settled (mailbox.go): applied —
// with a tap's answer in the response body, saving a Bot API call — or
// held back by its own chat (paced, parked in an outage with "one moment"
// in the body, behind the chat's backlog), and never later than
// settleHold — a step tap whose turn has not begun by then is answered,
// empty, in the response (job.releaseExpired). An update that failed (not an outage) while its request was
// still open gets 500, so that Telegram delivers it again. A redelivery is
// not applied twice: a copy of an update still in the mailbox is dropped,
// one already applied is recognised by the session's dedup.
func (in *Intake) Webhook(secret string) http.Handler {
	want := []byte(secret)
	contentType := []string{"application/json"} // shared by every response: never changed
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if secret == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		u, err := decodeBody(r.Body, maxUpdateBody)
		if err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		j := newJob(u)
		j.webhook, j.waiting, j.retries = true, true, 3
		_, err = in.enqueueBlocking(r.Context(), j, ChatOf(u), false)
		switch {
		case errors.Is(err, ErrStopped):
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var ans *CallbackAnswer
		var failed bool
		if in.waitHeld(r.Context(), j) || r.Context().Err() != nil {
			ans, failed = j.release()
		} else {
			// The hold expired: a step tap whose turn has not begun
			// is answered now (releaseExpired).
			ans, failed = j.releaseExpired(in.h.isEarlyTap(u))
			in.h.cfg.Events.HoldExpired(expiredAnswer(u, ans, j))
		}
		if failed {
			http.Error(w, "not applied", http.StatusInternalServerError)
			return
		}
		w.Header()["Content-Type"] = contentType
		if ans != nil {
			_, _ = w.Write(answerBody(ans))
			return
		}
		_, _ = w.Write([]byte("{}"))
	})
}

// expiredAnswer names what a webhook response whose hold expired carried
// (EventObserver.HoldExpired).
func expiredAnswer(u *Update, ans *CallbackAnswer, j *job) string {
	switch {
	case u.Query == "":
		return "none"
	case ans == nil:
		return "api"
	case j.wasHeldOut():
		return "empty"
	default:
		return "offered"
	}
}

// waitHeld is waitSettled for a webhook request's job, its hold ended
// early by holdEnd (tests).
func (in *Intake) waitHeld(ctx context.Context, j *job) bool {
	if in.holdEnd == nil {
		return waitSettled(ctx, []*job{j})
	}
	select {
	case <-j.settled:
		return true
	case <-in.holdEnd:
		return false
	case <-ctx.Done():
		return false
	}
}

// answerBody is the webhook response that answers a callback query: the
// JSON encoding/json writes for {"method": "answerCallbackQuery",
// "callback_query_id": …, "text": …} (keys in its order, a final newline),
// without a map and an encoder per request.
func answerBody(ans *CallbackAnswer) []byte {
	b := make([]byte, 0, 80+len(ans.QueryID)+len(ans.Text))
	b = append(b, `{"callback_query_id":`...)
	b = appendJSONString(b, ans.QueryID)
	b = append(b, `,"method":"answerCallbackQuery"`...)
	if ans.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, ans.Text)
	}
	return append(b, "}\n"...)
}

// Poller takes updates by long polling. Each batch is queued in the chats'
// mailboxes and confirmed (the next getUpdates' offset) as soon as its
// updates are settled (mailbox.go): a chat that is paced, parked or behind
// its own backlog never holds the poller, and so never another chat.
// A failing update is retried a few times, then logged and dropped, so
// that one poison update cannot stop the bot; one that fails because Redis
// or Postgres is down is parked (mailbox_outage.go).
type Poller struct {
	Intake         *Intake
	Client         *http.Client
	APIURL, Token  string
	Timeout        time.Duration // long-poll timeout, default 25 s
	AllowedUpdates []string
	Logger         *slog.Logger
	// Journal, when set, keeps the updates confirmed to Telegram before
	// they were applied, so that a replica killed meanwhile loses none
	// (journal.go).
	Journal Journal
	// Ready, when set, turns on early answers (early.go): it reports
	// whether Redis and Postgres are reachable, and a batch's taps on a
	// question card are answered at once only when they are.
	Ready func(context.Context) error
	// EarlyLimit is the number of one person's taps answered early in
	// 10 s (the inbound limit's); default 20.
	EarlyLimit int

	jl *journal
	// batch is the buffer each getUpdates response is read into (get):
	// a busy bot's batch of 100 updates is 50–150 KB, too large for
	// bodyPool, and was a buffer of its size allocated per batch — about
	// 1.3 KB per update, the largest allocation polling adds (issue 19).
	// Only Run's loop reads into it; a buffer grown past maxKeptBatch by
	// an unusual batch is not kept.
	batch     *bytes.Buffer
	early     earlyBudget
	readiness readiness     // Ready's last verdict (Poller.ready)
	fresh     time.Duration // tests: readyFresh's replacement
	refresh   time.Duration // tests: readyRefresh's replacement
	hold      time.Duration // tests: the batch's bound instead of settleHold
	straggle  time.Duration // tests: the stragglers' bound instead of stragglerHold
	firstTaps int           // tests: firstGate's tokens instead of firstTaps
	firstHold time.Duration // tests: firstGate's bound instead of firstHold
}

// FlushJournal drops from the journal the updates finished since the
// poller's last write; call it after Intake.Stop, when every update taken
// is finished.
func (p *Poller) FlushJournal(ctx context.Context) error {
	if p.jl == nil {
		return nil
	}
	return p.jl.sync(ctx)
}

// Run polls until ctx is cancelled.
func (p *Poller) Run(ctx context.Context) error {
	if p.Timeout == 0 {
		p.Timeout = 25 * time.Second
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var offset int64
	backoff := time.Second
	var jl *journal
	if p.Journal != nil {
		jl = newJournal(p.Journal, log)
		p.jl = jl
		// What a previous run confirmed but did not apply comes first.
		for {
			kept, err := jl.restore(ctx)
			if err == nil {
				if len(kept) > 0 {
					log.Info("applying updates kept by the previous run", "updates", len(kept))
				}
				for _, u := range kept {
					if _, err := p.Intake.enqueueKept(ctx, u, false, 3, jl); err != nil {
						return nil // stopped
					}
				}
				break
			}
			log.Warn("update journal unavailable", "err", err)
			if sleep(ctx, backoff) != nil {
				return nil
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		backoff = time.Second
	}
	for ctx.Err() == nil {
		if jl != nil {
			// Before the getUpdates that confirms the last batch: its
			// unfinished updates are kept. Without the journal they would
			// be confirmed anyway (a Redis outage must not stop the bot);
			// the outage parking keeps them in memory meanwhile.
			if err := jl.sync(ctx); err != nil {
				log.Warn("update journal not written", "err", err)
			}
		}
		updates, err := p.get(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("getUpdates failed", "err", err)
			if sleep(ctx, backoff) != nil {
				break
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		jobs, err := p.dispatch(ctx, updates, jl)
		if err != nil {
			return nil // stopped
		}
		if len(updates) > 0 {
			offset = updates[len(updates)-1].ID + 1
		}
		p.waitBatch(ctx, jobs)
	}
	if jl != nil {
		// Stopping: the intake finishes what it holds (Intake.Stop) only
		// after this; what is dropped from the journal now is finished.
		final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := jl.sync(final); err != nil {
			log.Warn("update journal not written", "err", err)
		}
		cancel()
	}
	return nil
}

// stragglerHold is how long the next getUpdates waits for a batch's last
// unsettled updates (at most a tenth of the batch, at least one) once the
// rest is settled: one chat's slow turn — a Postgres or Redis hiccup, a
// long render — holds every other chat's next updates this long, not up
// to settleHold. The stragglers are journaled before that getUpdates
// confirms them (journal.sync), so a batch with a straggler costs one
// Redis round trip; a batch settled in time, none.
const stragglerHold = 50 * time.Millisecond

// waitBatch waits until the batch's jobs are settled, at most settleHold,
// and once at most a tenth of them (at least one) are not, at most
// stragglerHold more.
func (p *Poller) waitBatch(ctx context.Context, jobs []*job) {
	hold := time.NewTimer(cmp.Or(p.hold, settleHold))
	defer hold.Stop()
	var straggle <-chan time.Time
	few := max(1, len(jobs)/10)
	for next := 0; ; {
		// The first unsettled job, and how many are unsettled.
		left, wait := 0, (*job)(nil)
		for i := next; i < len(jobs); i++ {
			select {
			case <-jobs[i].settled:
				continue
			default:
			}
			if wait == nil {
				wait, next = jobs[i], i
			}
			left++
		}
		if wait == nil {
			return
		}
		if straggle == nil && left <= few {
			t := time.NewTimer(cmp.Or(p.straggle, stragglerHold))
			defer t.Stop()
			straggle = t.C
		}
		select {
		case <-wait.settled:
		case <-straggle:
			return
		case <-hold.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// dispatch queues a batch in the chats' mailboxes. With early answers on
// (early.go), the chats whose updates in the batch are all question-card
// taps are queued last, after Ready and their early answers; the others
// first, without waiting for Ready: their first reply is their turn's, and
// they get the first worker slots. While those first turns are not
// settled (at most firstHold), only a few turns of the taps answered early
// run at a time (firstGate): first replies first. Each chat's updates stay in order.
func (p *Poller) dispatch(ctx context.Context, updates []*Update, jl *journal) ([]*job, error) {
	jobs := make([]*job, 0, len(updates))
	var (
		first []*job // the jobs whose first reply is their turn's
		gate  *firstGate
		gated map[int64]bool // chats whose first early tap takes the gate
	)
	queue := func(u *Update, query string, user int64, early bool, now time.Time) error {
		j := newJob(u)
		j.retries = 3
		if early && query != "" && p.early.take(user, now) {
			// Marked before it is queued: its turn does not answer it
			// again. The goroutine that runs its turn answers it first
			// (Intake.answerHere), or, when its chat has work before it,
			// one of its own as it is queued (Intake.answerApart).
			j.answered = true
			j.earlyQuery = query
			if gate == nil && len(first) > 0 {
				gate, gated = newFirstGate(first, p.firstTaps, p.firstHold), map[int64]bool{}
			}
			// A chat's later taps run after its first anyway: holding
			// the gate for them would keep a token from a turn that can
			// run (and the first from one).
			if chat := ChatOf(u); gate != nil && !gated[chat] {
				gated[chat] = true
				j.gate = gate
			}
		} else if p.Ready != nil && !early {
			first = append(first, j)
			j.first = true // ahead of the taps for a worker slot (slots.go)
		}
		if jl != nil {
			jl.track(j)
		}
		// A full intake blocks here: Telegram keeps the rest.
		if _, err := p.Intake.enqueueJob(ctx, j, ChatOf(u)); err != nil {
			return err
		}
		jobs = append(jobs, j)
		return nil
	}
	if p.Ready == nil {
		for _, u := range updates {
			if err := queue(u, "", 0, false, time.Time{}); err != nil {
				return nil, err
			}
		}
		return jobs, nil
	}
	if p.early.limit == 0 {
		p.early.limit = p.EarlyLimit
		if p.early.limit <= 0 {
			p.early.limit = 20
		}
	}
	type tap struct {
		query string
		user  int64
	}
	taps := make([]tap, len(updates))
	allTaps := map[int64]bool{} // chat → all its updates in the batch are taps answered early
	for i, u := range updates {
		taps[i].query, taps[i].user = p.Intake.h.earlyTap(u)
		chat := ChatOf(u)
		if ok, seen := allTaps[chat]; !seen || ok {
			allTaps[chat] = taps[i].query != ""
		}
	}
	var ready chan bool
	for _, ok := range allTaps {
		if ok {
			ready = make(chan bool, 1)
			go func() { ready <- p.ready(ctx) }()
			break
		}
	}
	for _, u := range updates {
		if !allTaps[ChatOf(u)] {
			if err := queue(u, "", 0, false, time.Time{}); err != nil {
				return nil, err
			}
		}
	}
	if ready == nil {
		return jobs, nil
	}
	early := <-ready
	now := time.Now()
	for i, u := range updates {
		if allTaps[ChatOf(u)] {
			if err := queue(u, taps[i].query, taps[i].user, early, now); err != nil {
				return nil, err
			}
		}
	}
	return jobs, nil
}

// ready reports whether the stores are reachable (Poller.Ready, bounded
// by readyTimeout): else the batch's taps are answered by their turns
// ("one moment" in an outage).
//
// Issue 19 (polling first-reply p99): Ready pings Redis and Postgres, and
// every batch with taps waited for both before its taps were answered. A
// Postgres that answers its ping late — a checkpoint's flush, the cores
// busy, another client's burst — held a whole batch: 100 taps answered
// 67–73 ms late at once, a third of the slowest 1 % of first replies in
// a traced bench run (docs/performance.md, "Session 6: pollfast"). Now a
// verdict of "reachable" is reused for readyFresh from its check's start
// and refreshed in the background once it is older than readyRefresh (one
// check in flight at most), so a busy poller asks the stores at most every
// readyRefresh instead of every batch, and a slow ping delays no batch. It
// is not reused past a turn that failed because a store was down
// (Intake.outageAt), nor once a check failed: then each batch waits for a
// check, as before. So the "one moment" of an outage is lost only for the
// taps of an outage's first readyFresh at most, before any turn noticed
// it — as it was for an outage that began between the check and the
// turns; those taps are answered empty and applied once the store is back
// (mailbox_outage.go).
func (p *Poller) ready(ctx context.Context) bool {
	fresh := cmp.Or(p.fresh, readyFresh)
	r := &p.readiness
	r.mu.Lock()
	age := time.Since(r.okAt)
	ok := !r.okAt.IsZero() && age < fresh && p.Intake.outageAt.Load() < r.okAt.UnixNano()
	if ok && age < cmp.Or(p.refresh, readyRefresh) {
		r.mu.Unlock()
		return true
	}
	done := r.running
	if done == nil {
		done = make(chan struct{})
		r.running = done
		go p.check(ctx, done)
	}
	r.mu.Unlock()
	if ok {
		return true // refreshed meanwhile
	}
	select {
	case <-done:
	case <-ctx.Done():
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.okAt.IsZero() && p.Intake.outageAt.Load() < r.okAt.UnixNano()
}

// check runs Ready once and records its verdict: the time it began when
// the stores were reachable, else none.
func (p *Poller) check(ctx context.Context, done chan struct{}) {
	begun := time.Now()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	err := p.Ready(ctx)
	cancel()
	r := &p.readiness
	r.mu.Lock()
	if err == nil {
		r.okAt = begun
	} else {
		r.okAt = time.Time{}
	}
	r.running = nil
	r.mu.Unlock()
	close(done)
}

// readiness is Poller.Ready's last verdict.
type readiness struct {
	mu      sync.Mutex
	okAt    time.Time     // when the last check began, if it found the stores reachable; zero otherwise
	running chan struct{} // closed when the check in flight ends; nil: none
}

// readyFresh is how long a verdict of "reachable" is reused (from its
// check's start), and readyRefresh the age from which a batch that uses
// it starts a new check in the background.
const (
	readyFresh   = 250 * time.Millisecond
	readyRefresh = 50 * time.Millisecond
)

// readyTimeout bounds Poller.Ready: a store slower than this is treated as
// down for the batch's early answers.
const readyTimeout = 250 * time.Millisecond

// maxKeptBatch bounds the capacity of the buffer the poller keeps between
// batches (Poller.batch): 100 updates of up to ~2.5 KB each.
const maxKeptBatch = 256 << 10

func (p *Poller) get(ctx context.Context, offset int64) ([]*Update, error) {
	body, _ := json.Marshal(map[string]any{"offset": offset, "timeout": int(p.Timeout.Seconds()), "allowed_updates": p.AllowedUpdates})
	ctx, cancel := context.WithTimeout(ctx, p.Timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.APIURL+"/bot"+p.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		// The URL holds the token: never let it reach a log.
		return nil, errors.New("getUpdates: request failed: " + redact(err.Error(), p.Token))
	}
	defer resp.Body.Close()
	if p.batch == nil || p.batch.Cap() > maxKeptBatch {
		p.batch = new(bytes.Buffer)
	}
	ok, result, description, err := decodeUpdatesIn(p.batch, resp.Body, resp.ContentLength) // leanupdate.go
	if err != nil {
		return nil, fmt.Errorf("getUpdates: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("getUpdates: %d %s", resp.StatusCode, description)
	}
	return result, nil
}

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte(token), []byte("***")))
}

// apologise tells the user, in their language, that something went wrong.
func (h *Handler) apologise(ctx context.Context, u *Update) {
	ev := h.classify(u)
	if ev.chat == 0 || ev.kind == evGroup || ev.kind == evOther {
		return
	}
	lang := h.lang("", ev.langHint)
	if ev.query != "" {
		_ = h.cfg.Sender.Answer(ctx, ev.query, "")
	}
	_, _ = h.cfg.Sender.Send(ctx, ev.chat, Message{Text: h.rend().Text(lang, MsgError, nil)})
}
