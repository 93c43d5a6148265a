package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// tapLast taps label on the chat's last bot message and submits the
// resulting update (the rig has no poller) with the poller's retries.
func tapLast(t *testing.T, r *rig, u *telegramtest.User, id int64, label string) error {
	t.Helper()
	last := u.Last()
	if err := u.TapIn(last.ID, label); err != nil {
		t.Fatalf("tap %q: %v\n%s", label, err, u.Transcript())
	}
	cbs := u.Chat().Callbacks
	tap := cbs[len(cbs)-1]
	_, err := r.intake.Submit(context.Background(), tapUpdate(id, u.ID(), tap.QueryID, tap.Data, tap.MessageID), false, 3)
	return err
}

// lastCard returns the chat's last bot message.
func lastCard(u *telegramtest.User) telegramtest.Message {
	ms := u.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].FromBot {
			return ms[i]
		}
	}
	return telegramtest.Message{}
}

// Issue 17 finding 1: a turn is saved but its replies cannot reach
// Telegram — the Bot API fails past the sender's and the intake's retries
// — while the person's card already lost its keyboard or still shows the
// old question. The update must not be dropped, leaving the person on a
// card without buttons (the chaos transcript: "no button … on message 3
// (buttons: )"): it is kept and tried again until the card goes out, its
// tap answered once and its input saved once. Before: dropped after 4
// attempts.
func TestUndeliveredCardIsSentAgain(t *testing.T) {
	for _, tt := range []struct {
		name, method string
		consent      bool   // fail the consent tap's reply (else the /start's)
		want         string // on the live card afterwards
	}{
		{"the /start's new card", "sendMessage", false, "Italiano"},
		{"the consent tap's new card (the old one stripped)", "sendMessage", true, "Quanti anni hai?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, g := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{ChatRate: 1000, ChatBurst: 100, MaxRetries: 1})
			u := r.srv.User(711, telegramtest.LanguageCode("it"))
			ctx := context.Background()
			// Each attempt costs two calls (MaxRetries 1); the intake gives
			// an update 4 attempts (retries 3): 8 failures outlast them all.
			fail := func() { r.srv.FailNext(tt.method, 502, "Bad Gateway", 8) }
			u.Send("/start")
			if !tt.consent {
				fail()
			}
			if _, err := r.intake.Submit(ctx, textUpdate(1, 711, "/start"), false, 3); err != nil {
				t.Fatalf("/start not applied in the end: %v\n%s", err, u.Transcript())
			}
			update := int64(1)
			if tt.consent {
				if err := tapLast(t, r, u, 2, "Italiano"); err != nil {
					t.Fatal(err)
				}
				consent := lastCard(u)
				if len(consent.Buttons) == 0 {
					t.Fatalf("no consent card:\n%s", u.Transcript())
				}
				fail()
				update = 3
				if err := tapLast(t, r, u, update, consent.Labels()[0][0]); err != nil {
					t.Fatalf("the tap was not applied in the end: %v\n%s", err, u.Transcript())
				}
			}
			last := lastCard(u)
			if len(last.Buttons) == 0 || !strings.Contains(last.Text+fmtLabels(last), tt.want) {
				t.Fatalf("the last card is not the live question (%q) with buttons:\n%s", tt.want, u.Transcript())
			}
			live := 0
			for _, m := range u.Messages() {
				if m.FromBot && len(m.Buttons) > 0 {
					live++
				}
			}
			if live != 1 {
				t.Fatalf("%d live keyboards, want 1:\n%s", live, u.Transcript())
			}
			g.mu.Lock()
			saves := g.saves[update]
			g.mu.Unlock()
			if saves > 1 {
				t.Fatalf("input saved %d times, want once", saves)
			}
			if vs := r.srv.Violations(); len(vs) != 0 {
				t.Fatalf("violations (the tap answered twice?): %+v", vs)
			}
		})
	}
}

func fmtLabels(m telegramtest.Message) string {
	var b strings.Builder
	for _, row := range m.Labels() {
		for _, l := range row {
			b.WriteString(" " + l)
		}
	}
	return b.String()
}
