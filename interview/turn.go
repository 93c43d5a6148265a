package interview

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
)

// Turn is one attempt at applying an input to a chat's interview. The
// channel reads the interview through it and moves it with its methods;
// Core.Apply saves, retries and records what was sent.
type Turn struct {
	c       *Core
	in      Input
	loaded  Loaded
	state   dialog.State
	snap    *formlib.Snapshot // the questionnaires in force for this input
	form    *dialog.Form
	lang    string
	lastMsg int
	sent    []int
	erased  bool
	replay  bool
	// cancelReminder: the step ended the interview; its reminder is
	// cancelled after the replies (done).
	cancelReminder bool
	idle           bool
	touched        bool // the idle pause was ended (Updated saved) in this turn
	confirmed      bool // the loaded version was confirmed (Confirmer) or saved over
	effects        Effects
}

// Effects is what one step decided, as data for the channel to render:
// the interview before and after, the engine's replies, and what the core
// recorded.
type Effects struct {
	// Prev is the interview before the step: its answers may have been
	// changed by it (dialog.StepOwned); read its other fields, or
	// dialog.NoteBefore at Prev.Pos, which answers as before the step.
	// (What the channel shows never comes from Prev's answers: the "✓"
	// line of the answer just given is the step's ReplyAnswered, the
	// notes and recaps read Next; the bot reads Prev's phase, position,
	// showing (Seq) and NoteBefore — checked in session 10.)
	Prev, Next dialog.State
	Replies    []dialog.Reply
	// Completed is the response recorded in this step, if any.
	Completed *dialog.Response
	// Saved says the new state was stored (compare-and-swap succeeded).
	Saved bool
	// NoInvite says nothing was applied: there is no interview and no
	// invite to begin one; the respondent is told how to get a link.
	NoInvite bool
}

// Input is the input being applied.
func (t *Turn) Input() Input { return t.in }

// Seen says how far the input was handled before (never SeenSent: those
// are dropped before any turn).
func (t *Turn) Seen() Seen { return t.loaded.Seen }

// Replay reports that the input was applied before but its replies may
// not have gone out: Effects holds the current question to show again.
func (t *Turn) Replay() bool { return t.replay }

// LastMsg is the message showing the current question when the turn began.
func (t *Turn) LastMsg() int { return t.loaded.LastMsg }

// Idle says the input is the respondent's first after a pause of at least
// Core.IdleGap in an interview in progress: the channel shows the resume
// recap above the current question.
func (t *Turn) Idle() bool { return t.idle }

// State is the interview as it stands in this turn.
func (t *Turn) State() dialog.State { return t.state }

// Form is the interview's questionnaire (the default one before any).
func (t *Turn) Form() *dialog.Form { return t.form }

// Snapshot is the questionnaires and catalog this turn reads (taken once
// per input).
func (t *Turn) Snapshot() *formlib.Snapshot { return t.snap }

// Lang is the language to speak in this turn.
func (t *Turn) Lang() string { return t.lang }

// Effects is what the last step decided.
func (t *Turn) Effects() Effects { return t.effects }

// Shown records the message now showing the current question.
func (t *Turn) Shown(msg int) { t.lastMsg = msg }

// Sent records message ids of the chat (the bot's and the person's) for
// /delete.
func (t *Turn) Sent(ids ...int) { t.sent = append(t.sent, ids...) }

// Pseudonym is the keyed pseudonym of the input's user ("" without one).
func (t *Turn) Pseudonym() string {
	if t.c.cfg.Pseudonym == nil || t.in.User == 0 {
		return ""
	}
	return t.c.cfg.Pseudonym(t.in.User)
}

