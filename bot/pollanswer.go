package bot

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Early answers through a few goroutines (issue 19: the bot's CPU per Bot
// API call in polling). The poller answered each of a batch's taps in a
// goroutine of its own, all of a batch's at once: over HTTP/1.1 (a
// self-hosted Bot API server; the fakes) each answer in flight holds a
// connection, so a batch of 100 taps kept ~100 connections open, with
// their reader and writer goroutines, and the many short goroutines grew
// their stacks over and over (docs/performance.md, "Session 6: botcpu").
// Against a Bot API near the bot an answer is CPU, not waiting: more than a
// few in flight only share the cores, and the last answer of a batch comes
// no sooner.
//
// So the poller's early answers go through one queue, in the batches'
// order, and while the Bot API answers fast (an answer back within
// earlyFast in the last earlyFastFor) at most earlyBound of them are in
// flight. What keeps the bound from holding answers behind slow ones:
//
//   - a Bot API that is far (api.telegram.org: every answer takes a network
//     round trip, so none is fast) gets no bound: each queued answer starts
//     at once, as before — concurrency costs nothing there (HTTP/2 streams)
//     and serialising would cost round trips;
//   - when no answer in flight came back for earlyStall while answers wait
//     (one slow call per worker: a stall, a retry's backoff, a loaded
//     machine), more workers start: the bound's number, then twice as
//     many each further earlyStall without an answer back, so that a hung
//     Bot API has all waiting answers in flight within a few ticks (as
//     before, each on its own); the extra workers end with the queue;
//   - each answer keeps its own deadline (Intake.answerEarly).
//
// Work is only reordered: the same answers, each before its tap's turn.
type answerer struct {
	in    *Intake
	bound int           // tests: earlyBound's replacement
	tick  time.Duration // tests: earlyFast's replacement for the stall check

	lastFast atomic.Int64 // unix ns of the last answer back within earlyFast

	mu      sync.Mutex
	queue   []earlyAnswer // waiting from head on, in arrival order
	head    int
	running int    // goroutines taking answers from the queue
	done    uint64 // answers finished, ever
	armed   bool   // the stall check is due
	seen    uint64 // done when the stall check was armed
	streak  int    // stall checks in a row that found no answer back
	timer   *time.Timer
}

// earlyAnswer is one tap to answer early; gate, when set, lets its turn
// start once it holds one of the firstGate's tokens (early.go).
type earlyAnswer struct {
	j     *job
	query string
	gate  *firstGate
}

// earlyFast is an answer's round trip below which the Bot API counts as
// near (a self-hosted server, the fakes).
const earlyFast = 5 * time.Millisecond

// earlyStall is the time without any answer back, while answers wait,
// after which more workers start.
const earlyStall = 10 * time.Millisecond

// earlyFastFor is how long one fast answer keeps the bound on.
const earlyFastFor = time.Second

// earlyBound is the number of early answers in flight at once against a
// near Bot API: a couple per core.
func earlyBound() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// add queues a tap's answer and starts a goroutine for it when fewer than
// the bound are running (no bound against a far Bot API).
func (a *answerer) add(e earlyAnswer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = append(a.queue, e)
	if a.running < a.limit() {
		a.running++
		go a.work()
		return
	}
	if !a.armed {
		a.armed, a.seen, a.streak = true, a.done, 0
		if a.timer == nil {
			a.timer = time.AfterFunc(a.tickOf(), a.stalled)
		} else {
			a.timer.Reset(a.tickOf())
		}
	}
}

func (a *answerer) limit() int {
	last := a.lastFast.Load()
	if last == 0 || time.Since(time.Unix(0, last)) >= earlyFastFor {
		return int(^uint(0) >> 1) // a far Bot API: no bound
	}
	return a.limitOrBound()
}

func (a *answerer) limitOrBound() int {
	if a.bound > 0 {
		return a.bound
	}
	return earlyBound()
}

func (a *answerer) tickOf() time.Duration {
	if a.tick > 0 {
		return a.tick
	}
	return earlyStall
}

// stalled runs a tick after the queue found the workers busy, and every
// tick while answers wait: when no answer came back since the last,
// more workers start.
func (a *answerer) stalled() {
	a.mu.Lock()
	defer a.mu.Unlock()
	waiting := len(a.queue) - a.head
	if waiting == 0 {
		a.armed = false
		return
	}
	if a.done != a.seen {
		a.seen, a.streak = a.done, 0
		a.timer.Reset(a.tickOf())
		return
	}
	// No answer back for a tick: as many workers again as the last
	// stall added (the bound the first time), so that a machine busy for
	// a moment adds a few and a Bot API that hangs gets every waiting
	// answer in flight within a few ticks.
	a.streak++
	more := min(waiting, a.limitOrBound()<<min(a.streak-1, 16))
	a.running += more
	for range more {
		go a.work()
	}
	if more < waiting {
		a.seen = a.done
		a.timer.Reset(a.tickOf())
		return
	}
	a.armed = false
}

// work answers queued taps, oldest first, until the queue is empty.
func (a *answerer) work() {
	for {
		a.mu.Lock()
		if a.head == len(a.queue) {
			a.running--
			a.queue, a.head = a.queue[:0], 0
			a.mu.Unlock()
			return
		}
		e := a.queue[a.head]
		a.queue[a.head] = earlyAnswer{}
		a.head++
		if a.head >= 64 && 2*a.head >= len(a.queue) {
			// Never empty for long (a busy bot): keep the array from
			// growing with the answers taken.
			n := copy(a.queue, a.queue[a.head:])
			clear(a.queue[n:])
			a.queue, a.head = a.queue[:n], 0
		}
		a.mu.Unlock()

		start := time.Now()
		ok := a.in.answerEarly(e.j, e.query)
		if end := time.Now(); end.Sub(start) < earlyFast {
			a.lastFast.Store(end.UnixNano())
		}
		a.mu.Lock()
		a.done++
		a.mu.Unlock()
		if ok && e.gate != nil {
			// The gate holds the turn until a token is free (a few at
			// most while the batch's first turns run): not a worker's
			// wait.
			go e.gate.run(e.j)
			continue
		}
		close(e.j.early)
	}
}
