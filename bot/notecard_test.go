package bot

import (
	"maps"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/locales"
)

// newNoteCardRig is newRig answering testdata/notecard's form: a section
// intro note on the card of a question that can refuse a tap.
func newNoteCardRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	useNoteCardForm(t, r)
	return r
}

// useNoteCardForm makes r answer testdata/notecard's form.
func useNoteCardForm(t *testing.T, r *rig) {
	t.Helper()
	const dir = "testdata/notecard"
	lib, err := forms.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.NewWithForms(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.core.Forms, r.core.Catalog, r.core.DefaultForm = lib, cat, "sezioni"
	r.handler.cfg.Catalog = cat
	r.handler.cfg.Library = formlib.Fixed(lib, cat)
	r.rewire()
}

// A refused tap (Done with nothing ticked at a required question) asks
// again by editing the tapped card in place. When that card showed notes
// above its question (a section's intro), the edit keeps them: the error
// first, then the notes, then the question — in one edit, no new message.
// Before, the edit replaced the card with the error and the question, and
// the intro was gone from the chat. In a right-to-left language the same.
func TestRefusedTapKeepsTheNotesOnTheCard(t *testing.T) {
	for _, tt := range []struct {
		lang, pick, done, tick, intro, question, next string
	}{
		{"en", "English", "✓ Done", "⬜ Rent", "The next questions are about your home.", "What do you need help with?", "Anything else?"},
		{"ar", "العربية", "", "⬜ الإيجار", "الأسئلة التالية عن منزلك.", "بماذا تحتاج المساعدة؟", "هل هناك شيء آخر؟"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newNoteCardRig(t)
			u := r.srv.User(781, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			card := lastCard(u)
			if !strings.Contains(card.Text, tt.intro) || !strings.Contains(card.Text, tt.question) {
				t.Fatalf("no card with the intro and the question:\n%s", u.Transcript())
			}
			done := tt.done
			if done == "" {
				labels := card.Labels()
				row := labels[len(labels)-1]
				done = row[len(row)-1] // Done: the last key
			}
			nmsg := len(u.Messages())
			for i := range 2 { // twice: a second refusal changes nothing
				before := maps.Clone(r.srv.Calls())
				if err := tapLast(t, r, u, int64(3+i), done); err != nil {
					t.Fatal(err)
				}
				if got := callsSince(r, before); got["sendMessage"] != 0 || got["editMessageText"] != 1 {
					t.Errorf("refusal %d made %v, want one editMessageText and no new message:\n%s", i+1, got, u.Transcript())
				}
				if n := len(u.Messages()); n != nmsg {
					t.Errorf("%d messages after refusal %d, want %d:\n%s", n, i+1, nmsg, u.Transcript())
				}
				c := lastCard(u)
				warn, intro, q := strings.Index(c.Text, "⚠️"), strings.Index(c.Text, tt.intro), strings.Index(c.Text, tt.question)
				if c.ID != card.ID || !(warn >= 0 && warn < intro && intro < q) || len(c.Buttons) == 0 {
					t.Fatalf("refusal %d: card %d is not the error, the intro and the question, in that order, with its keys:\n%s", i+1, card.ID, u.Transcript())
				}
			}
			// A tick changes the keyboard only: the card keeps its text.
			text := lastCard(u).Text
			if err := tapLast(t, r, u, 5, tt.tick); err != nil {
				t.Fatal(err)
			}
			if c := lastCard(u); c.Text != text {
				t.Errorf("a tick changed the card's text:\n%s", u.Transcript())
			}
			if err := tapLast(t, r, u, 6, done); err != nil {
				t.Fatal(err)
			}
			if c := lastCard(u); c.ID != card.ID || !strings.Contains(c.Text, tt.next) || strings.Contains(c.Text, "⚠️") {
				t.Errorf("Done after a tick did not edit the card into the next question:\n%s", u.Transcript())
			}
		})
	}
}
