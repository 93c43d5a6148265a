package bot

import (
	"context"
	"fmt"
)

// delete erases everything of the respondent (after the confirmation):
// the core erases the responses in Postgres and in the outbox, the
// interview and its abandonment record; here the chat's messages of the
// last 48 hours are deleted, and the person is told what was deleted and
// what could not be.
func (t *turn) delete(ctx context.Context, yes bool) (Outcome, error) {
	h, ev := t.h, t.ev
	if !yes {
		if ev.msgID != 0 {
			t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Text: t.r.Text(t.lang, MsgDeleteConfirm, nil)}})
		}
		t.say(ctx, MsgDeleteCancelled)
		return t.askBelow(ctx)
	}
	e, err := t.it.Erase(ctx)
	if err != nil {
		return Outcome{}, err
	}
	msgs := e.Messages
	if ev.msgID != 0 {
		msgs = append(msgs, ev.msgID) // the confirmation itself
	}
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
	h.log.Info("respondent erased", "chat", h.chatKey(ev.chat), "responses", e.Responses, "messages", deleted)
	t.say(ctx, MsgDeleteDone)
	if _, err := h.cfg.Sender.Send(ctx, ev.chat, Message{Text: t.r.Text(t.lang, MsgDeleteChat, map[string]any{"N": deleted})}); err != nil {
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