// Step applies in to the interview: it runs dialog.Step, records a
// completion, and saves the new state with compare-and-swap when save is
// set and the state changed. Without an interview, any input but a start
// or a language choice begins one for the default context — or, with
// none, applies nothing and says so (Effects.NoInvite).
func (t *Turn) Step(ctx context.Context, in dialog.Input, save bool) (Effects, error) {
	c := t.c
	if t.form == nil {
		return Effects{}, errors.New("interview: no questionnaire loaded")
	}
	if t.state.Phase == dialog.PhaseNew && in.Kind != dialog.InStart && in.Kind != dialog.InSetLanguage && in.Kind != dialog.InExpire {
		if c.cfg.DefaultContext == nil {
			t.effects = Effects{Prev: t.state, Next: t.state, NoInvite: true}
			return t.effects, nil
		}
		in = dialog.Input{Kind: dialog.InStart, Context: c.cfg.DefaultContext}
	}
	now := c.cfg.Now()
	cur := t.state
	resumed := t.in.Kind == KindChat && cur.Phase == dialog.PhaseAsking && Flagged(cur, CtxReminded) && !Flagged(cur, CtxResumed)
	if resumed {
		// The respondent's first input after the reminder: flagged before
		// the step, so that a completion in this very step carries it.
		cur = withFlag(cur, CtxResumed)
	}
	// The turn's state is its own (decoded for this turn, or the last
	// step's): the step may change its answers in place rather than copy
	// them. What the channel reads of Effects.Prev stays as it was.
	next, replies := dialog.StepOwned(t.form, cur, in, now)
	if (resumed || (t.idle && !t.touched)) && next.Version == t.state.Version && next.Phase == dialog.PhaseAsking {
		// Nothing else changed (the reminder's Continue, a junk message
		// after a pause): the flag and the time of this input alone are
		// saved, so that the pause is over and the recap shows once.
		if resumed {
			next = withFlag(next, CtxResumed)
		}
		next.Version, next.Updated, save = t.state.Version+1, now.Unix(), true
	}
	t.touched = t.touched || t.idle
	eff := Effects{Prev: t.state, Next: next, Replies: replies}
	saving := save && next.Version != t.state.Version
	var abandon *Abandon
	if saving {
		abandon = c.abandonOf(next)
	}
	if !saving && !t.confirmed {
		if err := t.confirm(ctx); err != nil {
			return Effects{}, err
		}
	}
	cs, _ := c.cfg.Sessions.(CompletingSessions)
	var withSave *Completion // recorded in the save's atomic step
	for _, r := range replies {
		if r.Kind != dialog.ReplyComplete {
			continue
		}
		eff.Completed = r.Response
		cp := Completion{ID: NewResponseID(), Pseudonym: t.Pseudonym(), Response: *r.Response}
		cp.Idem = IdempotencyKey(cp.Pseudonym, r.Response)
		if cs != nil && saving && withSave == nil && abandon == nil && next.Phase == dialog.PhaseDone {
			// Recorded with the state's save: written to Responses
			// after the turn, never for a save that conflicts.
			withSave = &cp
		} else if err := c.record(ctx, cp); err != nil {
			// Recorded before the state is saved: if saving fails the
			// input comes again and the completion, idempotent by Idem,
			// collapses.
			return Effects{}, err
		}
		c.cfg.Events.Interview("completed")
	}
	if saving {
		stored := Stored(next)
		if next.Phase == dialog.PhaseDone && t.state.Phase != dialog.PhaseDone {
			stored = withClosing(stored, replies)
		}
		blob, err := dialog.Encode(stored)
		if err != nil {
			return Effects{}, fmt.Errorf("encode session: %w", err)
		}
		if withSave != nil {
			err = cs.SaveCompleted(ctx, t.in.Chat, t.in.Key.ID(), t.state.Version, next.Version, blob, *withSave)
			if errors.Is(err, ErrRejected) {
				return Effects{}, fmt.Errorf("record completion: %w", err)
			}
		} else {
			err = c.cfg.Sessions.Save(ctx, t.in.Chat, t.in.Key.ID(), t.state.Version, next.Version, blob, abandon, StageOf(next))
		}
		if errors.Is(err, ErrConflict) {
			return Effects{}, fmt.Errorf("save session: %w", err)
		} else if err != nil {
			return Effects{}, unavailable("save session", err)
		}
		eff.Saved = true
		t.confirmed = true
		t.rearm(ctx, t.state, next)
		if next.Consent && !t.state.Consent {
			c.cfg.Events.Interview("started")
		}
		if next.Outcome == dialog.OutcomeDeclined && t.state.Outcome != dialog.OutcomeDeclined {
			c.cfg.Events.Interview("declined")
		}
	}
	if next.Lang != "" {
		t.lang = next.Lang
	}
	t.state = next
	t.effects = eff
	return eff, nil
}

