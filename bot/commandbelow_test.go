package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/interview"
)

// memMessages is the message ids /delete erases, in memory.
type memMessages struct {
	mu  sync.Mutex
	ids map[int64][]int
}

var _ interview.MessageLog = (*memMessages)(nil)

func (m *memMessages) Record(_ context.Context, chat int64, ids []int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids[chat] = append(m.ids[chat], ids...)
	return nil
}

func (m *memMessages) Recent(_ context.Context, chat int64) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.ids[chat]...), nil
}

// editedUpdate is the person's message msg edited to text, delivered as
// update id.
func editedUpdate(id, chat int64, msg int, text string) *Update {
	return updateOf(&tgmodels.Update{ID: id, EditedMessage: &tgmodels.Message{ID: msg, Date: int(time.Now().Unix()),
		EditDate: int(time.Now().Unix()), Text: text, Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate},
		From: &tgmodels.User{ID: chat, FirstName: "T", LanguageCode: "it"}}})
}

// A command answered during an interview (/help, /privacy, /services, an
// unknown command, an edited message, /delete's "No") gets its reply as a
// message of its own, and the question again below it: the card above
// loses its keys and stays as history, so the question to answer is the
// chat's last message, as after a typed message that is not an answer.
// Before: the reply came below the live card and every later tap edited
// that card, above the reply. Taps then edit the card below; /delete
// still erases every message the bot sent, the cards below the replies
// too. In a right-to-left language the same.
func TestCommandRepliesBringTheQuestionBelow(t *testing.T) {
	for _, tt := range []struct{ lang, pick, yes string }{
		{"en", "English", "Yes, I agree"}, {"it", "Italiano", "Sì, accetto"}, {"ar", "العربية", "نعم، أوافق"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newRig(t)
			log := &memMessages{ids: map[int64][]int{}}
			r.core.Messages = log
			r.rewire()
			u := r.srv.User(785, telegramtest.LanguageCode(tt.lang))
			startIn(t, r, u, tt.pick)
			if err := tapLast(t, r, u, 3, tt.yes); err != nil {
				t.Fatal(err)
			}
			if len(lastCard(u).Labels()) < 2 {
				t.Fatalf("not at the age question:\n%s", u.Transcript())
			}
			rend := r.handler.Renderer()
			// replyThenCard checks that the chat ends with a reply
			// (containing want) then the question, the only card with
			// keys, and that the card before is kept as history.
			replyThenCard := func(when, want string, before telegramtest.Message) telegramtest.Message {
				t.Helper()
				ms := u.Messages()
				last := ms[len(ms)-1]
				if !last.FromBot || len(last.Buttons) == 0 || last.ID == before.ID {
					t.Fatalf("%s: the chat does not end with the question below the reply:\n%s", when, u.Transcript())
				}
				if live := liveKeys(u); len(live) != 1 || live[0] != last.ID {
					t.Fatalf("%s: keys on messages %v, want only the last one's (%d):\n%s", when, live, last.ID, u.Transcript())
				}
				if reply := ms[len(ms)-2]; !reply.FromBot || !strings.Contains(reply.Text, want) {
					t.Fatalf("%s: the reply %q is not right above the question:\n%s", when, want, u.Transcript())
				}
				if last.Text != before.Text {
					// The card as it was, its "✓ previous answer" line too.
					t.Fatalf("%s: the question below is not the card it replaces (%q):\n%s", when, before.Text, u.Transcript())
				}
				if m := msgOf(u, before.ID); m.Text != before.Text {
					t.Fatalf("%s: the card above the reply was changed, want it kept as history:\n%s", when, u.Transcript())
				}
				return last
			}
			firstLine := func(id string) string {
				line, _, _ := strings.Cut(rend.Plain(tt.lang, id, nil), "\n")
				rs := []rune(line)
				return string(rs[:min(12, len(rs))])
			}
			id := int64(4)
			card := lastCard(u)
			for _, c := range []struct{ cmd, msg string }{
				{"/help", MsgHelp}, {"/privacy", MsgPrivacy}, {"/services", MsgServicesNone}, {"/nonsense", MsgUnknownCommand},
			} {
				type_(t, r, u, id, c.cmd)
				id++
				card = replyThenCard(c.cmd, firstLine(c.msg), card)
			}
			// An edited message: the notice, then the question.
			typed := u.Send("25")
			if _, err := r.intake.Submit(context.Background(), editedUpdate(id, u.ID(), typed, "26"), false, 3); err != nil {
				t.Fatal(err)
			}
			id++
			card = replyThenCard("an edit", firstLine(MsgEdited), card)
			// /delete, then "No": the confirmation keeps no keys, the
			// question comes below "not erased".
			type_(t, r, u, id, "/delete")
			id++
			if err := tapLast(t, r, u, id, rend.Plain(tt.lang, MsgDeleteNo, nil)); err != nil {
				t.Fatal(err)
			}
			id++
			card = replyThenCard("/delete, No", firstLine(MsgDeleteCancelled), card)
			// A tap edits the card below, which stays last.
			if err := tapLast(t, r, u, id, labelWith(card, "25")); err != nil {
				t.Fatal(err)
			}
			id++
			if c := lastCard(u); c.ID != card.ID || len(liveKeys(u)) != 1 || c.Text == card.Text {
				t.Fatalf("the tap did not edit the card below the replies:\n%s", u.Transcript())
			}
			// /delete erases every message the bot sent.
			type_(t, r, u, id, "/delete")
			id++
			if err := tapLast(t, r, u, id, rend.Plain(tt.lang, MsgDeleteYes, nil)); err != nil {
				t.Fatal(err)
			}
			for _, m := range u.Messages() {
				if m.FromBot && !strings.Contains(m.Text, firstLine(MsgDeleteDone)) && !strings.Contains(m.Text, firstLine(MsgDeleteChat)) {
					t.Errorf("message %d left after /delete: %q\n%s", m.ID, m.Text, u.Transcript())
				}
			}
		})
	}
}

