package bot

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// callsSince returns the Bot API calls made since before (a Calls snapshot).
func callsSince(r *rig, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range r.srv.Calls() {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// toWelcome walks u through /start and the language menu to the
// welcome-and-consent card.
func toWelcome(t *testing.T, r *rig, u *telegramtest.User) telegramtest.Message {
	t.Helper()
	startIn(t, r, u, "Italiano")
	w := lastCard(u)
	if !strings.Contains(w.Text, "/delete") || len(w.Buttons) == 0 {
		t.Fatalf("no welcome-and-consent card:\n%s", u.Transcript())
	}
	return w
}

// Session 5 (issue 19): "Yes, I agree" edits the welcome-and-consent card
// into the first question — one Bot API call (the tap's answer travels
// with it) and no new message — as every other tap edits the card into the
// next question. Back from the first question edits the same card back
// into the consent question. Before: the first question was sent as a new
// message below the kept welcome card and the welcome card's keyboard was
// removed (2 calls).
func TestConsentTapEditsTheWelcomeCard(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(761, telegramtest.LanguageCode("it"))
	w := toWelcome(t, r, u)
	nmsg := len(u.Messages())
	before := maps.Clone(r.srv.Calls())
	if err := tapLast(t, r, u, 3, "Sì, accetto"); err != nil {
		t.Fatal(err)
	}
	got := callsSince(r, before)
	if got["editMessageText"] != 1 || got["sendMessage"] != 0 || got["editMessageReplyMarkup"] != 0 {
		t.Errorf("the consent tap made %v, want one editMessageText and no new message:\n%s", got, u.Transcript())
	}
	if n := len(u.Messages()); n != nmsg {
		t.Errorf("%d messages in the chat after the tap, want %d (none new):\n%s", n, nmsg, u.Transcript())
	}
	q := lastCard(u)
	if q.ID != w.ID || !strings.Contains(q.Text, "✓ Sì, accetto") || !strings.Contains(q.Text, "Quanti anni hai?") || len(q.Buttons) == 0 {
		t.Fatalf("the welcome card (message %d) is not the first question with “✓ Sì, accetto”:\n%s", w.ID, u.Transcript())
	}

	before = maps.Clone(r.srv.Calls())
	if err := tapLast(t, r, u, 4, "◀ Indietro"); err != nil {
		t.Fatal(err)
	}
	got = callsSince(r, before)
	if got["editMessageText"] != 1 || got["sendMessage"] != 0 {
		t.Errorf("Back from the first question made %v, want one editMessageText:\n%s", got, u.Transcript())
	}
	c := lastCard(u)
	if c.ID != w.ID || !strings.Contains(fmtLabels(c), "Sì, accetto") || !strings.Contains(fmtLabels(c), "No, grazie") {
		t.Fatalf("Back did not turn the card (message %d) into the consent question:\n%s", w.ID, u.Transcript())
	}
	// Session 6: with the welcome and the information notice above it, as
	// first shown — what the person agrees to is readable again. Before,
	// Back showed the consent question alone.
	if c.Text != w.Text {
		t.Errorf("Back showed the consent card as\n%s\nwant it as first shown:\n%s", c.Text, w.Text)
	}
	// Agreeing again turns it into the first question once more.
	if err := tapLast(t, r, u, 5, "✅ Sì, accetto"); err != nil { // the answer given is ticked
		t.Fatal(err)
	}
	if q := lastCard(u); q.ID != w.ID || !strings.Contains(q.Text, "Quanti anni hai?") {
		t.Fatalf("agreeing again did not show the first question on the card:\n%s", u.Transcript())
	}
}

// Back to the consent card and then "No, thanks": the welcome card stays
// as history, as when declining at once.
func TestConsentDeclineAfterBackKeepsTheWelcomeCard(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(763, telegramtest.LanguageCode("it"))
	w := toWelcome(t, r, u)
	if err := tapLast(t, r, u, 3, "Sì, accetto"); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 4, "◀ Indietro"); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 5, "No, grazie"); err != nil {
		t.Fatal(err)
	}
	if m := msgOf(u, w.ID); m.Text != w.Text || len(m.Buttons) != 0 {
		t.Errorf("the welcome card is not kept as first shown, without keyboard:\n%s", u.Transcript())
	}
	if last := lastCard(u); last.ID == w.ID {
		t.Errorf("no closing note below the welcome card:\n%s", u.Transcript())
	}
}

