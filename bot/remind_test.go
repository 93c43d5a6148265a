package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// memReminders is an in-memory Reminders with the store's semantics: a
// refused reminder is not armed again.
type memReminders struct {
	mu      sync.Mutex
	due     map[int64]time.Time
	refused map[int64]bool
	cancels int
}

func newMemReminders() *memReminders {
	return &memReminders{due: map[int64]time.Time{}, refused: map[int64]bool{}}
}

func (m *memReminders) Arm(_ context.Context, chat int64, _ string, due time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.refused[chat] {
		m.due[chat] = due
	}
	return nil
}

func (m *memReminders) Cancel(_ context.Context, chat int64, refuse bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.due, chat)
	m.cancels++
	if refuse {
		m.refused[chat] = true
	} else {
		delete(m.refused, chat)
	}
	return nil
}

// tapData returns the data of the button of msg whose decoded callback
// satisfies ok.
func tapData(t *testing.T, msg telegramtest.Message, ok func(Callback) bool) string {
	t.Helper()
	for _, row := range msg.Buttons {
		for _, b := range row {
			if cb, err := DecodeCallback(b.Data); err == nil && ok(cb) {
				return b.Data
			}
		}
	}
	t.Fatalf("no such button in %q: %+v", msg.Text, msg.Buttons)
	return ""
}

