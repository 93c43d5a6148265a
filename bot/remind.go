package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// Reminders (issue 16): one reminder per interview in progress, after
// Config.ReminderAfter idle, outside the quiet hours, with Continue and
// Stop buttons. Each saved turn of an interview past consent re-arms it
// (pushes it back); leaving that state (completed, declined) cancels it;
// Stop and a blocked bot refuse it for the rest of the interview; /delete
// erases it with the rest (Sessions.Delete). The schedule package claims
// due reminders and hands them to Intake.Remind, which runs Handler.Remind
// on the chat's worker, in order with the chat's own updates.

// Reminders keeps the reminder schedule (redisstore).
type Reminders interface {
	// Arm (re)schedules the chat's reminder at due, unless this
	// interview's reminder was already sent or refused.
	Arm(ctx context.Context, chat int64, lang string, due time.Time) error
	// Cancel drops the pending reminder; refuse keeps any from being armed
	// again for this interview.
	Cancel(ctx context.Context, chat int64, refuse bool) error
}

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

// rearm updates the chat's reminder after a saved turn that moved the
// interview from prev to next.
func (t *turn) rearm(ctx context.Context, prev, next dialog.State) {
	h := t.h
	if h.cfg.Reminders == nil || h.cfg.ReminderAfter <= 0 {
		return
	}
	var err error
	switch {
	case abandonOf(next) != nil:
		due := h.cfg.Now().Add(h.cfg.ReminderAfter)
		if h.cfg.ReminderQuiet != nil {
			due = h.cfg.ReminderQuiet(due)
		}
		err = h.cfg.Reminders.Arm(ctx, t.ev.chat, h.lang(next.Lang, t.ev.langHint), due)
	case abandonOf(prev) != nil:
		// Completed, declined or ended otherwise: nothing to remind of.
		err = h.cfg.Reminders.Cancel(ctx, t.ev.chat, false)
	}
	if err != nil {
		// The interview goes on; at worst no reminder (or one that
		// Remind finds unwanted and drops).
		h.log.Warn("reminder schedule failed", "chat", h.chatKey(t.ev.chat), "err", err)
	}
}

// refuseReminder records that the chat wants no reminder (Stop, blocked).
func (h *Handler) refuseReminder(ctx context.Context, chat int64) {
	if h.cfg.Reminders == nil {
		return
	}
	if err := h.cfg.Reminders.Cancel(ctx, chat, true); err != nil {
		h.log.Warn("reminder cancel failed", "chat", h.chatKey(chat), "err", err)
	}
}

// Remind sends the chat's reminder if its interview is still in progress
// (past consent, not finished); otherwise it does nothing. It runs on the
// chat's intake worker (Intake.Remind). An error means try again later.
func (h *Handler) Remind(ctx context.Context, chat int64) error {
	loaded, err := h.cfg.Sessions.Load(ctx, chat, 0)
	if err != nil {
		return fmt.Errorf("remind: load session: %w", err)
	}
	if loaded.Blob == nil {
		return nil
	}
	st, err := dialog.Decode(loaded.Blob)
	if err != nil || abandonOf(st) == nil {
		return nil
	}
	if h.cfg.ReminderPace != nil {
		// Reminders take a small share of the Bot API budget, so live
		// replies keep theirs.
		if err := h.cfg.ReminderPace.Wait(ctx); err != nil {
			return err
		}
	}
	lang := h.lang(st.Lang, "")
	kb := [][]Key{{
		{Text: h.r.Plain(lang, MsgReminderContinue, nil), Data: remindData(remindGo)},
		{Text: h.r.Plain(lang, MsgReminderStop, nil), Data: remindData(remindStop)},
	}}
	id, err := h.cfg.Sender.Send(ctx, chat, Message{Text: h.r.Text(lang, MsgReminder, nil), Keyboard: kb})
	switch {
	case err == nil:
	case ignoreTelegram(err) == nil:
		// Blocked or refused: never again for this interview.
		h.refuseReminder(ctx, chat)
		return nil
	default:
		return fmt.Errorf("remind: %w", err)
	}
	h.cfg.Events.Interview("reminded")
	if h.cfg.Messages != nil && id != 0 {
		if err := h.cfg.Messages.Record(ctx, chat, []int{id}); err != nil {
			h.log.Warn("record message ids failed", "chat", h.chatKey(chat), "err", err)
		}
	}
	return nil
}

func remindData(opt string) string {
	d, _ := Callback{Kind: CbRemind, Option: opt}.Encode()
	return d
}

// reminderButton handles Continue (show the current question, with the
// resume greeting) and Stop (no more reminders).
func (t *turn) reminderButton(ctx context.Context, opt string) (Outcome, error) {
	h, ev := t.h, t.ev
	if ev.msgID != 0 {
		t.edits = append(t.edits, edit{msg: ev.msgID, kbOnly: true})
	}
	if opt == remindStop {
		h.refuseReminder(ctx, ev.chat)
		h.cfg.Events.Interview("reminder_stopped")
		t.say(ctx, MsgReminderStopped)
		return t.finish(ctx)
	}
	if t.state.Phase != dialog.PhaseAsking {
		// Finished meanwhile: nothing to continue.
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	}
	h.cfg.Events.Interview("resumed_after_reminder")
	t.resumeNote()
	return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
}

// Remind runs Handler.Remind for chat on the chat's worker, in order with
// its updates, and waits for it.
func (in *Intake) Remind(ctx context.Context, chat int64) error {
	j, err := in.enqueueJob(ctx, &job{remind: chat, done: make(chan result, 1)}, chat)
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
	return result{err: in.h.Remind(ctx, j.remind)}
}

// MsgResumeRecap is the one-line recap shown on resuming: answers given
// and the current section. Args: N, Section.
const MsgResumeRecap = "b.resume.recap"

// resumeNote puts the resume greeting and, when the current question has a
// named section, the recap ("Answers given so far: 12. Next: Housing.")
// above the question card.
func (t *turn) resumeNote() {
	t.note(MsgResume, false)
	s, f := t.state, t.form
	if f == nil || s.Phase != dialog.PhaseAsking || s.Pos < 0 || s.Pos >= len(f.Questions) {
		return
	}
	q := f.Questions[s.Pos]
	if len(q.Groups) == 0 || q.Groups[0].Label == "" || !t.h.r.cat.Has(locales.Source, q.Groups[0].Label) {
		return
	}
	n := 0
	for _, fq := range f.Questions {
		if v, ok := s.Answers[fq.Name]; ok && v != "" && fq.Type.Shown() && fq.Type != dialog.TypeNote && fq.Name != f.Consent {
			n++
		}
	}
	t.lead = append(t.lead, t.h.r.Text(t.lang, MsgResumeRecap, map[string]any{
		"N": n, "Section": t.h.r.Plain(t.lang, q.Groups[0].Label, nil)}))
}
