package interview

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/locales"
)

// Config wires a Core. Sessions and Responses are required; the rest is
// optional.
type Config struct {
	// Library is the questionnaires and catalog in force, read once per
	// input (live reload); without it, Forms and Catalog are fixed.
	Library formlib.Source
	Forms   *dialog.Library
	// DefaultForm is the questionnaire of a /start without invite
	// (default: the first form respondents answer, as forms declare).
	DefaultForm string
	// DefaultContext, when set, lets an interview begin without an invite,
	// for a default municipality (before invites exist).
	DefaultContext map[string]string
	// Catalog matches Telegram's language hint to a supported language;
	// without it the hint is ignored and the source language is spoken.
	Catalog   *locales.Catalog
	Sessions  Sessions
	Responses Responses
	// Outbox, when set, takes a completion that Responses could not (not
	// one it rejected): the turn goes on, the outbox writes it later.
	Outbox   Outbox
	Invites  Invites    // optional: /start payloads
	Messages MessageLog // optional: message ids for /delete
	// Reminders, when set with ReminderAfter > 0, schedules one reminder
	// per interview after ReminderAfter idle; ReminderQuiet moves a due
	// time out of the quiet hours.
	Reminders     Reminders
	ReminderAfter time.Duration
	ReminderQuiet func(time.Time) time.Time
	// ExpireAfter, when positive, is how long an interview in progress
	// past consent may idle: each save arms its expiry job (Abandon.Expires)
	// and the scheduler delivers KindExpire, which records the abandonment
	// through Abandonments and tells the person. Zero leaves expiry to the
	// store's TTL and the abandonment sweep (durable.Abandonment), which
	// stay as the safety net for sessions that have no job.
	ExpireAfter  time.Duration
	Abandonments Abandonments
	// Pseudonym maps a Telegram user id to the respondent's keyed
	// pseudonym.
	Pseudonym func(userID int64) string
	// LogKey maps a chat id to the key that identifies it in log lines
	// (keyed, domain-separated); without it logs say "?".
	LogKey func(chat int64) string
	Logger *slog.Logger
	Now    func() time.Time
	Events Events
}

// Core applies inputs to interviews. It is safe for concurrent use; the
// caller keeps one chat's inputs in order (per-chat mailboxes), and
// compare-and-swap on the session version catches any overlap.
type Core struct {
	cfg Config
	log *slog.Logger
}

type nopEvents struct{}

func (nopEvents) Interview(string) {}

// New returns a core.
func New(cfg Config) *Core {
	if cfg.Library == nil {
		cfg.Library = formlib.Fixed(cfg.Forms, cfg.Catalog)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = nopEvents{}
	}
	return &Core{cfg: cfg, log: cfg.Logger}
}

// Channel renders and sends what a turn decided; bot implements it for
// Telegram. Present interprets a chat input within the turn (calling its
// Start, Step, Erase… methods) and sends the replies; for the other kinds
// it renders t.Effects(). An error means the input should come again: the
// core then records nothing as sent.
type Channel interface {
	Present(ctx context.Context, t *Turn) error
}

// maxConflicts bounds compare-and-swap retries of one input.
const maxConflicts = 5

// Apply is the one entry for every kind of input. It loads the chat's
// session and learns whether in.Key was applied (one round trip), drops an
// input fully handled before, applies the input (or lets ch interpret a
// chat input), saves with compare-and-swap — retrying from the load on a
// conflict — and, once ch has sent the replies, records them as sent.
//
// It returns an error only when the input should be applied again later;
// errors.Is(err, ErrUnavailable) says a store was down.
func (c *Core) Apply(ctx context.Context, in Input, ch Channel) error {
	for attempt := 0; ; attempt++ {
		err := c.applyOnce(ctx, in, ch, attempt > 0)
		if !errors.Is(err, ErrConflict) || attempt >= maxConflicts {
			return err
		}
	}
}

