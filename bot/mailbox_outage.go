package bot

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/needsbot/needsbot/interview"
)

// Outage parking (issue 17 finding 2).
//
// An update that cannot be applied because Redis or Postgres is down stays
// at the head of its chat's mailbox and is tried again with backoff until
// the outage ends, for at most IntakeOptions.OutageWindow; then it is
// dropped with a log line and the localised apology. A tap is answered at
// once with a localised "one moment" (answerCallbackQuery text: in the
// webhook's response, or through the API when polling), and its real
// answer is not sent again later. Each parked update is applied exactly
// once afterwards: it is the same job, in the same mailbox, and the
// session's dedup (Sessions.Load's Seen) keeps a copy that arrives again
// from applying twice. While parked the job holds no worker slot and is
// settled (the poller confirms it, the webhook answers 200): it is kept
// here, where it is retried sooner than Telegram's redelivery would.

// MsgOneMoment answers a tap that cannot be applied yet (Redis or Postgres
// is down): the answer is kept and applied in a moment.
const MsgOneMoment = "b.one_moment"

// DefaultOutageWindow is how long an update is kept while Redis or
// Postgres is down (NEEDSBOT_OUTAGE_WINDOW).
const DefaultOutageWindow = 2 * time.Minute

// Unavailable reports whether err means that a store the turn needs (Redis,
// Postgres) could not be reached — a failure that passes — as opposed to a
// refusal or a bug: interview.ErrUnavailable, or a network failure of a
// store reached outside the core (staff, results). It is the default of
// IntakeOptions.Unavailable.
func Unavailable(err error) bool {
	switch {
	case err == nil, errors.Is(err, interview.ErrConflict):
		return false
	case errors.Is(err, interview.ErrUnavailable):
		// The core's own verdict on its stores.
		return true
	case errors.Is(err, ErrTransient), errors.Is(err, ErrTelegram), errors.Is(err, ErrBlocked):
		// The Bot API, not a store: the sender retried already.
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The update's own deadline (a store that hangs fails sooner,
		// with its client's network timeout, a net.Error).
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := err.Error()
	for _, s := range []string{"connection pool timeout", "store unavailable", "connection refused", "broken pipe", "conn closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// parkBackoff is the pause before the next try of a parked update.
func parkBackoff(tries int) time.Duration {
	d := 250 * time.Millisecond << min(tries, 5)
	return min(d, 5*time.Second)
}

// oneMoment answers a parked tap at once, in the person's language.
func (in *Intake) oneMoment(ctx context.Context, j *job) {
	ev := in.h.classify(j.upd)
	if ev.query == "" {
		return
	}
	ans := &CallbackAnswer{QueryID: ev.query, Text: in.h.rend().Plain(in.h.lang("", ev.langHint), MsgOneMoment, nil)}
	j.mu.Lock()
	inBody := j.waiting && !j.isSettle
	j.mu.Unlock()
	if inBody && j.settle(ans) {
		return // in the webhook's response
	}
	// Answered before the update is settled (the caller settles it).
	if !j.claimAnswer() {
		return
	}
	if err := ignoreTelegram(in.h.cfg.Sender.Answer(ctx, ans.QueryID, ans.Text)); err != nil {
		in.log.Warn("one-moment answer failed", "chat", in.h.chatKey(ev.chat), "err", err)
	}
}
