package bot

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// A question card shows the answer given before it ("✓ 25 to 34") above
// the question. Asked again — below a command's reply, after back, in a new
// language — the card keeps that line: the card below /help is the card it
// replaces, and back returns to the card as it was first shown. Before:
// every re-asked card lost the line (only a step forward wrote it).
func TestReaskedCardKeepsItsAnswerLine(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(787, telegramtest.LanguageCode("en"))
	startIn(t, r, u, "English")
	id := int64(3)
	tap := func(label string) telegramtest.Message {
		t.Helper()
		if err := tapLast(t, r, u, id, labelWith(lastCard(u), label)); err != nil {
			t.Fatal(err)
		}
		id++
		return lastCard(u)
	}
	typed := func(text string) telegramtest.Message {
		t.Helper()
		type_(t, r, u, id, text)
		id++
		return lastCard(u)
	}
	tap("Yes, I agree")
	gender := tap("25")
	if !strings.HasPrefix(gender.Text, "✓ 25") {
		t.Fatalf("the card after the age does not show it:\n%s", u.Transcript())
	}
	if c := typed("/help"); c.ID == gender.ID || c.Text != gender.Text {
		t.Errorf("/help: the card below is not the card it replaces (%q):\n%s", gender.Text, u.Transcript())
	}
	country := tap("woman")
	if !strings.HasPrefix(country.Text, "✓ A woman") {
		t.Fatalf("the card after the gender does not show it:\n%s", u.Transcript())
	}
	if c := tap("Back"); c.Text != gender.Text {
		t.Errorf("back: the card is not as first shown (%q):\n%s", gender.Text, u.Transcript())
	}
	typed("/language")
	if c := tap("Italiano"); !strings.HasPrefix(c.Text, "✓ Da 25 a 34 anni\n") {
		t.Errorf("a new language: the card lost its answer line:\n%s", u.Transcript())
	}
}
