package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/interview"
)

// typedUpdate is the person's typed message msg (its id in the chat, as
// the fake numbers it) delivered as update id.
func typedUpdate(id, chat int64, msg int, text string) *Update {
	lu := libTextUpdate(id, chat, text)
	lu.Message.ID = msg
	return updateOf(lu)
}

// type_ sends text as the person and submits it.
func type_(t *testing.T, r *rig, u *telegramtest.User, id int64, text string) {
	t.Helper()
	msg := u.Send(text)
	if _, err := r.intake.Submit(context.Background(), typedUpdate(id, u.ID(), msg, text), false, 3); err != nil {
		t.Fatalf("%q: %v\n%s", text, err, u.Transcript())
	}
}

// liveKeys returns the bot's messages that still have keys.
func liveKeys(u *telegramtest.User) []int {
	var ids []int
	for _, m := range u.Messages() {
		if m.FromBot && len(m.Buttons) > 0 {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// A typed re-ask at a question with notes keeps the card that carries them
// as history and asks again below, without them (they are right above). A
// refused tap on that new card then edits it with the error — and must not
// put the notes back on it: they would show twice, one under the other.
// Before: the edit read "⚠️ error / intro / question" below the intro's
// own card. In a right-to-left language the same.
func TestRefusedTapBelowATypedReaskKeepsTheNotesOnce(t *testing.T) {
	for _, tt := range []struct {
		lang, pick, done, intro, question string
	}{
		{"en", "English", "✓ Done", "The next questions are about your home.", "What do you need help with?"},
		{"ar", "العربية", "", "الأسئلة التالية عن منزلك.", "بماذا تحتاج المساعدة؟"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newNoteCardRig(t)
			u := r.srv.User(782, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			notes := lastCard(u)
			if !strings.Contains(notes.Text, tt.intro) {
				t.Fatalf("no card with the intro:\n%s", u.Transcript())
			}
			done := tt.done
			if done == "" {
				labels := notes.Labels()
				row := labels[len(labels)-1]
				done = row[len(row)-1] // Done: the last key
			}
			type_(t, r, u, 3, "hello")
			below := lastCard(u)
			if below.ID == notes.ID || strings.Contains(below.Text, tt.intro) || !strings.Contains(below.Text, tt.question) {
				t.Fatalf("the typed re-ask did not go below the intro's card, without the intro:\n%s", u.Transcript())
			}
			for i := range 2 {
				if err := tapLast(t, r, u, int64(4+i), done); err != nil {
					t.Fatal(err)
				}
				c := lastCard(u)
				if c.ID != below.ID || !strings.Contains(c.Text, "⚠️") || !strings.Contains(c.Text, tt.question) || len(c.Buttons) == 0 {
					t.Fatalf("refusal %d: card %d is not the error and the question with its keys:\n%s", i+1, below.ID, u.Transcript())
				}
				if strings.Contains(c.Text, tt.intro) {
					t.Fatalf("refusal %d put the intro back on the card below the intro's own card:\n%s", i+1, u.Transcript())
				}
			}
			if m := msgOf(u, notes.ID); !strings.Contains(m.Text, tt.intro) || len(m.Buttons) != 0 {
				t.Errorf("the intro's card is not kept as history:\n%s", u.Transcript())
			}
		})
	}
}

// labelWith returns the first key of m whose label contains s.
func labelWith(m telegramtest.Message, s string) string {
	for _, row := range m.Labels() {
		for _, l := range row {
			if strings.Contains(l, s) {
				return l
			}
		}
	}
	return s
}

// lostMarks is the rig's sessions with the record of the card shown lost
// for some updates: MarkSent fails for them, as when Redis is down as the
// mark is written (a deferred tail dropped with a failed flush or save),
// so that the store still names the card before.
type lostMarks struct {
	*memSessions
	mu   sync.Mutex
	lose map[int64]bool
}

func (l *lostMarks) MarkSent(ctx context.Context, chat, update int64, lastMsg int) error {
	l.mu.Lock()
	lose := l.lose[update]
	l.mu.Unlock()
	if lose {
		return errors.New("redis: connection refused")
	}
	return l.memSessions.MarkSent(ctx, chat, update, lastMsg)
}

func (l *lostMarks) loseMark(update int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose[update] = true
}

var _ interview.Sessions = (*lostMarks)(nil)

// The store's record of the card showing the question is lost while Redis
// is down (the replies went out; the mark did not reach Redis), so it
// still names the card before. The next typed message then treated that
// older card as the live one: a re-ask edited it — a message of the
// chat's history, the question already answered — into the question with
// keys, above the real card that kept its keys too (two live cards); a
// typed answer left the real card's keys alive. The replica that showed
// the card remembers it (Sender's liveCard): one live card, the history
// as it was. In a right-to-left language the same.
func TestLostCardRecordKeepsOneLiveCard(t *testing.T) {
	for _, tt := range []struct{ lang, pick, yes string }{{"en", "English", "Yes, I agree"}, {"ar", "العربية", "نعم، أوافق"}} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newRig(t)
			ls := &lostMarks{memSessions: r.sessions, lose: map[int64]bool{}}
			r.core.Sessions = ls
			r.rewire()
			u := r.srv.User(783, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			if err := tapLast(t, r, u, 3, tt.yes); err != nil {
				t.Fatal(err)
			}
			age := lastCard(u)
			ageText := age.Text
			if len(age.Labels()) < 2 {
				t.Fatalf("not at the age question:\n%s", u.Transcript())
			}
			// The age typed: the age's card stays as history, the next
			// question comes below — and its record is lost.
			ls.loseMark(4)
			type_(t, r, u, 4, labelWith(age, "25"))
			next := lastCard(u)
			if next.ID == age.ID || len(next.Buttons) == 0 {
				t.Fatalf("the typed age did not bring the next question below:\n%s", u.Transcript())
			}
			// Junk right below: asked again on the live card (or below
			// it), never on the age's card.
			type_(t, r, u, 5, "hmm")
			if live := liveKeys(u); len(live) != 1 || live[0] < next.ID {
				t.Fatalf("live keys on messages %v after a re-ask, want one card, the newest:\n%s", live, u.Transcript())
			}
			if m := msgOf(u, age.ID); m.Text != ageText || len(m.Buttons) != 0 {
				t.Fatalf("the age's card, history, was changed:\n%s", u.Transcript())
			}
			// A typed answer: the card it answers loses its keys.
			ls.loseMark(6)
			type_(t, r, u, 6, lastCard(u).Labels()[0][0])
			type_(t, r, u, 7, lastCard(u).Labels()[0][0])
			if live := liveKeys(u); len(live) != 1 || live[0] != lastCard(u).ID {
				t.Fatalf("live keys on messages %v after typed answers, want only the last card's:\n%s", live, u.Transcript())
			}
		})
	}
}
