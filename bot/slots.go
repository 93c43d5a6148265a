package bot

import "sync"

// workSlots is the intake's worker slots (IntakeOptions.Workers) with two
// queues of waiters: a freed slot goes to a turn that owes its first reply
// (a /start, a typed answer, a language choice: job.first) before any
// other turn waiting, whatever their order of arrival.
//
// Issue 19 (polling first-reply p99): the slots were a buffered channel,
// whose waiters are served in arrival order. Under load all 32 slots are
// held and a dozen turns wait, mostly taps already answered early (their
// people saw the button's answer and wait for the next card); a typed last
// answer that came after them waited for all of them before its turn began
// — the completion's first reply waited 16–18 ms at the median for a slot,
// a /start 5 (traced, 1,000 walks). The firstGate (early.go) orders only
// one batch's turns, and only until their first turns settle: taps released
// by an earlier batch's gate were already queued. Work is only reordered,
// as with the firstGate: the same turns run, each chat's in order (a
// mailbox runs one job at a time), and a tap waits only while first turns
// do — a tenth of the updates.
//
// A first turn whose first reply is out gives its slot to the oldest first
// turn waiting, if any, and waits for the next slot ahead of the other
// turns (yield): the rest of its work — a completion's card edit and
// bookkeeping, a language choice's next card — is no one's first reply.
type workSlots struct {
	mu      sync.Mutex
	free    int
	first   []chan struct{} // waiting first turns, oldest first
	yielded []chan struct{} // waiting first turns whose first reply is out (yield), oldest first
	others  []chan struct{} // waiting other turns, oldest first
}

func newWorkSlots(n int) *workSlots { return &workSlots{free: n} }

// acquire takes a slot, waiting for one; first says the turn owes its
// first reply.
func (s *workSlots) acquire(first bool) {
	s.mu.Lock()
	if s.free > 0 {
		// A free slot means no one waits: release hands a freed slot
		// straight to a waiter.
		s.free--
		s.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	if first {
		s.first = append(s.first, ch)
	} else {
		s.others = append(s.others, ch)
	}
	s.mu.Unlock()
	<-ch
}

// yield hands the caller's slot to the oldest waiting first turn and waits
// for a slot again, ahead of the other turns; with no first turn waiting
// it keeps the slot. It reports whether it handed the slot over.
func (s *workSlots) yield() bool {
	s.mu.Lock()
	if len(s.first) == 0 {
		s.mu.Unlock()
		return false
	}
	next := s.first[0]
	s.first[0] = nil
	s.first = s.first[1:]
	ch := make(chan struct{})
	s.yielded = append(s.yielded, ch)
	s.mu.Unlock()
	close(next)
	<-ch
	return true
}

// release gives a slot back: to the oldest waiting first turn, else to the
// oldest turn that yielded, else to the oldest other waiter, else to the
// free ones.
func (s *workSlots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch chan struct{}
	switch {
	case len(s.first) > 0:
		ch, s.first[0] = s.first[0], nil
		s.first = s.first[1:]
	case len(s.yielded) > 0:
		ch, s.yielded[0] = s.yielded[0], nil
		s.yielded = s.yielded[1:]
	case len(s.others) > 0:
		ch, s.others[0] = s.others[0], nil
		s.others = s.others[1:]
	default:
		s.free++
		return
	}
	close(ch)
}

// waiting returns the number of turns waiting for a slot (tests).
func (s *workSlots) waiting() (first, others int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.first), len(s.yielded) + len(s.others)
}