// An interview past consent arms its reminder (moved out of the quiet
// hours); the reminder comes in the respondent's language with Continue
// and Stop; Continue shows the current question with the resume greeting;
// Stop and a blocked bot refuse further reminders; a chat without an
// interview in progress gets nothing.
func TestReminderArmContinueStop(t *testing.T) {
	r := newRig(t)
	rem := newMemReminders()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 22, 30, 0, 0, rome)
	r.handler.cfg.Now = func() time.Time { return now }
	r.core.Now = r.handler.cfg.Now
	r.core.Reminders = rem
	r.core.ReminderAfter = 24 * time.Hour
	r.core.ReminderQuiet = func(t time.Time) time.Time {
		if lt := t.In(rome); lt.Hour() >= 21 || lt.Hour() < 9 {
			d := time.Date(lt.Year(), lt.Month(), lt.Day(), 9, 0, 0, 0, rome)
			if lt.Hour() >= 21 {
				d = d.AddDate(0, 0, 1)
			}
			return d
		}
		return t
	}
	r.rewire()
	ctx := context.Background()
	const chat = 960
	u := r.srv.User(chat, telegramtest.LanguageCode("en"))
	u.Send("hi")

	// Nothing in progress: no reminder.
	if err := r.intake.Remind(ctx, chat); err != nil {
		t.Fatal(err)
	}
	n0 := len(u.Messages())

	upd := int64(1)
	submit := func(u *Update) {
		t.Helper()
		if _, err := r.intake.Submit(ctx, u, false, 0); err != nil {
			t.Fatal(err)
		}
		upd++
	}
	submit(updateOf(&tgmodels.Update{ID: upd, Message: &tgmodels.Message{ID: 100, Date: int(now.Unix()), Text: "/start",
		Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate}, From: &tgmodels.User{ID: chat, LanguageCode: "en"}}}))
	if len(rem.due) != 0 {
		t.Fatal("armed before consent")
	}
	var card telegramtest.Message
	for i := 0; i < 4 && len(rem.due) == 0; i++ {
		card = u.Last()
		submit(callbackUpdate(upd, chat, card.ID, tapData(t, card, func(cb Callback) bool {
			return (cb.Kind == CbChoose && cb.Option == "yes") || (cb.Kind == CbLanguage && cb.Option == "en")
		})))
	}
	want := time.Date(2026, 12, 8, 9, 0, 0, 0, rome) // 22:30 + 24 h is quiet: 09:00
	if got, ok := rem.due[chat]; !ok || !got.Equal(want) {
		t.Fatalf("reminder due %v (armed %v), want %v", got, ok, want)
	}
	question := u.Last()

	if err := r.intake.Remind(ctx, chat); err != nil {
		t.Fatal(err)
	}
	msgs := u.Messages()
	reminder := msgs[len(msgs)-1]
	if !strings.Contains(reminder.Text, "the only reminder") || len(reminder.Buttons) != 1 || len(reminder.Buttons[0]) != 2 ||
		reminder.Buttons[0][0].Text != "Continue" || reminder.Buttons[0][1].Text != "Stop" {
		t.Fatalf("reminder %q %+v", reminder.Text, reminder.Buttons)
	}
	if n0 == len(msgs)-1 {
		t.Fatal("test setup: nothing happened between the two reminders")
	}

	// Continue: the reminder becomes the live card — the greeting and the
	// current question with its keys; the old card loses its keys.
	submit(callbackUpdate(upd, chat, reminder.ID, tapData(t, reminder, func(cb Callback) bool { return cb.Kind == CbRemind && cb.Option == remindGo })))
	var qline string
	for _, l := range strings.Split(question.Text, "\n") {
		if l != "" && !strings.HasPrefix(l, "✓") {
			qline = l
			break
		}
	}
	for _, m := range u.Messages() {
		switch m.ID {
		case reminder.ID:
			if !strings.Contains(m.Text, "Answers given so far: 0. Next: ") {
				t.Errorf("no recap after Continue:\n%s", m.Text)
			} else {
				t.Logf("card after Continue:\n%s", m.Text)
			}
			if !strings.Contains(m.Text, "Welcome back") || !strings.Contains(m.Text, qline) || len(m.Buttons) == 0 {
				t.Errorf("after Continue the reminder reads %q, want the greeting and %q with keys", m.Text, qline)
			}
		case question.ID:
			if len(m.Buttons) != 0 {
				t.Error("the old card keeps its keys after Continue")
			}
		}
	}

	// Stop (on a reminder): confirmed, its keys removed, and the
	// interview's next turns do not arm again.
	if err := r.intake.Remind(ctx, chat); err != nil {
		t.Fatal(err)
	}
	reminder = u.Last()
	// Stop: confirmed, and the interview's next turns do not arm again.
	submit(callbackUpdate(upd, chat, reminder.ID, remindData(remindStop)))
	if !strings.Contains(u.Last().Text, "no more reminders") {
		t.Fatalf("after Stop: %q", u.Last().Text)
	}
	for _, m := range u.Messages() {
		if m.ID == reminder.ID && len(m.Buttons) != 0 {
			t.Error("reminder keeps its keys after Stop")
		}
	}
	if !rem.refused[chat] || len(rem.due) != 0 {
		t.Fatalf("Stop not recorded: %+v", rem)
	}
	var live telegramtest.Message
	for _, m := range u.Messages() {
		for _, row := range m.Buttons {
			for _, b := range row {
				if cb, err := DecodeCallback(b.Data); err == nil && cb.Kind == CbChoose {
					live = m
				}
			}
		}
	}
	v := r.sessions.states[chat].Version
	submit(callbackUpdate(upd, chat, live.ID, tapData(t, live, func(cb Callback) bool { return cb.Kind == CbChoose })))
	if r.sessions.states[chat].Version == v {
		t.Fatal("test setup: the answer after Stop was not saved")
	}
	if len(rem.due) != 0 {
		t.Error("an answer after Stop armed a reminder again")
	}

	// Blocked: refused too.
	const other = 961
	submit(updateOf(&tgmodels.Update{ID: upd, MyChatMember: &tgmodels.ChatMemberUpdated{Chat: tgmodels.Chat{ID: other, Type: tgmodels.ChatTypePrivate},
		NewChatMember: tgmodels.ChatMember{Type: tgmodels.ChatMemberTypeBanned}}}))
	if !rem.refused[other] {
		t.Error("blocked bot: reminder not refused")
	}
}
