package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// The step that completes the interview is saved, but its reply (the edit
// of the tapped card into the closing, or the closing sent below a typed
// answer) fails past every retry of the sender: the update is kept and
// tried again, found applied, and replayed. The replay shows the closing
// note that step showed — the one the last answer made relevant, which
// the answers that left with the save could no longer tell — on the card
// the step would have used, and leaves no keys on a finished interview.
// Before: "You have already answered. Thank you!" in a new message below
// the last question's card (session 8), which kept "Yes / No" live before
// session 9. In a right-to-left language the same.
func TestCompletionReplayShowsTheClosing(t *testing.T) {
	for _, tt := range []struct {
		name, lang, pick, tick, done, yes string
		typed                             bool   // type the last answer (else tap it)
		closing, other, question          string // the closing note that applies, the one that does not, the last question
	}{
		{"en tap", "en", "English", "⬜ Rent", "✓ Done", "Yes", false,
			"The help desk will contact you about it.", "Your answers are saved.", "Anything else?"},
		{"ar tap", "ar", "العربية", "⬜ الإيجار", "", "نعم", false,
			"سيتواصل معك مكتب المساعدة بشأن ذلك.", "تم حفظ إجاباتك.", "هل هناك شيء آخر؟"},
		{"en typed", "en", "English", "⬜ Rent", "✓ Done", "Yes", true,
			"The help desk will contact you about it.", "Your answers are saved.", "Anything else?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{ChatRate: 1000, ChatBurst: 100, MaxRetries: 1})
			useNoteCardForm(t, r)
			u := r.srv.User(791, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			if err := tapLast(t, r, u, 3, tt.tick); err != nil {
				t.Fatal(err)
			}
			done := tt.done
			if done == "" {
				labels := lastCard(u).Labels()
				row := labels[len(labels)-1]
				done = row[len(row)-1] // Done: the last key
			}
			if err := tapLast(t, r, u, 4, done); err != nil {
				t.Fatal(err)
			}
			card := lastCard(u)
			if !strings.Contains(card.Text, tt.question) {
				t.Fatalf("not at the last question:\n%s", u.Transcript())
			}
			// One attempt's calls fail (MaxRetries 1: two), after the save.
			if tt.typed {
				r.srv.FailNext("sendMessage", 502, "Bad Gateway", 2)
				u.Send(tt.yes)
				if _, err := r.intake.Submit(context.Background(), textUpdate(5, u.ID(), tt.yes), false, 3); err != nil {
					t.Fatalf("the last answer was not handled in the end: %v\n%s", err, u.Transcript())
				}
			} else {
				r.srv.FailNext("editMessageText", 502, "Bad Gateway", 2)
				if err := tapLast(t, r, u, 5, tt.yes); err != nil {
					t.Fatalf("the last tap was not handled in the end: %v\n%s", err, u.Transcript())
				}
			}
			for _, m := range u.Messages() {
				if m.FromBot && len(m.Buttons) > 0 {
					t.Fatalf("message %d keeps its keys after the interview ended:\n%s", m.ID, u.Transcript())
				}
				if m.FromBot && (strings.Contains(m.Text, "already answered") || strings.Contains(m.Text, tt.other)) {
					t.Fatalf("message %d is not the closing of this interview:\n%s", m.ID, u.Transcript())
				}
			}
			last := lastCard(u)
			if !strings.Contains(last.Text, tt.closing) {
				t.Fatalf("the replay did not show the closing note:\n%s", u.Transcript())
			}
			if tt.typed {
				// A typed answer keeps the question's card as history
				// and the closing comes below, as the step would have.
				if last.ID == card.ID || !strings.Contains(msgOf(u, card.ID).Text, tt.question) {
					t.Fatalf("the question's card %d was not kept as history, the closing below:\n%s", card.ID, u.Transcript())
				}
			} else if last.ID != card.ID {
				// A tap turns the tapped card into the closing.
				t.Fatalf("the closing is message %d, not the tapped card %d:\n%s", last.ID, card.ID, u.Transcript())
			}
		})
	}
}
