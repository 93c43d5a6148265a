package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
)

// An expiry is a scheduled input like a reminder: through the core's one
// entry dialog.InExpire is applied (the interview reset, the language
// kept), the person is told in their language and the old card loses its
// keyboard; the same expiry delivered again changes and sends nothing.
func TestExpiryIsDeliveredAndHandled(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const chat = 970
	u := r.srv.User(chat)
	u.Send("hi")
	submit := func(upd *Update) {
		t.Helper()
		if _, err := r.intake.Submit(ctx, upd, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	submit(textUpdate(1, chat, "/start"))
	for id := int64(2); id < 5 && u.Last().Buttons != nil; id++ {
		card := u.Last()
		submit(callbackUpdate(id, chat, card.ID, tapData(t, card, func(cb Callback) bool {
			return (cb.Kind == CbChoose && cb.Option == "yes") || (cb.Kind == CbLanguage && cb.Option == "en")
		})))
		if st := r.state(t, chat); st.Consent {
			break
		}
	}
	before := r.state(t, chat)
	if !before.Consent || before.Phase != dialog.PhaseAsking {
		t.Fatalf("setup: not past consent: %+v", before)
	}
	card := u.Last()
	n := len(u.Messages())

	in := interview.Input{Kind: interview.KindExpire, Key: interview.ExpireKey(chat, before.Version), Chat: chat}
	if err := r.handler.Scheduled(ctx, in); err != nil {
		t.Fatal(err)
	}
	after := r.state(t, chat)
	if after.Phase != dialog.PhaseNew || after.Lang != "en" || len(after.Answers) != 0 {
		t.Fatalf("state after expiry: %+v", after)
	}
	msgs := u.Messages()
	if len(msgs) != n+1 || !strings.Contains(msgs[len(msgs)-1].Text, "expired") {
		t.Fatalf("expiry notice: %d new messages, last %q", len(msgs)-n, msgs[len(msgs)-1].Text)
	}
	for _, m := range msgs {
		if m.ID == card.ID && len(m.Buttons) != 0 {
			t.Errorf("the expired card kept its keyboard: %+v", m.Buttons)
		}
	}
	if err := r.handler.Scheduled(ctx, in); err != nil {
		t.Fatal(err)
	}
	if len(u.Messages()) != n+1 || r.state(t, chat).Version != after.Version {
		t.Errorf("the same expiry applied twice: %q", u.Last().Text)
	}
}

// state decodes the chat's stored interview.
func (r *rig) state(t *testing.T, chat int64) dialog.State {
	t.Helper()
	r.sessions.mu.Lock()
	l := r.sessions.states[chat]
	r.sessions.mu.Unlock()
	if l.Blob == nil {
		return dialog.State{}
	}
	s, err := dialog.Decode(l.Blob)
	if err != nil {
		t.Fatal(err)
	}
	s.Version = l.Version
	return s
}
