package bot

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// After something typed that is not an answer (junk, a command that asks
// again) the question comes below the typed message, the card above loses
// its keys and stays as history; taps then edit the new card where it is,
// so the question to answer stays the chat's last message. Before: the
// card above was edited in place and stayed above the typed message for
// the rest of the interview ("??" between the question and the chat's
// end). In a right-to-left language the same.
func TestTypedMessageBringsTheQuestionBelow(t *testing.T) {
	for _, tt := range []struct{ lang, pick, yes string }{
		{"en", "English", "Yes, I agree"}, {"it", "Italiano", "Sì, accetto"}, {"ar", "العربية", "نعم، أوافق"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newRig(t)
			u := r.srv.User(784, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			if err := tapLast(t, r, u, 3, tt.yes); err != nil {
				t.Fatal(err)
			}
			age := lastCard(u)
			if len(age.Labels()) < 2 {
				t.Fatalf("not at the age question:\n%s", u.Transcript())
			}
			onlyLiveCardLast := func(when string) telegramtest.Message {
				t.Helper()
				ms := u.Messages()
				last := ms[len(ms)-1]
				if !last.FromBot || len(last.Buttons) == 0 {
					t.Fatalf("%s: the chat does not end with the question:\n%s", when, u.Transcript())
				}
				if live := liveKeys(u); len(live) != 1 || live[0] != last.ID {
					t.Fatalf("%s: keys on messages %v, want only the last one's (%d):\n%s", when, live, last.ID, u.Transcript())
				}
				return last
			}
			type_(t, r, u, 4, "??")
			card := onlyLiveCardLast("after ??")
			if card.ID == age.ID || !strings.Contains(card.Text, "⚠️") {
				t.Fatalf("the re-ask is not a new card with the warning below ??:\n%s", u.Transcript())
			}
			if m := msgOf(u, age.ID); m.Text != age.Text {
				t.Fatalf("the card above ?? was changed, want it kept as history:\n%s", u.Transcript())
			}
			// The card below keeps the line of the answer before it.
			if line, _, _ := strings.Cut(age.Text, "\n"); !strings.HasPrefix(line, "✓ ") || !strings.HasPrefix(card.Text, line+"\n") {
				t.Fatalf("the re-ask below ?? lacks the card's %q line:\n%s", line, u.Transcript())
			}
			type_(t, r, u, 5, "???")
			card = onlyLiveCardLast("after ???")
			// Taps edit the card below, which stays last.
			for i := range 3 {
				label := lastCard(u).Labels()[0][0]
				if i == 0 {
					label = labelWith(lastCard(u), "25") // an adult
				}
				if err := tapLast(t, r, u, int64(6+i), label); err != nil {
					t.Fatal(err)
				}
				if c := onlyLiveCardLast("after a tap"); c.ID != card.ID {
					t.Fatalf("tap %d: a new card %d instead of an edit of %d:\n%s", i+1, c.ID, card.ID, u.Transcript())
				}
			}
		})
	}
}
