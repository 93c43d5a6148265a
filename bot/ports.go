package bot

import (
	"context"
	"errors"

	"github.com/needsbot/needsbot/dialog"
)

// Seen says how far an update id was already handled.
type Seen uint8

// Update handling states, as Sessions.Load reports them.
const (
	SeenNone    Seen = iota // new update
	SeenApplied             // its effect is saved; its replies may not have been sent
	SeenSent                // fully handled
)

// Loaded is a chat's stored interview and what is known of the update.
type Loaded struct {
	Blob    []byte // encoded dialog.State, nil when none
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
}

// ErrConflict is returned by Sessions.Save when the stored version moved.
var ErrConflict = errors.New("session version conflict")

// Sessions keeps live interviews (Redis): one round trip to load and
// learn whether the update was seen, one to save and mark it applied.
type Sessions interface {
	Load(ctx context.Context, chat, update int64) (Loaded, error)
	// Save stores blob as version next if the stored version is still
	// expect, and marks update applied, atomically. abandon is nil when the
	// interview is not (or no longer) countable as abandoned.
	Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, abandon *Abandon) error
	// MarkSent records that update's replies went out, and the message
	// showing the current question.
	MarkSent(ctx context.Context, chat, update int64, lastMsg int) error
	// Delete erases the chat's interview.
	Delete(ctx context.Context, chat int64) error
}

// Completion is a finished interview to record.
type Completion struct {
	ID        string // random response id, new at each attempt
	Idem      string // idempotency key, stable across redeliveries; dropped at retention
	Pseudonym string
	Response  dialog.Response
}

// Responses records completed interviews durably (Postgres, or an outbox
// when Postgres is down) and erases a respondent's data.
type Responses interface {
	Complete(ctx context.Context, c Completion) error
	Erase(ctx context.Context, pseudonym string) (int, error)
}

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
