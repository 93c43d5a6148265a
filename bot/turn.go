package bot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/needsbot/needsbot/dialog"
)

// step applies in to the interview, records a completion, saves the state
// (when save is set and it changed) and sends the replies.
func (t *turn) step(ctx context.Context, in dialog.Input, save bool) (Outcome, error) {
	h := t.h
	if t.form == nil {
		return Outcome{}, errors.New("no questionnaire loaded")
	}
	if t.state.Phase == dialog.PhaseNew && in.Kind != dialog.InStart && in.Kind != dialog.InSetLanguage {
		if h.cfg.DefaultContext == nil {
			// No interview and no invite: tell how to get a link.
			t.say(ctx, MsgNoInvite)
			return t.finish(ctx)
		}
		in = dialog.Input{Kind: dialog.InStart, Context: h.cfg.DefaultContext}
	}
	now := h.cfg.Now()
	next, replies := dialog.Step(t.form, t.state, in, now)
	for _, r := range replies {
		if r.Kind != dialog.ReplyComplete {
			continue
		}
		c := Completion{ID: newResponseID(), Pseudonym: h.pseudonym(t.ev.user), Response: *r.Response}
		c.Idem = idempotencyKey(c.Pseudonym, r.Response)
		// Recorded before the state is saved: if saving fails the update
		// comes again and the completion, idempotent by Idem, collapses.
		if err := h.cfg.Responses.Complete(ctx, c); err != nil {
			return Outcome{}, fmt.Errorf("record completion: %w", err)
		}
		h.cfg.Events.Interview("completed")
	}
	if save && next.Version != t.state.Version {
		blob, err := dialog.Encode(stored(next))
		if err != nil {
			return Outcome{}, fmt.Errorf("encode session: %w", err)
		}
		if err := h.cfg.Sessions.Save(ctx, t.ev.chat, t.ev.update, t.state.Version, next.Version, blob, abandonOf(next)); err != nil {
			return Outcome{}, fmt.Errorf("save session: %w", err)
		}
		t.saved = true
		if next.Consent && !t.state.Consent {
			h.cfg.Events.Interview("started")
		}
		if next.Outcome == dialog.OutcomeDeclined && t.state.Outcome != dialog.OutcomeDeclined {
			h.cfg.Events.Interview("declined")
		}
	}
	if next.Lang != "" {
		t.lang = next.Lang
	}
	t.state = next
	if err := t.send(ctx, replies); err != nil {
		return Outcome{}, err
	}
	return t.finish(ctx)
}