// /services during an interview, with a directory: the menu of need areas,
// then the question below it; a tap on an area lists its services (card
// and pin), and the question comes below them again. The menu keeps its
// keys (another area can be looked up); the question is the only card.
func TestServicesDuringAnInterviewBringTheQuestionBelow(t *testing.T) {
	r := newRig(t)
	r.handler.cfg.Directory = demoDirectory()
	u := r.srv.User(786, telegramtest.LanguageCode("ar"))
	startIn(t, r, u, "العربية")
	if err := tapLast(t, r, u, 3, "نعم، أوافق"); err != nil {
		t.Fatal(err)
	}
	age := lastCard(u)
	type_(t, r, u, 4, "/services")
	ms := u.Messages()
	menu, card := ms[len(ms)-2], ms[len(ms)-1]
	if !strings.Contains(menu.Text, "في أي مجال تحتاج إلى مساعدة") || len(menu.Buttons) == 0 {
		t.Fatalf("no menu of areas right above the last message:\n%s", u.Transcript())
	}
	if card.ID == age.ID || len(card.Buttons) == 0 || !strings.HasSuffix(age.Text, card.Text) {
		t.Fatalf("the question is not below the menu:\n%s", u.Transcript())
	}
	if live := liveKeys(u); len(live) != 2 || live[0] != menu.ID || live[1] != card.ID {
		t.Fatalf("keys on %v, want the menu's and the question's (%d, %d):\n%s", live, menu.ID, card.ID, u.Transcript())
	}
	housing := r.handler.Renderer().Plain("ar", "c.immigrati.aree.casa", nil)
	if err := u.TapIn(menu.ID, housing); err != nil {
		t.Fatal(err)
	}
	cbs := u.Chat().Callbacks
	tap := cbs[len(cbs)-1]
	if _, err := r.intake.Submit(context.Background(), tapUpdate(5, u.ID(), tap.QueryID, tap.Data, tap.MessageID), false, 3); err != nil {
		t.Fatal(err)
	}
	ms = u.Messages()
	last := ms[len(ms)-1]
	if len(last.Buttons) == 0 || last.ID == card.ID || last.Text != card.Text || len(venues(ms[len(ms)-2:len(ms)-1])) != 1 {
		t.Fatalf("the services and the pin, then the question, want the question last:\n%s", u.Transcript())
	}
	if live := liveKeys(u); len(live) != 2 || live[0] != menu.ID || live[1] != last.ID {
		t.Fatalf("keys on %v, want the menu's and the question's (%d, %d):\n%s", live, menu.ID, last.ID, u.Transcript())
	}
}
