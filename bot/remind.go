package bot

import (
	"context"
	"fmt"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
)

// Reminders (issue 16): one reminder per interview in progress, after an
// idle time, outside the quiet hours, with Continue and Stop buttons. The
// core (interview) arms, pushes back and cancels it on each saved turn and
// decides whether a due reminder is still wanted; the schedule package
// claims due reminders and hands them to Intake.Remind, which runs
// Handler.Remind on the chat's worker, in order with the chat's own
// updates, through the core's one entry (Core.Apply, KindRemind). Here the
// reminder is rendered and sent, and its buttons are interpreted.

// Reminder messages (every language).
const (
	// MsgReminder invites back someone who stopped halfway.
	MsgReminder = "b.reminder"
	// MsgReminderContinue and MsgReminderStop are its buttons.
	MsgReminderContinue = "b.reminder.continue"
	MsgReminderStop     = "b.reminder.stop"
	// MsgReminderStopped confirms Stop: no more reminders.
	MsgReminderStopped = "b.reminder.stopped"
)

func remindMessageIDs() []string {
	return []string{MsgReminder, MsgReminderContinue, MsgReminderStop, MsgReminderStopped, MsgResumeRecap}
}

// CbRemind is the reminder's buttons (Option = remindGo / remindStop).
const (
	remindGo   = "go"
	remindStop = "stop"
)

// Remind sends the chat's reminder if its interview is still in progress
// (past consent, not finished); otherwise it does nothing. It runs on the
// chat's intake worker (Intake.Remind). An error means try again later.
func (h *Handler) Remind(ctx context.Context, chat int64) error {
	return h.Scheduled(ctx, interview.Input{Kind: interview.KindRemind, Chat: chat})
}

// Scheduled applies an input that is not a Telegram update (a reminder,
// an expiry) through the core, and sends what it decided. An error means
// try again later.
func (h *Handler) Scheduled(ctx context.Context, in interview.Input) error {
	p := &present{h: h, ev: event{chat: in.Chat}}
	return h.cfg.Core.Apply(ctx, in, p)
}

// remind sends the reminder, when the core found it due and wanted.
func (t *turn) remind(ctx context.Context) error {
	h, chat, lang := t.h, t.ev.chat, t.lang
	if h.cfg.ReminderPace != nil {
		// Reminders take a small share of the Bot API budget, so live
		// replies keep theirs.
		if err := h.cfg.ReminderPace.Wait(ctx); err != nil {
			return err
		}
	}
	kb := [][]Key{{
		{Text: t.r.Plain(lang, MsgReminderContinue, nil), Data: remindData(remindGo)},
		{Text: t.r.Plain(lang, MsgReminderStop, nil), Data: remindData(remindStop)},
	}}
	id, err := h.cfg.Sender.Send(ctx, chat, Message{Text: t.r.Text(lang, MsgReminder, nil), Keyboard: kb})
	switch {
	case err == nil:
	case ignoreTelegram(err) == nil:
		// Blocked or refused: never again for this interview.
		h.cfg.Core.RefuseReminder(ctx, chat)
		return nil
	default:
		return fmt.Errorf("remind: %w", err)
	}
	t.it.Reminded(id)
	return nil
}

func remindData(opt string) string {
	d, _ := Callback{Kind: CbRemind, Option: opt}.Encode()
	return d
}

// reminderButton handles Continue (show the current question, with the
// resume greeting) and Stop (no more reminders).
func (t *turn) reminderButton(ctx context.Context, opt string) (Outcome, error) {
	ev := t.ev
	if ev.msgID != 0 {
		t.edits = append(t.edits, edit{msg: ev.msgID, kbOnly: true})
	}
	if opt == remindStop {
		t.it.StopReminders(ctx)
		t.say(ctx, MsgReminderStopped)
		return t.finish(ctx)
	}
	if !t.it.ContinueFromReminder() {
		// Finished meanwhile: nothing to continue.
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	}
	t.resumeNote()
	return t.step(ctx, dialog.Input{Kind: dialog.InRepeat, Resume: true}, false)
}

// Remind runs Handler.Remind for chat on the chat's worker, in order with
// the chat's own updates, and waits for it. It has no idempotency key:
// Scheduled with RemindKey is what the scheduler uses.
func (in *Intake) Remind(ctx context.Context, chat int64) error {
	return in.Scheduled(ctx, interview.Input{Kind: interview.KindRemind, Chat: chat})
}

// Scheduled runs Handler.Scheduled for a scheduled input (a reminder, an
// expiry, a staff action outside the chat) on its chat's worker, in order
// with the chat's own updates, and waits for it. An error means try again
// later.
func (in *Intake) Scheduled(ctx context.Context, si interview.Input) error {
	j, err := in.enqueueJob(ctx, &job{sched: si, done: make(chan result, 1)}, si.Chat)
	if err != nil {
		return err
	}
	return (<-j.done).err
}

func (in *Intake) runReminder(ctx context.Context, j *job) (res result) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("panic sending reminder", "panic", fmt.Sprint(p))
			res = result{} // handled: it would panic again
		}
	}()
	return result{err: in.h.Scheduled(ctx, j.sched)}
}

// MsgResumeRecap is the one-line recap shown on resuming: answers given
// and the current section. Args: N, Section.
const MsgResumeRecap = "b.resume.recap"

// resumeNote puts the resume greeting and, when the current question has a
// named section, the recap ("Answers given so far: 12. Next: Housing.")
// above the question card.
func (t *turn) resumeNote() {
	if t.recapped {
		return
	}
	t.recapped = true
	t.note(MsgResume, false)
	s, f := t.state, t.form
	if f == nil || s.Phase != dialog.PhaseAsking || s.Pos < 0 || s.Pos >= len(f.Questions) {
		return
	}
	q := f.Questions[s.Pos]
	if len(q.Groups) == 0 || q.Groups[0].Label == "" || !t.r.cat.Has(locales.Source, q.Groups[0].Label) {
		return
	}
	n := 0
	for _, fq := range f.Questions {
		if v, ok := s.Answers[fq.Name]; ok && v != "" && fq.Type.Shown() && fq.Type != dialog.TypeNote && fq.Name != f.Consent {
			n++
		}
	}
	t.lead = append(t.lead, t.r.Text(t.lang, MsgResumeRecap, map[string]any{
		"N": n, "Section": t.r.Plain(t.lang, q.Groups[0].Label, nil)}))
}
