package bot

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/testnet"
)

// Session 13 (ux2): a stale page key answered before its turn — by long
// polling, as its batch arrives, with no text — keeps its notice: the card
// shows it above the question (one edit), in the person's language, and
// keeps its keys. Before, the turn set the notice as the callback's answer,
// which had gone out already: the card came back as it was and the person
// never learned why the key did nothing.
func TestStaleTapAnsweredEarlyKeepsItsNotice(t *testing.T) {
	for i, tt := range []struct{ lang, pick, yes string }{
		{"en", "English", "Yes, I agree"}, {"it", "Italiano", "Sì, accetto"}, {"ar", "العربية", "نعم، أوافق"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := newRig(t)
			p := &Poller{Intake: r.intake, Client: testnet.Client(), APIURL: r.srv.URL, Token: r.srv.Token(), Timeout: time.Second,
				Ready: func(context.Context) error { return nil }}
			chat := int64(1310 + i)
			u := r.srv.User(chat, telegramtest.LanguageCode(tt.lang))
			off := int64(0)
			step := func(what string, do func() error) {
				t.Helper()
				if err := do(); err != nil {
					t.Fatalf("%s: %v\n%s", what, err, u.Transcript())
				}
				var jobs []*job
				off, jobs = pollOnce(t, p, off)
				waitSettled(context.Background(), jobs)
				r.intake.WaitIdle(context.Background(), chat)
			}
			step("/start", func() error { u.Send("/start"); return nil })
			step(tt.pick, func() error { return u.TapIn(u.Last().ID, tt.pick) })
			step(tt.yes, func() error { return u.TapIn(u.Last().ID, tt.yes) })
			card := lastCard(u)
			st := r.state(t, chat)
			if len(card.Buttons) == 0 || st.Phase != dialog.PhaseAsking {
				t.Fatalf("not at a question:\n%s", u.Transcript())
			}
			// A page key of an earlier showing of the question (another
			// Seq): the poller answers it early, its turn finds it stale.
			data, err := Callback{Kind: CbPage, Pos: st.Pos, Seq: st.Seq + 5, Option: "1"}.Encode()
			if err != nil {
				t.Fatal(err)
			}
			step("the stale page key", func() error { return u.TapData(card.ID, data) })
			a := u.CallbackAnswers()
			if last := a[len(a)-1]; !last.Answered || last.Text != "" {
				t.Fatalf("the stale key was not answered early, empty: %+v", last)
			}
			notice := "⚠️ " + r.handler.Renderer().Text(tt.lang, dialog.MsgStale, nil)
			now := msgOf(u, card.ID)
			if !strings.Contains(now.Text, notice) {
				t.Fatalf("the notice %q is lost: the card reads\n%s\n%s", notice, now.Text, u.Transcript())
			}
			if !strings.HasSuffix(now.Text, card.Text) && !strings.Contains(now.Text, lastParagraph(card.Text)) {
				t.Fatalf("the card does not ask the question any more:\n%s", now.Text)
			}
			if live := liveKeys(u); len(live) != 1 || live[0] != card.ID || lastCard(u).ID != card.ID {
				t.Fatalf("keys on %v, want only the card %d, the chat's last message:\n%s", live, card.ID, u.Transcript())
			}
			if vs := r.srv.Violations(); len(vs) != 0 {
				t.Fatalf("violations (a second answer?): %+v", vs)
			}
		})
	}
}

// lastParagraph is the text after a card's last blank line: its question.
func lastParagraph(s string) string {
	if i := strings.LastIndex(s, "\n\n"); i >= 0 {
		return s[i+2:]
	}
	return s
}

// Session 13 (ux2): a tap answered "one moment" during an outage and
// applied once the store is back keeps its notice when its turn finds it
// stale: a stale area of the /services menu during an interview brings the
// question below the menu with the notice on it; a forged key outside any
// interview gets a short message of its own, in the person's language
// (every language has it: the locales' tests).
// Before, both notices went into a callback answer already given: nothing
// at all happened.
func TestStaleTapAfterOneMomentKeepsItsNotice(t *testing.T) {
	r, g := newGateRig(t, IntakeOptions{Workers: 2}, SenderOptions{})
	r.handler.cfg.Directory = demoDirectory()
	var down atomic.Int64 // the chat whose next Load fails
	g.setFail(func(chat int64) error {
		if down.CompareAndSwap(chat, 0) {
			return fmt.Errorf("load session: %w", errDown)
		}
		return nil
	})
	ctx := context.Background()
	// tapDuringOutage taps data on message msg while the chat's store is
	// down: answered "one moment", parked, applied on the retry.
	tapDuringOutage := func(u *telegramtest.User, id int64, msg int, data string) {
		t.Helper()
		if err := u.TapData(msg, data); err != nil {
			t.Fatal(err)
		}
		cbs := u.Chat().Callbacks
		tap := cbs[len(cbs)-1]
		down.Store(u.ID())
		if _, err := r.intake.Submit(ctx, tapUpdate(id, u.ID(), tap.QueryID, tap.Data, tap.MessageID), false, 3); err != nil {
			t.Fatal(err)
		}
		if err := r.intake.WaitIdle(ctx, u.ID()); err != nil {
			t.Fatal(err)
		}
		if a := u.CallbackAnswers(); !strings.Contains(a[len(a)-1].Text, "Un momento") {
			t.Fatalf("not answered \"one moment\": %+v", a[len(a)-1])
		}
	}

	u := r.srv.User(1320, telegramtest.LanguageCode("it"))
	startIn(t, r, u, "Italiano")
	if err := tapLast(t, r, u, 3, "Sì, accetto"); err != nil {
		t.Fatal(err)
	}
	type_(t, r, u, 4, "/services")
	var menu telegramtest.Message
	for _, m := range u.Messages() {
		if m.FromBot && strings.Contains(m.Text, firstLineOf(r.handler.Renderer().Plain("it", MsgServicesChoose, nil))) {
			menu = m
		}
	}
	if menu.ID == 0 {
		t.Fatalf("no /services menu:\n%s", u.Transcript())
	}
	card := lastCard(u)
	stale, _ := Callback{Kind: CbServices, Option: "no-such-area"}.Encode()
	tapDuringOutage(u, 5, menu.ID, stale)
	notice := "⚠️ " + r.handler.Renderer().Text("it", dialog.MsgStale, nil)
	last := lastCard(u)
	if last.ID == card.ID || !strings.Contains(last.Text, notice) || len(last.Buttons) == 0 {
		t.Fatalf("the stale area's notice is lost (want the question below the menu with %q):\n%s", notice, u.Transcript())
	}
	if m := msgOf(u, card.ID); len(m.Buttons) != 0 {
		t.Fatalf("the card above kept its keys:\n%s", u.Transcript())
	}

	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations: %+v", vs)
	}

	// Outside an interview: a message of its own (here before the
	// language menu: the rig's default municipality lets anyone begin).
	// (The rig's updates speak Italian; the memory sessions know update
	// ids across chats: new ones.)
	o := r.srv.User(1321, telegramtest.LanguageCode("it"))
	o.Send("/help")
	if _, err := r.intake.Submit(ctx, textUpdate(101, o.ID(), "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	tapDuringOutage(o, 102, o.Last().ID, "1~garbage")
	want := r.handler.Renderer().Text("it", MsgTapStale, nil)
	found := false
	for _, m := range o.Messages() {
		found = found || (m.FromBot && m.Text == want)
	}
	if !found {
		t.Fatalf("the forged key's notice %q is lost:\n%s", want, o.Transcript())
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
