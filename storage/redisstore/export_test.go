package redisstore

import "time"

// OnWait makes o tell f each wait its Run chooses (after a failed drain:
// failed), so that a test checks the backoff asked for, not timers.
func OnWait(o *Outbox, f func(wait time.Duration, failed bool)) { o.onWait = f }

// ForgetReadStates makes s forget the state its reads found (the seen
// record's written time stays): its next saves go to saveScript, not
// saveCommonScript, until the chat is read again.
func ForgetReadStates(s *Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, r := range s.reads {
		r.v, r.mirror = 0, ""
		s.reads[c] = r
	}
}

// CommonScriptHash is saveCommonScript's SHA.
func CommonScriptHash() string { return saveCommonScript.Hash() }
