package staff

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/org"
)

// Session 13 (ux2): an operator answering the operators' questionnaire
// who uses a staff command or wizard meanwhile gets its menu, then the
// question again below it, as for /help: the card above loses its keys,
// one question card is live, and it is the chat's last message once the
// wizard is done (the invite and its poster above it). A wizard's step
// that only edits its menu leaves the card where it is; a typed reply to
// the menu (the invite's label) still reaches the wizard. Before, the
// menu, the invite and the poster came below the live card, which every
// later tap edited above them: the question was off screen.
func TestStaffCommandsDuringAnInterview(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(810, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(811, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	op := r.person(811, "Olga")

	// An invite to the operators' questionnaire, opened by the operator.
	op.send("/invite Team")
	op.tap("Operators")
	op.tap("👤 Personal link (one person)")
	op.tap("7 days")
	var token string
	for _, m := range op.u.Messages() {
		if m.FromBot && linkRe.MatchString(m.Text) {
			token = tokenIn(t, m.Text)
		}
	}
	if token == "" {
		t.Fatalf("no invite link:\n%s", op.u.Transcript())
	}
	op.u.Start(token)
	op.wait()
	// Walk to the first question that is not the consent card.
	for i := 0; i < 4 && !asking(op); i++ {
		last := op.u.Chat().LastFromBot()
		if len(last.Buttons) == 0 {
			t.Fatalf("no card to tap:\n%s", op.u.Transcript())
		}
		op.tap(last.Labels()[0][0])
	}
	card := op.u.Chat().LastFromBot()
	if len(card.Buttons) == 0 {
		t.Fatalf("not at a question:\n%s", op.u.Transcript())
	}
	question := card.Text[strings.LastIndex(card.Text, "\n\n")+2:]
	shown := card.Text // with its "✓ previous answer" line
	if !strings.HasPrefix(shown, "✓ ") {
		t.Fatalf("the card does not show the answer before it:\n%s", op.u.Transcript())
	}

	// questionLast checks that the chat ends with the question (its text
	// and keys), the only question card with keys (menus may keep theirs).
	questionLast := func(when string, menus ...int) telegramtest.Message {
		t.Helper()
		ms := op.u.Messages()
		last := ms[len(ms)-1]
		if !last.FromBot || len(last.Buttons) == 0 || !strings.HasSuffix(last.Text, question) {
			t.Fatalf("%s: the chat does not end with the question %q:\n%s", when, question, op.u.Transcript())
		}
		if last.Text != shown {
			t.Errorf("%s: the question below is not the card it replaces (%q): %q", when, shown, last.Text)
		}
		for _, m := range ms[:len(ms)-1] {
			if m.FromBot && len(m.Buttons) > 0 && !contains(menus, m.ID) {
				t.Fatalf("%s: message %d keeps its keys beside the question below (menus %v):\n%s", when, m.ID, menus, op.u.Transcript())
			}
		}
		return last
	}

	calls := r.tg.Calls()
	op.send("/invite Desk 2")
	menu := lastWith(op.u, "New invite")
	card = questionLast("/invite", menu.ID)
	if d := diff(r.tg.Calls(), calls); d["sendMessage"] != 2 || d["editMessageReplyMarkup"] != 1 {
		t.Errorf("/invite during an interview: calls %v, want the menu, the card, the old card's keys", d)
	}
	// Steps that edit the menu leave the card where it is.
	calls = r.tg.Calls()
	if err := op.u.TapIn(menu.ID, "Immigrants (service users)"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	if got := questionLast("a wizard step", menu.ID); got.ID != card.ID {
		t.Fatalf("a step that edits the menu moved the card:\n%s", op.u.Transcript())
	}
	if d := diff(r.tg.Calls(), calls); d["sendMessage"] != 0 {
		t.Errorf("a wizard step during an interview: calls %v, want no new message", d)
	}
	// The last step: the invite and its poster, then the question.
	if err := op.u.TapIn(menu.ID, "🪧 Poster for the desk (many people)"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	calls = r.tg.Calls()
	if err := op.u.TapIn(menu.ID, "30 days"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	card = questionLast("the invite made")
	if d := diff(r.tg.Calls(), calls); d["sendPhoto"] != 1 || d["sendMessage"] != 2 || d["editMessageReplyMarkup"] != 1 {
		t.Errorf("the wizard's last step during an interview: calls %v, want the progress line, the poster, the card, the old card's keys", d)
	}
	ms := op.u.Messages()
	if p := ms[len(ms)-2]; p.Kind != "photo" || !strings.Contains(p.Text, "Desk 2") {
		t.Fatalf("the poster is not right above the question:\n%s", op.u.Transcript())
	}

	// A typed reply to a menu still reaches its wizard.
	op.send("/invite")
	menu = lastWith(op.u, "New invite")
	questionLast("/invite without a label", menu.ID)
	op.u.Reply(menu.ID, "Corridor")
	op.wait()
	next := lastWith(op.u, "Corridor")
	if len(next.Buttons) == 0 || !strings.Contains(next.Text, "Which questionnaire?") {
		t.Fatalf("the typed label did not reach the wizard:\n%s", op.u.Transcript())
	}
	questionLast("the typed label", next.ID)

	// /invites: the list, then the question; its poster key sends the
	// poster, then the question below it.
	op.send("/invites")
	list := lastWith(op.u, "Desk 2")
	questionLast("/invites", list.ID, next.ID)
	if err := op.u.TapIn(list.ID, "🖨 Poster #1"); err != nil {
		t.Fatalf("%v\n%s", err, op.u.Transcript())
	}
	op.wait()
	card = questionLast("the poster again", list.ID, next.ID)
	ms = op.u.Messages()
	if p := ms[len(ms)-2]; p.Kind != "photo" {
		t.Fatalf("the poster is not right above the question:\n%s", op.u.Transcript())
	}

	// The interview goes on: a tap edits the card below.
	op.tap(card.Labels()[0][0])
	if c := op.u.Chat().LastFromBot(); c.ID != card.ID || c.Text == card.Text {
		t.Fatalf("the tap did not edit the card below:\n%s", op.u.Transcript())
	}
	if vs := r.tg.Violations(); len(vs) != 0 {
		t.Fatalf("violations: %+v", vs)
	}
}

// asking reports whether the person's last bot message is a question card
// past the welcome (it has keys and is not the consent card).
func asking(p *person) bool {
	last := p.u.Chat().LastFromBot()
	return len(last.Buttons) > 0 && !strings.Contains(strings.ToLower(last.Labels()[0][0]), "agree") &&
		!strings.Contains(last.Text, "🌐")
}

func lastWith(u *telegramtest.User, s string) telegramtest.Message {
	ms := u.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].FromBot && strings.Contains(ms[i].Text, s) {
			return ms[i]
		}
	}
	return telegramtest.Message{}
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func diff(now, before map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range now {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// Session 14 (staff3): queued staff work (a poster) outside an interview
// does not come back to the chat's worker to bring a question below it:
// there is none. Before, its end ran a KindShow turn that loaded the
// session and marked its key sent (2 Redis round trips) to show nothing.
func TestQueuedStaffWorkOutsideAnInterviewAsksNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(820, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(821, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	op := r.person(821, "Olga")

	op.send("/invite Desk 3")
	menu := lastWith(op.u, "New invite")
	if menu.ID == 0 {
		t.Fatalf("no invite menu:\n%s", op.u.Transcript())
	}
	for _, label := range []string{"Immigrants (service users)", "🪧 Poster for the desk (many people)"} {
		if err := op.u.TapIn(menu.ID, label); err != nil {
			t.Fatalf("%s: %v\n%s", label, err, op.u.Transcript())
		}
		op.wait()
	}
	loads, marks := r.sessions.loads.Load(), r.sessions.marks.Load()
	calls := r.tg.Calls()
	if err := op.u.TapIn(menu.ID, "30 days"); err != nil {
		t.Fatal(err)
	}
	op.wait() // the tap's turn, the poster's work and whatever it queued
	ms := op.u.Messages()
	if p := ms[len(ms)-1]; p.Kind != "photo" || !strings.Contains(p.Text, "Desk 3") {
		t.Fatalf("the poster is not the chat's last message:\n%s", op.u.Transcript())
	}
	if d := diff(r.tg.Calls(), calls); d["sendPhoto"] != 1 || d["editMessageReplyMarkup"] != 0 {
		t.Errorf("the wizard's last step outside an interview: calls %v, want the poster and no card", d)
	}
	// The tap's own turn: one load, at most one mark. Nothing after the
	// poster.
	dl, dm := r.sessions.loads.Load()-loads, r.sessions.marks.Load()-marks
	t.Logf("the poster's tap outside an interview: %d session loads, %d marks", dl, dm)
	if dl != 1 || dm > 1 {
		t.Errorf("the poster outside an interview: %d session loads and %d marks, want the tap's own (1 load, at most 1 mark)", dl, dm)
	}
}