// newResponseID returns a random response id (128 bits, hex): it says
// nothing about the respondent, so it cannot re-link a response once
// retention has dropped the pseudonym.
func newResponseID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("bot: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// idempotencyKey is the completion's idempotency key: the same interview
// completed again (a redelivered update) gets the same key. It is derived
// from the keyed pseudonym (so it needs the pseudonym key) and stored only
// until retention. Same derivation as pgstore.IdempotencyKey.
func idempotencyKey(pseudonym string, r *dialog.Response) string {
	sum := sha256.Sum256([]byte("idem|" + pseudonym + "|" + r.Form + "|" + strconv.FormatInt(r.Started.Unix(), 10)))
	return hex.EncodeToString(sum[:16])
}

// stored is what is kept of a state: all of it while the interview runs;
// once it is finished (completed, declined, ineligible) only what "already
// answered", the language and dedup need — no answers, no navigation, no
// invite or operator, no times. The completion went to Responses already.
func stored(s dialog.State) dialog.State {
	if s.Phase != dialog.PhaseDone {
		return s
	}
	d := dialog.State{Form: s.Form, FormVersion: s.FormVersion, Version: s.Version, Seq: s.Seq,
		Phase: s.Phase, Lang: s.Lang, Outcome: s.Outcome}
	for _, k := range []string{CtxMunicipality, CtxService} {
		if v, ok := s.Context[k]; ok {
			if d.Context == nil {
				d.Context = map[string]string{}
			}
			d.Context[k] = v
		}
	}
	return d
}

func abandonOf(s dialog.State) *Abandon {
	if s.Phase != dialog.PhaseAsking || !s.Consent {
		return nil
	}
	return &Abandon{Form: s.Form, FormVersion: s.FormVersion, Context: s.Context,
		Language: s.Lang, LastQuestion: s.Reached, Started: s.Started}
}

// send renders and sends the engine's replies: the tapped question's
// message is settled by an edit, keyboards of multi-choice questions are
// edited in place, new questions and notes are sent.
func (t *turn) send(ctx context.Context, replies []dialog.Reply) error {
	h, ev := t.h, t.ev
	for _, r := range replies {
		switch r.Kind {
		case dialog.ReplyNotice:
			text := h.r.Plain(t.lang, r.Msg, r.Args)
			if ev.query != "" && t.notice == "" {
				t.notice = text
				continue
			}
			if err := t.sendMsg(ctx, Message{Text: h.r.Text(t.lang, r.Msg, r.Args)}, false); err != nil {
				return err
			}
		case dialog.ReplyAnswered:
			switch {
			case ev.query != "" && ev.msgID != 0 && r.Pos == t.cbPos:
				t.edits = append(t.edits, edit{msg: ev.msgID, m: h.r.Answered(t.lang, t.form, r)})
			case ev.query == "" && t.loaded.LastMsg != 0:
				t.edits = append(t.edits, edit{msg: t.loaded.LastMsg, m: h.r.Answered(t.lang, t.form, r)})
			}
		case dialog.ReplyKeyboard:
			m, err := h.r.Ask(t.lang, t.form, r)
			if err != nil {
				return err
			}
			if ev.query != "" && ev.msgID != 0 && r.Pos == t.cbPos {
				t.edits = append(t.edits, edit{msg: ev.msgID, m: m})
				t.lastMsg = ev.msgID
				continue
			}
			if err := t.sendMsg(ctx, m, true); err != nil {
				return err
			}
		case dialog.ReplyAsk:
			m, err := h.r.Ask(t.lang, t.form, r)
			if err != nil {
				return err
			}
			if err := t.sendMsg(ctx, m, true); err != nil {
				return err
			}
		case dialog.ReplySay:
			text := h.r.Text(t.lang, r.Msg, r.Args)
			if r.Hint != "" {
				text += "\n<i>" + h.r.Text(t.lang, r.Hint, nil) + "</i>"
			}
			if err := t.sendMsg(ctx, Message{Text: text}, false); err != nil {
				return err
			}
		case dialog.ReplyAskLanguage:
			if err := t.sendMsg(ctx, h.languageMenu(ctx, t.lang, ev.langHint, t.state.Context), false); err != nil {
				return err
			}
		}
	}
	return t.flushEdits(ctx)
}

// sendMsg answers the callback and settles edited messages before the
// first new message, so the chat reads in order.
func (t *turn) sendMsg(ctx context.Context, m Message, question bool) error {
	if err := t.answerNow(ctx); err != nil {
		return err
	}
	if err := t.flushEdits(ctx); err != nil {
		return err
	}
	id, err := t.h.cfg.Sender.Send(ctx, t.ev.chat, m)
	if err != nil {
		if errors.Is(err, ErrBlocked) {
			t.h.log.Info("respondent blocked the bot", "chat", t.h.chatKey(t.ev.chat))
			return nil
		}
		if errors.Is(err, ErrTelegram) {
			t.h.log.Error("message refused by Telegram", "chat", t.h.chatKey(t.ev.chat), "err", err)
			return nil
		}
		return err
	}
	t.sent = append(t.sent, id) // for /delete
	if question {
		t.lastMsg = id
	}
	return nil
}

func (t *turn) flushEdits(ctx context.Context) error {
	edits := t.edits
	t.edits = nil
	for _, e := range edits {
		if err := t.answerNow(ctx); err != nil {
			return err
		}
		if err := ignoreTelegram(t.h.cfg.Sender.Edit(ctx, t.ev.chat, e.msg, e.m)); err != nil {
			return err
		}
	}
	return nil
}

// answerNow answers the callback query through the API unless it is
// deferred to the webhook response; a deferred answer only travels when
// nothing else is sent before it would matter.
func (t *turn) answerNow(ctx context.Context) error {
	if t.ev.query == "" || t.answer != nil || t.defer_ {
		return nil
	}
	t.answer = &CallbackAnswer{QueryID: t.ev.query, Text: t.notice}
	return ignoreTelegram(t.h.cfg.Sender.Answer(ctx, t.ev.query, t.notice))
}

// finish answers the callback (now, or in the webhook response) and
// records the replies as sent.
func (t *turn) finish(ctx context.Context) (Outcome, error) {
	var out Outcome
	if err := t.flushEdits(ctx); err != nil {
		return out, err
	}
	if t.ev.query != "" && t.answer == nil {
		if t.defer_ {
			out.Answer = &CallbackAnswer{QueryID: t.ev.query, Text: t.notice}
		} else if err := ignoreTelegram(t.h.cfg.Sender.Answer(ctx, t.ev.query, t.notice)); err != nil {
			return out, err
		}
	}
	// Recorded even when nothing was saved, so that a redelivered /help
	// or junk message is not answered twice.
	if t.loaded.Seen != SeenSent {
		if err := t.h.cfg.Sessions.MarkSent(ctx, t.ev.chat, t.ev.update, t.lastMsg); err != nil {
			// The replies went out; a failed mark only means a redelivery
			// would show the question once more.
			t.h.log.Warn("mark sent failed", "chat", t.h.chatKey(t.ev.chat), "err", err)
		}
	}
	return out, nil
}