// record writes a completion to Responses or, when they cannot take it,
// to the Outbox; only when both fail is the store unavailable (and the
// input comes again: the completion, idempotent by Idem, collapses).
func (c *Core) record(ctx context.Context, cp Completion) error {
	err := c.cfg.Responses.Complete(ctx, cp)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrRejected):
		return fmt.Errorf("record completion: %w", err)
	case c.cfg.Outbox == nil:
		return unavailable("record completion", err)
	}
	c.log.Warn("responses unavailable, completion queued in the outbox", "err", err)
	if qerr := c.cfg.Outbox.Queue(ctx, cp); qerr != nil {
		return unavailable("record completion", errors.Join(err, qerr))
	}
	return nil
}

// Start is what a /start decided.
type Start struct {
	// Input is the input to step when Refused is nil.
	Input dialog.Input
	// Refused is why nothing begins: ErrNoInvite, ErrNeedsLink (after an
	// interview that ended early) or one of the invite errors
	// (ErrInviteUnknown…); the respondent is told in their language.
	Refused error
	// Resumed says an interview in progress resumes: greet the person back
	// with a recap.
	Resumed bool
}

// ErrNoInvite refuses a /start without an invite when there is no default
// municipality.
var ErrNoInvite = errors.New("no invite")

// ErrNeedsLink refuses /restart after a finished interview, and /start
// without a link after one that ended early, when there is no default
// municipality: a new interview needs the invite again.
var ErrNeedsLink = errors.New("a new interview needs the invite link")

// confirm makes sure a step that saves nothing answers from the stored
// state (Confirmer): the load may have come from the replica's memory,
// and such a step has no compare-and-swap of its own to catch a state
// another replica moved. A conflict returns as a save's does, so that
// Apply loads again and applies the input to the state stored.
func (t *Turn) confirm(ctx context.Context) error {
	cf, ok := t.c.cfg.Sessions.(Confirmer)
	if !ok || t.state.Version == 0 {
		t.confirmed = true
		return nil
	}
	err := cf.Confirm(ctx, t.in.Chat, t.state.Version)
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("confirm session: %w", err)
	} else if err != nil {
		return unavailable("confirm session", err)
	}
	t.confirmed = true
	return nil
}

// Start resolves a /start with payload (an invite token, or "").
// Re-opening the link mid-interview resumes it: no use of the invite is
// counted (a single-use invite would otherwise refuse its own respondent).
func (t *Turn) Start(ctx context.Context, payload string) (Start, error) {
	c := t.c
	s := Start{Input: dialog.Input{Kind: dialog.InStart, Payload: payload, Context: c.cfg.DefaultContext}}
	resuming := t.state.Phase == dialog.PhaseAsking || t.state.Phase == dialog.PhaseLanguage
	switch {
	case payload != "" && c.cfg.Invites != nil && !resuming:
		inv, err := c.cfg.Invites.Resolve(ctx, payload, t.Pseudonym())
		if InviteRefused(err) {
			s.Refused = err
			return s, nil
		} else if err != nil {
			return Start{}, unavailable("resolve invite", err)
		}
		if t.snap.Retired[inv.Form] {
			// A retired form takes no new interviews, by any link.
			s.Refused = ErrInviteRevoked
			return s, nil
		}
		s.Input.Context = inv.Context
		if f := t.snap.Forms.Latest(inv.Form); f != nil && (t.state.Phase == dialog.PhaseNew || t.state.Phase == dialog.PhaseDone) {
			t.form = f
		}
	case resuming:
		s.Resumed = t.state.Phase == dialog.PhaseAsking
	case c.cfg.DefaultContext == nil && t.state.Phase == dialog.PhaseDone && t.state.Outcome == dialog.OutcomeCompleted:
		// Finished: the engine says it was answered and how to answer
		// again (/restart), as to anything typed after the end.
	case c.cfg.DefaultContext == nil && t.state.Phase == dialog.PhaseDone:
		// Ended early (no, under 18): it was begun by a link, and only
		// the link begins it again (it is checked again when opened).
		s.Refused = ErrNeedsLink
	case c.cfg.DefaultContext == nil:
		s.Refused = ErrNoInvite
	}
	if !resuming && t.state.Lang != "" && t.form != nil && !t.snap.Speaks(t.form.ID, t.state.Lang) {
		// A language chosen before (or for another form) that this form
		// is not published for: the language menu asks, with its languages.
		t.state.Lang = ""
	}
	return s, nil
}