// "No, thanks" is unchanged: the welcome card stays as history (its
// keyboard removed) and the closing note comes below it.
func TestConsentDeclineKeepsTheWelcomeCard(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(762, telegramtest.LanguageCode("it"))
	w := toWelcome(t, r, u)
	if err := tapLast(t, r, u, 3, "No, grazie"); err != nil {
		t.Fatal(err)
	}
	if m := msgOf(u, w.ID); m.Text != w.Text || len(m.Buttons) != 0 {
		t.Errorf("the welcome card changed or kept its keyboard:\n%s", u.Transcript())
	}
	if last := lastCard(u); last.ID == w.ID {
		t.Errorf("no closing note below the welcome card:\n%s", u.Transcript())
	}
}

// A change of language on the welcome-and-consent card shows the welcome
// and the information notice again in the new language above the consent
// question (session 6): what the person agrees to, readable. Before, the
// new card said only "We continue in English" and asked the question.
func TestLanguageChangeAtConsentShowsTheWelcomeAgain(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(764, telegramtest.LanguageCode("it"))
	toWelcome(t, r, u)
	u.Send("/language")
	if _, err := r.intake.Submit(context.Background(), textUpdate(3, u.ID(), "/language"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 4, "English"); err != nil {
		t.Fatal(err)
	}
	c := lastCard(u)
	if !strings.Contains(c.Text, "/delete") || !strings.Contains(fmtLabels(c), "Yes, I agree") {
		t.Fatalf("the consent card in English lacks the welcome and notice:\n%s", u.Transcript())
	}
}

// Coming back with /start while the welcome-and-consent card is on
// screen (session 6): the new card shows the welcome and the information
// notice again above the consent question, under "welcome back" — what
// the person is asked to agree to stays readable. Before, "welcome back"
// and the consent question alone.
func TestStartAtConsentShowsTheWelcomeAgain(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(765, telegramtest.LanguageCode("it"))
	w := toWelcome(t, r, u)
	u.Send("/start")
	if _, err := r.intake.Submit(context.Background(), textUpdate(3, u.ID(), "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	c := lastCard(u)
	if c.ID == w.ID || !strings.Contains(c.Text, "/delete") || !strings.Contains(fmtLabels(c), "Sì, accetto") {
		t.Fatalf("the consent card after /start lacks the welcome and notice:\n%s", u.Transcript())
	}
	if !strings.HasSuffix(c.Text, w.Text) || len(c.Text) == len(w.Text) {
		t.Errorf("the card after /start is\n%s\nwant a greeting above the card as first shown:\n%s", c.Text, w.Text)
	}
}

// A typed word or /skip on the welcome-and-consent card keeps that card as
// first shown (its keyboard removed) right above the respondent's message,
// and the new card below says what was wrong and asks "Do you agree?"
// again, without repeating the welcome and the notice: they are on screen
// just above, and repeating ~900 characters pushed the buttons below a
// phone's screen (session 7: a change that repeated them was reverted).
func TestConsentErrorReaskBelowTheKeptWelcome(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(766, telegramtest.LanguageCode("it"))
	w := toWelcome(t, r, u)
	first := strings.SplitN(w.Text, "\n", 2)[0]
	question := w.Text[strings.LastIndex(w.Text, "\n\n")+2:]
	for i, c := range []struct{ typed, err string }{
		{"ciao", "⚠️ Non ho capito."},
		{"/skip", "⚠️ Questa domanda non si può saltare."},
	} {
		before := maps.Clone(r.srv.Calls())
		u.Send(c.typed)
		if _, err := r.intake.Submit(context.Background(), textUpdate(int64(3+i), u.ID(), c.typed), false, 0); err != nil {
			t.Fatal(err)
		}
		card := lastCard(u)
		if !strings.HasPrefix(card.Text, c.err) || !strings.HasSuffix(card.Text, "\n\n"+question) ||
			strings.Contains(card.Text, first) || !strings.Contains(fmtLabels(card), "Sì, accetto") {
			t.Fatalf("%q on the consent card gave\n%s\nwant %q, then the question %q alone, with its buttons", c.typed, card.Text, c.err, question)
		}
		if got := callsSince(r, before); got["sendMessage"] != 1 || got["editMessageReplyMarkup"] != 1 || len(got) != 2 {
			t.Errorf("%q on the consent card made %v, want one new card and the old one's keyboard removed", c.typed, got)
		}
	}
	if m := msgOf(u, w.ID); m.Text != w.Text || len(m.Buttons) != 0 {
		t.Errorf("the welcome card is not kept as first shown, without keyboard:\n%s", u.Transcript())
	}
}
