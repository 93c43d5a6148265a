package interview

import (
	"context"
	"errors"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

// The core's ports: small interfaces it needs, implemented over Redis and
// Postgres in storage and wired in cmd. Tests use strict fakes.

// Seen says how far an input was already handled.
type Seen uint8

// Input handling states, as Sessions.Load reports them.
const (
	SeenNone    Seen = iota // new input
	SeenApplied             // its effect is saved; its replies may not have been sent
	SeenSent                // fully handled
)

// Loaded is a chat's stored interview and what is known of the input.
type Loaded struct {
	// Blob is the encoded dialog.State, nil when none. It is the turn's:
	// the store modifies it no more once Load returned (the decoded
	// state's strings are its bytes: dialog.DecodeOwned).
	Blob    []byte
	Version uint64
	Seen    Seen
	// LastMsg is the message id of the question on screen, recorded by
	// MarkSent, so a typed answer can settle that message's keyboard.
	LastMsg int
}

// Keys of an interview's start context (dialog.State.Context), set from
// the invite (or the default municipality) and copied into the Response.
const (
	CtxMunicipality = "municipality_id" // Postgres id of the municipality
	CtxService      = "service_id"      // Postgres id of the service, optional
	CtxOperator     = "operator_id"     // staff id of the operator who made the invite
	CtxInvite       = "invite"          // id of the invite (decimal), never its token
	// CtxServiceCode is the code of the invite's service: a form's hidden
	// row declaring context: service_code takes it as its answer.
	CtxServiceCode = "service_code"
	// CtxReminded and CtxResumed ("1" when set) are the reminder funnel's
	// flags (issue 16): the interview's reminder was sent; an input of
	// the respondent followed it. They go with the completion and the
	// abandonment record, and nothing else about the reminder is kept.
	CtxReminded = "reminded"
	CtxResumed  = "resumed"
	// CtxClosing is kept only in a finished interview's stored state: the
	// names of the closing notes its last step showed (space-separated),
	// so that a replay of that step (its reply lost past every retry,
	// the update delivered again) shows them again (Closing). Names of
	// the questionnaire's rows, never an answer; a replica that does not
	// know the key ignores it.
	CtxClosing = "closing"
)

// Abandon describes an interview in progress past consent, so that it can
// be counted as abandoned (with the last question reached, never the
// answers) if it expires.
type Abandon struct {
	Form         string
	FormVersion  int
	Context      map[string]string
	Language     string
	LastQuestion string
	Started      int64
	// Reminded and Resumed are the reminder funnel's flags (CtxReminded,
	// CtxResumed).
	Reminded, Resumed bool
	// Expires, when set, is when the interview expires unless the person
	// answers again (Config.ExpireAfter after their last input): Sessions
	// arms the chat's expiry job for it in the same round trip as the
	// save, and the scheduler brings it back as a KindExpire input.
	Expires time.Time
}

// ErrConflict is returned by Sessions.Save when the stored version moved.
var ErrConflict = errors.New("session version conflict")

// Sessions keeps live interviews (Redis): one round trip to load and
// learn whether the input was seen, one to save and mark it applied. key
// is the input's idempotency key (Key.ID); 0 dedups nothing.
type Sessions interface {
	Load(ctx context.Context, chat, key int64) (Loaded, error)
	// Save stores blob as version next if the stored version is still
	// expect, and marks key applied, atomically. abandon is nil when the
	// interview is not (or no longer) countable as abandoned; stage says
	// what the state is to the store, so that it need not decode it.
	Save(ctx context.Context, chat, key int64, expect, next uint64, blob []byte, abandon *Abandon, stage Stage) error
	// MarkSent records that key's replies went out, and the message
	// showing the current question.
	MarkSent(ctx context.Context, chat, key int64, lastMsg int) error
	// Delete erases the chat's interview.
	Delete(ctx context.Context, chat int64) error
}

// Confirmer is implemented by Sessions whose Load may answer from the
// replica's memory instead of the store (redisstore's warm chats): a turn
// that saves has the save's compare-and-swap to catch a state another
// replica moved meanwhile, a turn that saves nothing (a stale tap, an
// input refused, a question shown again) has none. Before such a turn
// answers, Step asks Confirm whether the stored version is still version:
// ErrConflict when it moved (the core loads again, from the store, and
// applies the input to the state there), nil when it did not or the Load
// read the store (no round trip then).
type Confirmer interface {
	Confirm(ctx context.Context, chat int64, version uint64) error
}

// CompletingSessions is implemented by Sessions that record a completion
// in the same atomic step as the save of the finished interview's state
// (the compare-and-swap): a save that conflicts records nothing, and the
// response reaches Responses after the turn (the store's drainer), so the
// person's thank-you does not wait for the system of record. Delete erases
// a completion recorded so and not yet written. SaveCompleted fails with
// ErrRejected for a response the system of record would refuse.
type CompletingSessions interface {
	SaveCompleted(ctx context.Context, chat, key int64, expect, next uint64, blob []byte, c Completion) error
}

// Completion is a finished interview to record.
type Completion struct {
	ID        string // random response id, new at each attempt
	Idem      string // idempotency key, stable across redeliveries; dropped at retention
	Pseudonym string
	Response  dialog.Response
}

// Responses records completed interviews in the system of record
// (Postgres) and erases a respondent's data everywhere (Postgres and the
// outbox). Complete is idempotent by Completion.Idem.
type Responses interface {
	Complete(ctx context.Context, c Completion) error
	Erase(ctx context.Context, pseudonym string) (int, error)
}

// Outbox keeps a completion that Responses could not take (Postgres down)
// durably until it can be written (the Redis outbox, flushed later):
// nothing is lost, and the respondent goes on.
type Outbox interface {
	Queue(ctx context.Context, c Completion) error
}

// ErrRejected says a store refused a record as invalid: trying again, or
// queueing it for later, cannot help.
var ErrRejected = errors.New("record rejected as invalid")

// Invite errors, each explained to the respondent in their language.
var (
	ErrInviteUnknown   = errors.New("unknown invite")
	ErrInviteExpired   = errors.New("invite expired")
	ErrInviteRevoked   = errors.New("invite revoked")
	ErrInviteExhausted = errors.New("invite used up")
	ErrInviteLimited   = errors.New("too many bad invites")
)

// Invite is what an invite token resolves to.
type Invite struct {
	Form    string            // questionnaire id
	Context map[string]string // municipality, service, invite, operator, hidden fields
}

// Invites resolves /start payloads. user is the pseudonym, for rate
// limiting repeated bad tokens.
type Invites interface {
	Resolve(ctx context.Context, token, user string) (Invite, error)
}

// Reminders keeps the reminder schedule (redisstore): the scheduler claims
// due reminders and brings each back through Core.Apply as a KindRemind
// input.
type Reminders interface {
	// Arm (re)schedules the chat's reminder at due, unless this
	// interview's reminder was already sent or refused.
	Arm(ctx context.Context, chat int64, lang string, due time.Time) error
	// Cancel drops the pending reminder; refuse keeps any from being armed
	// again for this interview.
	Cancel(ctx context.Context, chat int64, refuse bool) error
}

// Abandonments records, in the system of record, an interview that
// expired in progress past consent (the last question reached, never the
// answers). It is idempotent per interview (chat and Abandon.Started): an
// expiry applied again records nothing new.
type Abandonments interface {
	Abandoned(ctx context.Context, chat int64, a Abandon, at time.Time) error
}

// Stage is what a saved state is to the store, decided by the core from
// the state it saves.
type Stage struct {
	// Done: the interview is over; the store keeps only what dedup and
	// "already answered" need, for a short time.
	Done bool
	// WaitingAt is the form whose language choice the state waits at (""
	// = none): the store indexes the chat there, in the save's round
	// trip, so that a version of that form published meanwhile reaches it
	// as a KindPublished input (PublishedKey), and drops it when the
	// choice is made.
	WaitingAt string
}

// StageOf is the stage of state s.
func StageOf(s dialog.State) Stage {
	st := Stage{Done: s.Phase == dialog.PhaseDone}
	if s.Phase == dialog.PhaseLanguage {
		st.WaitingAt = s.Form
	}
	return st
}

// MessageLog remembers the ids of the messages of a respondent's chat —
// the bot's and, in a private chat, the person's — for 48 hours, so that
// /delete can delete them while Telegram still allows it. Only ids and
// times are kept, never text.
type MessageLog interface {
	Record(ctx context.Context, chat int64, ids []int) error
	// Recent returns the ids recorded in the last 48 hours.
	Recent(ctx context.Context, chat int64) ([]int, error)
}

// Events is told about interview events, for metrics: started, completed,
// declined, reminded, reminder_stopped, resumed_after_reminder, expired.
type Events interface {
	Interview(event string)
}