// InviteRefused reports whether err is an invite's refusal (explained to
// the respondent) rather than a failure.
func InviteRefused(err error) bool {
	for _, e := range []error{ErrInviteUnknown, ErrInviteExpired, ErrInviteRevoked, ErrInviteExhausted, ErrInviteLimited} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Restart returns the input that starts the interview again, or
// ErrNeedsLink. Mid-interview it is the same interview (the invite was
// checked when it began, and counted once). After a finished one, a new
// interview needs the invite again — checked for expiry, revocation and
// uses when the link is opened — so the stored context (which no longer
// holds the invite anyway) is never reused.
func (t *Turn) Restart() (dialog.Input, error) {
	if t.state.Phase == dialog.PhaseDone {
		if t.c.cfg.DefaultContext == nil {
			return dialog.Input{}, ErrNeedsLink
		}
		t.state.Context = t.c.cfg.DefaultContext
	}
	return dialog.Input{Kind: dialog.InRestart, Context: t.state.Context}, nil
}

// ChooseLanguage switches the interview to lang (a supported language)
// and steps it.
func (t *Turn) ChooseLanguage(ctx context.Context, lang string) (Effects, error) {
	t.lang = lang
	if t.state.Phase == dialog.PhaseNew && t.state.Form == "" && t.c.cfg.DefaultContext == nil {
		// Only a language, no interview yet.
		t.state.Lang = lang
	}
	return t.Step(ctx, dialog.Input{Kind: dialog.InSetLanguage, Lang: lang}, true)
}

// expire applies dialog.InExpire: the interview idled out. It reports
// whether there is anything to tell the person.
func (t *Turn) expire(ctx context.Context) (bool, error) {
	if t.loaded.Seen == SeenApplied {
		// Expired and saved before. The expiry's job went with that save
		// (it lives in the abandonment record), so no retry of the job
		// comes here: only a copy that raced the one that saved it (a
		// lease run out, another replica), and that one tells the person.
		// Once is enough: nothing again.
		return false, nil
	}
	if t.state.Phase == dialog.PhaseNew {
		return false, nil
	}
	if t.in.Version != 0 && t.loaded.Version != t.in.Version {
		// The interview moved on after the job was armed: its newer save
		// armed a newer job.
		return false, nil
	}
	c := t.c
	if ab := AbandonOf(t.state); ab != nil && c.cfg.Abandonments != nil {
		// Recorded before the state is saved (the save deletes the
		// store's abandonment record and the expiry job): if saving fails
		// the input comes again, and the record, idempotent per
		// interview, collapses.
		if err := c.cfg.Abandonments.Abandoned(ctx, t.in.Chat, *ab, c.cfg.Now()); err != nil {
			return false, unavailable("record abandonment", err)
		}
		c.cfg.Events.Interview("abandoned")
	}
	eff, err := t.Step(ctx, dialog.Input{Kind: dialog.InExpire}, true)
	if err != nil {
		return false, err
	}
	if AbandonOf(eff.Prev) != nil {
		c.cfg.Events.Interview("expired")
	}
	return true, nil
}

// published applies KindPublished: a version of a form was published (a
// staff action outside the chat). An interview still at the language
// choice of an older version of that form — nothing answered, no consent
// given — moves to the published version; any other interview keeps the
// version it began with (its consent was given on that version's text,
// and the library keeps old versions). Nothing is said to the person.
func (t *Turn) published(ctx context.Context) error {
	s, in := t.state, t.in
	if t.loaded.Seen != SeenNone && in.Key.ID() != 0 {
		return nil // applied before (the job came again): once is enough
	}
	if s.Phase != dialog.PhaseLanguage || s.Form != in.Form || s.FormVersion >= in.FormVersion {
		return nil
	}
	f := t.snap.Forms.Get(in.Form, in.FormVersion)
	if f == nil {
		return nil // not in this turn's snapshot (yet): keep the version
	}
	next := s
	next.FormVersion = in.FormVersion
	next.Version = s.Version + 1
	blob, err := dialog.Encode(Stored(next))
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	err = t.c.cfg.Sessions.Save(ctx, in.Chat, in.Key.ID(), s.Version, next.Version, blob, nil, StageOf(next))
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("save session: %w", err)
	} else if err != nil {
		return unavailable("save session", err)
	}
	t.state, t.form = next, f
	return nil
}

