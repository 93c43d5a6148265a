package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// The tap that completes the interview is saved, but its reply (the edit
// of the card into the closing) fails past every retry of the sender and
// the intake: the update is kept and tried again, found applied, and
// replayed. The replay cannot show the closing as it was (a completed
// interview's answers leave the session), but it must not leave the last
// question's keys live on a finished interview. Before, the card kept
// "Yes / No" and each tap on it said "you have already answered" (the
// chaos walker's "not accepted" three times).
func TestCompletionReplayLeavesNoKeys(t *testing.T) {
	r, _ := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{ChatRate: 1000, ChatBurst: 100, MaxRetries: 1})
	useNoteCardForm(t, r)
	u := r.srv.User(791, telegramtest.LanguageCode("en"))
	u.Send("/start")
	if _, err := r.intake.Submit(context.Background(), textUpdate(1, u.ID(), "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	for i, label := range []string{"English", "⬜ Rent", "✓ Done"} {
		if err := tapLast(t, r, u, int64(2+i), label); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(lastCard(u).Text, "Anything else?") {
		t.Fatalf("not at the last question:\n%s", u.Transcript())
	}
	r.srv.FailNext("editMessageText", 502, "Bad Gateway", 8)
	if err := tapLast(t, r, u, 5, "Yes"); err != nil {
		t.Fatalf("the last tap was not handled in the end: %v\n%s", err, u.Transcript())
	}
	for _, m := range u.Messages() {
		if m.FromBot && len(m.Buttons) > 0 {
			t.Fatalf("message %d keeps its keys after the interview ended:\n%s", m.ID, u.Transcript())
		}
	}
	if last := lastCard(u); !strings.Contains(last.Text, "already answered") {
		t.Fatalf("the replay said nothing of the interview's end:\n%s", u.Transcript())
	}
}