func (c *Core) applyOnce(ctx context.Context, in Input, ch Channel, conflicted bool) error {
	t, err := c.begin(ctx, in)
	if err != nil {
		return err
	}
	if t.loaded.Seen == SeenSent {
		// Fully handled already: a duplicate costs nothing at all, no
		// Bot API call either (Telegram would refuse a second answer to
		// the same callback query as too old).
		return nil
	}
	if conflicted && t.loaded.Seen == SeenApplied && in.Kind == KindChat {
		// This very input was applied while this attempt was at it: a
		// copy of the update delivered to another replica at the same
		// time won the compare-and-swap. Its replies are the winner's to
		// send and mark; showing the question again here would only
		// repeat the winner's Bot API calls (an edit "not modified", a
		// callback answer refused as too old). Should the winner die
		// before sending, a redelivery finds the input applied and shows
		// the question (the replay below).
		return nil
	}
	present := true
	switch in.Kind {
	case KindChat:
		if t.loaded.Seen == SeenApplied && in.InFlightGrace {
			return ErrInFlight
		}
		if t.loaded.Seen == SeenApplied {
			// Applied before, but its replies may never have gone out:
			// the channel shows the current question again.
			t.replay = true
			if _, err := t.Step(ctx, dialog.Input{Kind: dialog.InRepeat, Resume: true}, false); err != nil {
				return err
			}
			if notes := Closing(t.form, t.state); notes != nil {
				// The step that ended the interview: its closing notes
				// again rather than "already answered" (closing.go).
				t.effects.Replies = notes
			}
		}
	case KindExpire:
		present, err = t.expire(ctx)
	case KindRemind:
		// A reminder is wanted only while the interview is in progress
		// past consent; finished, declined or erased meanwhile: nothing.
		// Applied before (its key is in the seen set: the job came again,
		// its lease lost mid-send, maybe on another replica): the flag was
		// saved before the reminder went out, so it may have gone —
		// a reminder is sent at most once.
		// (The zero Key dedups nothing.)
		present = (t.loaded.Seen == SeenNone || in.Key.ID() == 0) && t.state.Phase == dialog.PhaseAsking && t.state.Consent
		if present {
			err = t.markReminded(ctx)
		}
	case KindPublished:
		present, err = false, t.published(ctx)
	case KindShow:
		// Once, and only while a question is asked: finished, declined
		// or erased meanwhile, nothing.
		present = t.loaded.Seen == SeenNone && t.state.Phase == dialog.PhaseAsking
	}
	if err != nil {
		return err
	}
	if present {
		if err := ch.Present(ctx, t); err != nil {
			return err
		}
	}
	t.done(ctx)
	return nil
}

// begin loads the chat's session and decodes it.
func (c *Core) begin(ctx context.Context, in Input) (*Turn, error) {
	loaded, err := c.cfg.Sessions.Load(ctx, in.Chat, in.Key.ID())
	if err != nil {
		return nil, unavailable("load session", err)
	}
	t := &Turn{c: c, in: in, loaded: loaded, lastMsg: loaded.LastMsg}
	if loaded.Blob != nil {
		if t.state, err = dialog.DecodeOwned(loaded.Blob); err != nil {
			c.log.Warn("unreadable session, starting afresh", "chat", c.ChatKey(in.Chat), "err", err)
			t.state = dialog.State{}
		}
	}
	t.state.Version = loaded.Version
	t.snap = c.cfg.Library.Current()
	t.form = c.formIn(t.snap, t.state)
	t.lang = c.langIn(t.snap, t.state.Lang, in.LangHint)
	t.idle = in.Kind == KindChat && t.state.Phase == dialog.PhaseAsking && t.state.Updated > 0 &&
		c.cfg.Now().Sub(time.Unix(t.state.Updated, 0)) >= c.IdleGap()
	return t, nil
}

// DefaultIdleGap is the pause after which the respondent's next input
// shows the resume recap when reminders are off.
const DefaultIdleGap = time.Hour

// IdleGap is the pause after which the respondent's next input, whatever
// it is, shows the resume recap ("You answered 12 questions; next:
// housing") above the current question: the reminder's delay
// (ReminderAfter) when reminders are on — whoever comes back later than a
// reminder would have been sent has been away as long — else
// DefaultIdleGap.
func (c *Core) IdleGap() time.Duration {
	if c.cfg.ReminderAfter > 0 {
		return c.cfg.ReminderAfter
	}
	return DefaultIdleGap
}

