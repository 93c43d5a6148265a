package bot

import (
	"context"
	"fmt"
)

// MessageLog remembers the ids of the messages of a respondent's chat —
// the bot's and, in a private chat, the person's — for 48 hours, so that
// /delete can delete them while Telegram still allows it. Only ids and
// times are kept, never text.
type MessageLog interface {
	Record(ctx context.Context, chat int64, ids []int) error
	// Recent returns the ids recorded in the last 48 hours.
	Recent(ctx context.Context, chat int64) ([]int, error)
}

// recordMessages records the messages of this turn: the person's own
// message and what the bot sent. After an erasure nothing is recorded.
func (t *turn) recordMessages(ctx context.Context) {
	log := t.h.cfg.Messages
	if log == nil || t.erased {
		return
	}
	ids := t.sent
	if t.ev.inMsg != 0 {
		ids = append(ids, t.ev.inMsg)
	}
	if len(ids) == 0 {
		return
	}
	if err := log.Record(ctx, t.ev.chat, ids); err != nil {
		t.h.log.Warn("record message ids failed", "chat", t.h.chatKey(t.ev.chat), "err", err)
	}
}

// delete erases everything of the respondent (after the confirmation):
// responses in Postgres and in the outbox, the interview and its
// abandonment record in Redis, and the chat's messages of the last 48
// hours; then it says what was deleted and what could not be.
func (t *turn) delete(ctx context.Context, yes bool) (Outcome, error) {
	h, ev := t.h, t.ev
	if !yes {
		if ev.msgID != 0 {
			t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Text: h.r.Text(t.lang, MsgDeleteConfirm, nil)}})
		}
		t.say(ctx, MsgDeleteCancelled)
		return t.finish(ctx)
	}
	var msgs []int
	if h.cfg.Messages != nil {
		var err error
		if msgs, err = h.cfg.Messages.Recent(ctx, ev.chat); err != nil {
			return Outcome{}, fmt.Errorf("erase: recent messages: %w", err)
		}
	}
	if ev.msgID != 0 {
		msgs = append(msgs, ev.msgID) // the confirmation itself
	}
	n, err := h.cfg.Responses.Erase(ctx, h.pseudonym(ev.user))
	if err != nil {
		return Outcome{}, fmt.Errorf("erase responses: %w", err)
	}
	if err := h.cfg.Sessions.Delete(ctx, ev.chat); err != nil {
		return Outcome{}, fmt.Errorf("erase session: %w", err)
	}
	t.erased = true
	deleted := 0
	if len(msgs) > 0 {
		if err := t.answerNow(ctx); err != nil {
			return Outcome{}, err
		}
		if err := ignoreTelegram(h.cfg.Sender.DeleteMessages(ctx, ev.chat, dedupInts(msgs))); err != nil {
			return Outcome{}, fmt.Errorf("erase messages: %w", err)
		}
		deleted = len(dedupInts(msgs))
	}
	h.log.Info("respondent erased", "chat", h.chatKey(ev.chat), "responses", n, "messages", deleted)
	t.say(ctx, MsgDeleteDone)
	if _, err := h.cfg.Sender.Send(ctx, ev.chat, Message{Text: h.r.Text(t.lang, MsgDeleteChat, map[string]any{"N": deleted})}); err != nil {
		h.log.Warn("send failed", "chat", h.chatKey(ev.chat), "msg", MsgDeleteChat, "err", err)
	}
	return t.finish(ctx)
}

func dedupInts(xs []int) []int {
	seen := make(map[int]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if x != 0 && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
