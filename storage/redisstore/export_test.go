package redisstore

import "time"

// OnWait makes o tell f each wait its Run chooses (after a failed drain:
// failed), so that a test checks the backoff asked for, not timers.
func OnWait(o *Outbox, f func(wait time.Duration, failed bool)) { o.onWait = f }