func (c *Core) formFor(s dialog.State) *dialog.Form { return c.formIn(c.cfg.Library.Current(), s) }

func (c *Core) formIn(snap *formlib.Snapshot, s dialog.State) *dialog.Form {
	if snap.Forms == nil {
		return nil
	}
	if s.Form != "" {
		if f := snap.Forms.Get(s.Form, s.FormVersion); f != nil {
			return f
		}
		if f := snap.Forms.Latest(s.Form); f != nil {
			return f
		}
	}
	return snap.Forms.Latest(c.defaultForm(snap))
}

// defaultForm is the configured default form, else the first
// respondents' form of the snapshot that is not retired.
func (c *Core) defaultForm(snap *formlib.Snapshot) string {
	if c.cfg.DefaultForm != "" || snap.Forms == nil {
		return c.cfg.DefaultForm
	}
	for _, id := range snap.Forms.Respondents() {
		if !snap.Retired[id] { // a retired form takes no new interviews
			return id
		}
	}
	return ""
}

// Lang is the language to speak: the interview's, else the best match of
// Telegram's hint, else the source language.
func (c *Core) Lang(state, hint string) string {
	return c.langIn(c.cfg.Library.Current(), state, hint)
}

func (c *Core) langIn(snap *formlib.Snapshot, state, hint string) string {
	if state != "" {
		return state
	}
	if snap.Catalog != nil {
		if l, ok := snap.Catalog.Match(hint); ok {
			return l
		}
	}
	return locales.Source
}

// Library is the snapshot of the questionnaires in force (outside a turn;
// a turn keeps its own, Turn.Snapshot).
func (c *Core) Library() *formlib.Snapshot { return c.cfg.Library.Current() }

// ChatKey is a log-safe pseudonymous key for a chat (Config.LogKey).
func (c *Core) ChatKey(chat int64) string {
	if c.cfg.LogKey == nil {
		return "?"
	}
	p := c.cfg.LogKey(chat)
	return p[:min(12, len(p))]
}

// expires is when an interview in state s expires, zero without
// ExpireAfter: ExpireAfter after the person's last input.
func (c *Core) expires(s dialog.State) time.Time {
	if c.cfg.ExpireAfter <= 0 {
		return time.Time{}
	}
	last := c.cfg.Now()
	if s.Updated > 0 {
		last = time.Unix(s.Updated, 0)
	}
	return last.Add(c.cfg.ExpireAfter).UTC()
}

// abandonOf is AbandonOf(s) with the expiry job's due time.
func (c *Core) abandonOf(s dialog.State) *Abandon {
	a := AbandonOf(s)
	if a != nil {
		a.Expires = c.expires(s)
	}
	return a
}

// RefuseReminder records that the chat wants no reminder for its
// interview (Stop pressed, bot blocked). A store failure is logged: at
// worst one reminder that the person can stop.
func (c *Core) RefuseReminder(ctx context.Context, chat int64) {
	if c.cfg.Reminders == nil {
		return
	}
	if err := c.cfg.Reminders.Cancel(ctx, chat, true); err != nil {
		c.log.Warn("reminder cancel failed", "chat", c.ChatKey(chat), "err", err)
	}
}

// Event reports an interview event that the channel observed (for
// example "stopped" when the person blocked the bot).
func (c *Core) Event(name string) { c.cfg.Events.Interview(name) }

// DefaultMunicipality is the default municipality's Postgres id ("" for
// none): where an interview begins without an invite.
func (c *Core) DefaultMunicipality() string { return c.cfg.DefaultContext[CtxMunicipality] }

// DefaultForm is the questionnaire of a /start without invite.
func (c *Core) DefaultForm() *dialog.Form {
	snap := c.cfg.Library.Current()
	return snap.Forms.Latest(c.defaultForm(snap))
}

// FormOf is the form an interview of form id and version runs on: that
// version, else the newest of id, else the default form.
func (c *Core) FormOf(id string, version int) *dialog.Form {
	return c.formFor(dialog.State{Form: id, FormVersion: version})
}

// Now is the core's clock.
func (c *Core) Now() time.Time { return c.cfg.Now() }