// done records the turn's message ids and marks the input's replies sent.
func (t *Turn) done(ctx context.Context) {
	c := t.c
	if t.cancelReminder && !t.erased {
		if err := c.cfg.Reminders.Cancel(ctx, t.in.Chat, false); err != nil {
			c.log.Warn("reminder schedule failed", "chat", c.ChatKey(t.in.Chat), "err", err)
		}
	}
	if c.cfg.Messages != nil && !t.erased && len(t.sent) > 0 {
		if err := c.cfg.Messages.Record(ctx, t.in.Chat, t.sent); err != nil {
			c.log.Warn("record message ids failed", "chat", c.ChatKey(t.in.Chat), "err", err)
		}
	}
	// Recorded even when nothing was saved, so that a redelivered /help
	// or junk message is not answered twice.
	if t.in.Key.ID() == 0 {
		return
	}
	if err := c.cfg.Sessions.MarkSent(ctx, t.in.Chat, t.in.Key.ID(), t.lastMsg); err != nil {
		// The replies went out; a failed mark only means a redelivery
		// would show the question once more.
		c.log.Warn("mark sent failed", "chat", c.ChatKey(t.in.Chat), "err", err)
	}
}

// Erasure is what /delete erased.
type Erasure struct {
	Responses int   // responses erased (Postgres and the outbox)
	Messages  []int // the chat's message ids of the last 48 h, to delete
}

// Erase erases everything of the respondent: responses in Postgres and in
// the outbox, the interview and its abandonment record and reminder. It
// returns the chat's recent message ids for the channel to delete; after
// it, nothing more is recorded of this turn.
func (t *Turn) Erase(ctx context.Context) (Erasure, error) {
	c := t.c
	var e Erasure
	if c.cfg.Messages != nil {
		var err error
		if e.Messages, err = c.cfg.Messages.Recent(ctx, t.in.Chat); err != nil {
			return Erasure{}, unavailable("erase: recent messages", err)
		}
	}
	// The session first: with it goes a completion recorded with its save
	// and not yet written (CompletingSessions), which must not reach
	// Responses after they are erased.
	if err := c.cfg.Sessions.Delete(ctx, t.in.Chat); err != nil {
		return Erasure{}, unavailable("erase session", err)
	}
	n, err := c.cfg.Responses.Erase(ctx, t.Pseudonym())
	if err != nil {
		return Erasure{}, unavailable("erase responses", err)
	}
	e.Responses = n
	t.erased = true
	return e, nil
}

// StopReminders handles the reminder's Stop button: no more reminders for
// this interview.
func (t *Turn) StopReminders(ctx context.Context) {
	t.cancelReminder = false // refused, which a plain cancel would undo
	t.c.RefuseReminder(ctx, t.in.Chat)
	t.c.cfg.Events.Interview("reminder_stopped")
}

// ContinueFromReminder handles the reminder's Continue button: it reports
// whether the interview is still in progress (then the channel shows the
// current question with the resume greeting).
func (t *Turn) ContinueFromReminder() bool {
	if t.state.Phase != dialog.PhaseAsking {
		return false
	}
	t.c.cfg.Events.Interview("resumed_after_reminder")
	return true
}

// Reminded records that the reminder went out as message msg.
func (t *Turn) Reminded(msg int) {
	t.c.cfg.Events.Interview("reminded")
	if msg != 0 {
		t.sent = append(t.sent, msg)
	}
}

// Flagged reports whether the interview's context has flag k (CtxReminded,
// CtxResumed).
func Flagged(s dialog.State, k string) bool { return s.Context[k] == "1" }

// withFlag returns s with flag k set in a copy of its context (the map may
// be shared with the state the step began from).
func withFlag(s dialog.State, k string) dialog.State {
	ctx := make(map[string]string, len(s.Context)+1)
	for key, v := range s.Context {
		ctx[key] = v
	}
	ctx[k] = "1"
	s.Context = ctx
	return s
}

