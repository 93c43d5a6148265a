package bot

import (
	"context"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// A double tap: the first tap answers the question and the card shows the
// next one; the second, stale, only says so. The person then taps the
// next question's answer on the card as they see it, and it is taken.
//
// Before, the stale tap asked the current question again in a new showing
// (a new Seq in the buttons' data), so the buttons on the person's screen
// went stale too, and their next tap was refused in its turn. Under load,
// with a tap in flight behind every repaint, that never ended: loadgen's
// overload runs walked the same question to its step cap (issue 19, the
// "overload stall" of sessions 4 and 5).
func TestStaleTapLeavesTheShownCardLive(t *testing.T) {
	r := newRig(t)
	const chat = 4545
	u := r.srv.User(chat, telegramtest.LanguageCode("it"))
	u.Send("hi")
	ctx := context.Background()
	id := int64(0)
	submit := func(data string, msg int) {
		t.Helper()
		id++
		up := textUpdate(id, chat, "/start")
		if data != "" {
			up = tapUpdate(id, chat, "q", data, msg)
		}
		if _, err := r.intake.Submit(ctx, up, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	// option is the data of the card's i-th button that answers it, or
	// its last.
	option := func(m telegramtest.Message, i int) string {
		t.Helper()
		var opts []string
		for _, row := range m.Buttons {
			for _, b := range row {
				if cb, err := DecodeCallback(b.Data); err == nil && cb.Kind == CbChoose {
					opts = append(opts, b.Data)
				}
			}
		}
		if len(opts) > 0 {
			return opts[min(i, len(opts)-1)]
		}
		t.Fatalf("no option on the card:\n%s", u.Transcript())
		return ""
	}
	submit("", 0)
	menu := u.Last()
	submit(menu.Buttons[0][0].Data, menu.ID) // Italiano
	consent := u.Last()
	submit(option(consent, 0), consent.ID) // consent given: the card asks the first question
	q1 := u.Last()
	first := option(q1, 1) // the first age bracket would end the interview
	submit(first, q1.ID)   // answered: the card asks the second question
	q2 := u.Last()
	if q2.ID != q1.ID || q2.Text == q1.Text {
		t.Fatalf("the tap did not turn the card into the next question:\n%s", u.Transcript())
	}
	pos := r.state(t, chat).Pos
	submit(first, q1.ID) // the double tap's second, stale
	if s := r.state(t, chat); s.Pos != pos {
		t.Fatalf("the stale tap moved the interview: at %d, want %d", s.Pos, pos)
	}
	submit(option(q2, 0), q2.ID) // the person answers the card they see
	if s := r.state(t, chat); s.Pos == pos {
		t.Fatalf("the tap on the card shown was refused as stale (still at %d):\n%s", s.Pos, u.Transcript())
	}
}
