package staff

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// labelsOf is a message's buttons, row by row.
func labelsOf(m telegramtest.Message) [][]string { return m.Labels() }

// The invite menu asks for a label (skippable), then offers invites by
// purpose: a poster for the desk (first, the default) with validities for
// months, or a personal link for one person with validities of days. A
// personal link comes without a poster and says not to print it; asking
// for its poster from /invites warns and offers a poster for many people.
// /invites names invites without a label by kind and number and its
// buttons say what they do; "(no label)" appears nowhere.
func TestInviteKinds(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(830, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(831, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	op := r.person(831, "Olga")

	// The label is asked for, and can be skipped.
	ask := op.send("/invite")
	if !strings.Contains(ask.Text, "send /invite followed by the label") || !strings.Contains(ask.Text, "/invite Desk 2, ground floor") {
		t.Fatalf("label not asked for:\n%s", ask.Text)
	}
	if got, want := labelsOf(ask), [][]string{{"✍️ Reply to this message"}, {"Continue without a label ▶"}, {"Cancel"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("label step buttons %v, want %v", got, want)
	}
	op.tap("Continue without a label ▶")
	op.tap("Immigrants (service users)")
	kinds := op.u.Chat().LastFromBot()
	if !strings.Contains(kinds.Text, "What is it for?") {
		t.Fatalf("kind question:\n%s", kinds.Text)
	}
	if got, want := labelsOf(kinds), [][]string{{"🪧 Poster for the desk (many people)"}, {"👤 Personal link (one person)"}, {"◀ Back", "Cancel"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v (poster first)", got, want)
	}
	op.tap("👤 Personal link (one person)")
	valid := op.u.Chat().LastFromBot()
	if got, want := labelsOf(valid), [][]string{{"7 days", "30 days"}, {"◀ Back", "Cancel"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("personal link validities %v, want %v", got, want)
	}
	before := len(op.u.Messages())
	op.tap("7 days")
	msgs := op.u.Messages()
	created := msgs[len(msgs)-1]
	if len(msgs) != before || created.Kind == telegramtest.KindPhoto {
		t.Fatalf("a personal link came with a poster:\n%s", op.u.Transcript())
	}
	for _, want := range []string{"Invite created", "Kind: 👤 Personal link (one person)", "Uses: at most 1 person",
		"works for the first person who opens it only: do not print it as a poster"} {
		if !strings.Contains(created.Text, want) {
			t.Errorf("personal link summary lacks %q:\n%s", want, created.Text)
		}
	}
	personal := tokenIn(t, created.Text)

	// A poster: months, and no expiry.
	op.send("/invite Waiting room")
	op.tap("Immigrants (service users)")
	op.tap("🪧 Poster for the desk (many people)")
	valid = op.u.Chat().LastFromBot()
	if got, want := labelsOf(valid), [][]string{{"90 days", "30 days"}, {"No expiry"}, {"◀ Back", "Cancel"}}; !reflect.DeepEqual(flat(got), flat(want)) {
		t.Fatalf("poster validities %v, want %v", got, want)
	}
	op.tap("No expiry")
	if last := op.u.Chat().Last(); last.Kind != telegramtest.KindPhoto || !strings.Contains(last.Text, "Waiting room") {
		t.Fatalf("no poster for the poster invite:\n%s", op.u.Transcript())
	}

	// /invites: named buttons, no "(no label)".
	list := op.send("/invites")
	if strings.Contains(op.u.Transcript(), "no label") {
		t.Fatalf("\"(no label)\" shown:\n%s", op.u.Transcript())
	}
	if !strings.Contains(list.Text, "2. Personal link of ") || !strings.Contains(list.Text, "1. Waiting room") {
		t.Fatalf("/invites:\n%s", list.Text)
	}
	if got, want := labelsOf(list), [][]string{{"🖨 Poster #1", "✖ Revoke #1"}, {"🖨 Poster #2", "✖ Revoke #2"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("/invites buttons %v, want %v", got, want)
	}
	if !strings.Contains(list.Text, "🖨 Poster #N sends invite N's QR poster again; ✖ Revoke #N stops it working") {
		t.Fatalf("/invites hint:\n%s", list.Text)
	}

	// The personal link (listed second) as a poster: a warning first.
	before = len(op.u.Messages())
	op.tap("🖨 Poster #2")
	warn := op.u.Chat().LastFromBot()
	if len(op.u.Messages()) != before+1 || warn.Kind == telegramtest.KindPhoto {
		t.Fatalf("a personal link was printed without a warning:\n%s", op.u.Transcript())
	}
	if !strings.Contains(warn.Text, "works for one person only: it is a personal link") {
		t.Fatalf("warning:\n%s", warn.Text)
	}
	if got, want := labelsOf(warn), [][]string{{"🪧 Make a poster for many people"}, {"🖨 Print this one anyway"}, {"Cancel"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("warning buttons %v, want %v", got, want)
	}
	// Printed anyway: the poster of that very link.
	if err := op.u.TapIn(warn.ID, "🖨 Print this one anyway"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	if last := op.u.Chat().Last(); last.Kind != telegramtest.KindPhoto || decodeQR(t, last.File.Data) != DeepLink(r.tg.BotUsername(), personal) {
		t.Fatalf("personal link not printed on request:\n%s", op.u.Transcript())
	}
	// Or a poster for many people, same questionnaire and place: it goes
	// straight to the poster's validities.
	if err := op.u.TapIn(warn.ID, "🪧 Make a poster for many people"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	valid = messageByID(op, warn.ID)
	if !strings.Contains(valid.Text, "How long") || !strings.Contains(flatText(labelsOf(valid)), "90 days") {
		t.Fatalf("poster instead:\n%s", valid.Text)
	}
	if err := op.u.TapIn(warn.ID, "90 days"); err != nil {
		t.Fatal(err)
	}
	op.wait()
	if last := op.u.Chat().Last(); last.Kind != telegramtest.KindPhoto || !strings.Contains(messageByID(op, warn.ID).Text, "Kind: 🪧 Poster for the desk") {
		t.Fatalf("no poster:\n%s", op.u.Transcript())
	}
	if n := r.count(`SELECT count(*) FROM invites WHERE max_uses IS NULL AND service_id = $1 AND form = 'immigrati'`, r.romaAnagrafe); n != 2 {
		t.Fatalf("%d poster invites, want 2", n)
	}
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func flatText(rows [][]string) string { return strings.Join(flat(rows), "|") }

func messageByID(p *person, id int) telegramtest.Message {
	for _, m := range p.u.Messages() {
		if m.ID == id {
			return m
		}
	}
	p.t.Fatalf("no message %d", id)
	return telegramtest.Message{}
}

// An invite whose token the bot cannot rebuild (made before tokens were
// derived from ids, or by `try`) is not printed with a wrong link: the bot
// says so and offers a new poster like it.
func TestReprintUnderivedInvite(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(840, "Ada", org.RoleAdmin, 0, 0, 0)
	if _, err := r.db.CreateInvite(context.Background(), pgstore.Invite{Token: "legacyLegacyLegacyLe", Form: "immigrati",
		MunicipalityID: r.roma, ServiceID: r.romaAnagrafe, OperatorID: ad.ID, Label: "Old desk"}); err != nil {
		t.Fatal(err)
	}
	a := r.person(840, "Ada")
	a.send("/invites")
	before := len(a.u.Messages())
	a.tap("🖨 Poster #1")
	got := a.u.Chat().LastFromBot()
	if len(a.u.Messages()) != before+1 || got.Kind == telegramtest.KindPhoto || !strings.Contains(got.Text, "Old desk cannot be printed again") {
		t.Fatalf("reprint of an underived invite:\n%s", a.u.Transcript())
	}
	if err := a.u.TapIn(got.ID, "🪧 Make a poster for many people"); err != nil {
		t.Fatal(err)
	}
	a.wait()
	if err := a.u.TapIn(got.ID, "90 days"); err != nil {
		t.Fatalf("%v\n%s", err, a.u.Transcript())
	}
	a.wait()
	last := a.u.Chat().Last()
	if last.Kind != telegramtest.KindPhoto || !strings.Contains(last.Text, "Old desk") {
		t.Fatalf("no new poster:\n%s", a.u.Transcript())
	}
	if n := r.count(`SELECT count(*) FROM invites WHERE label = 'Old desk' AND service_id = $1`, r.romaAnagrafe); n != 2 {
		t.Fatalf("%d invites labelled Old desk, want 2", n)
	}
}

// The invite menu's label can be typed in reply to the menu (a typed-input
// step of the menu toolkit), and Back returns to the previous question,
// passing over what was preset (an operator's municipality and desk).
func TestInviteTypedLabelAndBack(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(840, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(841, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	op := r.person(841, "Olga")
	ask := op.send("/invite")
	op.u.Reply(ask.ID, "Desk 9, first floor")
	op.wait()
	form := op.u.Chat().LastFromBot()
	if !strings.Contains(form.Text, "Desk 9, first floor") || !strings.Contains(form.Text, "Which questionnaire?") {
		t.Fatalf("after the typed label:\n%s", op.u.Transcript())
	}
	if got := labelsOf(op.u.Chat().Messages[indexOf(op.u.Chat().Messages, ask.ID)]); len(got) != 0 {
		t.Errorf("the answered menu keeps its buttons %v", got)
	}
	op.tap("Immigrants (service users)")
	op.tap("◀ Back")
	if back := op.u.Chat().LastFromBot(); !strings.Contains(back.Text, "Which questionnaire?") || !strings.Contains(back.Text, "Desk 9") {
		t.Fatalf("Back did not return to the questionnaire:\n%s", op.u.Transcript())
	}
	// Someone who is not staff replying to a staff menu is not handled
	// as staff: nothing is created.
	if n := r.count("SELECT count(*) FROM invites"); n != 0 {
		t.Fatalf("%d invites", n)
	}
}

func indexOf(ms []telegramtest.Message, id int) int {
	for i, m := range ms {
		if m.ID == id {
			return i
		}
	}
	return 0
}

// An admin's /directory first asks which municipality, then shows its
// list; its "add" menu waits for the name typed in reply.
func TestDirectoryAdminPicksMunicipality(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.enrol(850, "Ada", org.RoleAdmin, 0, 0, 0)
	ad := r.person(850, "Ada")
	if pick := ad.send("/directory"); !strings.Contains(pick.Text, "Which municipality's service directory?") {
		t.Fatalf("/directory by an admin:\n%s", ad.u.Transcript())
	}
	ad.tap("Roma")
	if list := ad.u.Chat().LastFromBot(); !strings.Contains(list.Text, "Service directory of Roma") {
		t.Fatalf("after picking Roma:\n%s", ad.u.Transcript())
	}
	ad.tap("➕ Add a service")
	if ask := ad.u.Chat().LastFromBot(); !strings.Contains(ask.Text, "What is the service called?") {
		t.Fatalf("add:\n%s", ad.u.Transcript())
	}
}