// markReminded saves the interview with CtxReminded set, before the
// reminder goes out: if the save conflicts the input comes again before
// anything was sent; a reminder sent twice is worse than a flag set on a
// reminder that then failed to go out (and is retried).
func (t *Turn) markReminded(ctx context.Context) error {
	c := t.c
	if Flagged(t.state, CtxReminded) {
		return nil
	}
	next := withFlag(t.state, CtxReminded)
	next.Version = t.state.Version + 1
	blob, err := dialog.Encode(Stored(next))
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	err = c.cfg.Sessions.Save(ctx, t.in.Chat, t.in.Key.ID(), t.state.Version, next.Version, blob, c.abandonOf(next), StageOf(next))
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("save session: %w", err)
	} else if err != nil {
		return unavailable("save session", err)
	}
	t.state = next
	return nil
}

// rearm updates the chat's reminder after a saved step that moved the
// interview from prev to next: pushed back while it runs past consent,
// cancelled when it ends.
func (t *Turn) rearm(ctx context.Context, prev, next dialog.State) {
	c := t.c
	if c.cfg.Reminders == nil || c.cfg.ReminderAfter <= 0 {
		return
	}
	var err error
	switch {
	case AbandonOf(next) != nil:
		due := c.cfg.Now().Add(c.cfg.ReminderAfter)
		if c.cfg.ReminderQuiet != nil {
			due = c.cfg.ReminderQuiet(due)
		}
		err = c.cfg.Reminders.Arm(ctx, t.in.Chat, c.langIn(t.snap, next.Lang, t.in.LangHint), due)
	case AbandonOf(prev) != nil:
		// Completed, declined or ended otherwise: nothing to remind of.
		// A person's input (a completion, a decline) cancels it once the
		// turn's replies are out (done): the round trip is not on the way
		// to the thank-you (issue 19: the completion's first reply).
		// Should the cancel never come (the turn fails after its save,
		// the replica dies), the reminder job finds the interview
		// finished and sends nothing.
		if t.in.Kind == KindChat {
			t.cancelReminder = true
			return
		}
		err = c.cfg.Reminders.Cancel(ctx, t.in.Chat, false)
	}
	if err != nil {
		// The interview goes on; at worst no reminder (or one that the
		// KindRemind input finds unwanted and drops).
		c.log.Warn("reminder schedule failed", "chat", c.ChatKey(t.in.Chat), "err", err)
	}
}

// NewResponseID returns a random response id (128 bits, hex): it says
// nothing about the respondent, so it cannot re-link a response once
// retention has dropped the pseudonym.
func NewResponseID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("interview: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// IdempotencyKey is the completion's idempotency key: the same interview
// completed again (a redelivered update) gets the same key. It is derived
// from the keyed pseudonym (so it needs the pseudonym key) and stored only
// until retention. Same derivation as pgstore.IdempotencyKey.
func IdempotencyKey(pseudonym string, r *dialog.Response) string {
	sum := sha256.Sum256([]byte("idem|" + pseudonym + "|" + r.Form + "|" + strconv.FormatInt(r.Started.Unix(), 10)))
	return hex.EncodeToString(sum[:16])
}

// Stored is what is kept of a state: all of it while the interview runs;
// once it is finished (completed, declined, ineligible) only what "already
// answered", the language, dedup and the closing shown again on a replay
// (CtxClosing) need — no answers, no navigation, no invite or operator, no
// times. The completion went to Responses already.
func Stored(s dialog.State) dialog.State {
	if s.Phase != dialog.PhaseDone {
		return s
	}
	d := dialog.State{Form: s.Form, FormVersion: s.FormVersion, Version: s.Version, Seq: s.Seq,
		Phase: s.Phase, Lang: s.Lang, Outcome: s.Outcome}
	for _, k := range []string{CtxMunicipality, CtxService, CtxClosing} {
		if v, ok := s.Context[k]; ok {
			if d.Context == nil {
				d.Context = map[string]string{}
			}
			d.Context[k] = v
		}
	}
	return d
}

// AbandonOf is the abandonment record of an interview in progress past
// consent, nil for any other state.
func AbandonOf(s dialog.State) *Abandon {
	if s.Phase != dialog.PhaseAsking || !s.Consent {
		return nil
	}
	return &Abandon{Form: s.Form, FormVersion: s.FormVersion, Context: s.Context,
		Language: s.Lang, LastQuestion: s.Reached, Started: s.Started,
		Reminded: Flagged(s, CtxReminded), Resumed: Flagged(s, CtxResumed)}
}
