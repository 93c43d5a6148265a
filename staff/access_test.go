package staff

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// cast is one person per role, plus a revoked operator.
type cast struct {
	people  map[string]*person
	members map[string]pgstore.Staff
	invRoma pgstore.Invite // made by the Roma operator
	invMil  pgstore.Invite // made by the admin, in Milano
}

// Roles of the access tables.
const (
	none     = "none"
	operator = "operator"          // Roma
	manager  = "manager"           // Roma
	other    = "manager of Milano" // another municipality
	admin    = "admin"
	revoked  = "revoked operator"
)

var roles = []string{none, operator, manager, other, admin, revoked}

func (r *rig) cast() *cast {
	r.t.Helper()
	c := &cast{people: map[string]*person{}, members: map[string]pgstore.Staff{}}
	ad := r.enrol(900, "Ada", org.RoleAdmin, 0, 0, 0)
	c.members[admin] = ad
	c.members[manager] = r.enrol(901, "Marta", org.RoleManager, r.roma, 0, ad.ID)
	c.members[other] = r.enrol(902, "Mirko", org.RoleManager, r.milano, 0, ad.ID)
	c.members[operator] = r.enrol(903, "Olga", org.RoleOperator, r.roma, 0, c.members[manager].ID)
	rv := r.enrol(904, "Rino", org.RoleOperator, r.roma, 0, c.members[manager].ID)
	if _, err := r.db.RevokeStaff(context.Background(), ad.ID, rv.ID, 0); err != nil {
		r.t.Fatal(err)
	}
	c.members[revoked] = rv
	ids := map[string]int64{none: 905, admin: 900, manager: 901, other: 902, operator: 903, revoked: 904}
	for _, role := range roles {
		c.people[role] = r.person(ids[role], role)
		c.people[role].send("/help") // the chat exists, with a message to tap on
	}
	var err error
	c.invRoma, err = r.db.CreateInvite(context.Background(), pgstore.Invite{Token: "RomaRomaRomaRomaRoma", Form: "immigrati",
		MunicipalityID: r.roma, OperatorID: c.members[operator].ID})
	if err != nil {
		r.t.Fatal(err)
	}
	c.invMil, err = r.db.CreateInvite(context.Background(), pgstore.Invite{Token: "MilanoMilanoMilanoMi", Form: "immigrati",
		MunicipalityID: r.milano, OperatorID: ad.ID})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// Every staff command against every role: who lacks the role gets exactly
// the unknown-command answer.
func TestCommandsByRole(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.cast()
	unknown := c.people[none].send("/nosuchcommand").Text
	if !strings.Contains(unknown, "don't know this command") {
		t.Fatalf("unknown command answer: %q", unknown)
	}
	staffAll := []string{operator, manager, other, admin}
	managers := []string{manager, other, admin}
	cases := []struct {
		cmd     string
		allowed []string
		want    string // in the reply of those allowed
	}{
		{"/invite", staffAll, "send /invite followed by the label"},
		{"/invite Via Roma desk", staffAll, "Label: Via Roma desk"},
		{"/invites", staffAll, "Invites"},
		{"/staff", managers, "Staff"},
		{"/stafflink", managers, "Which role"},
		{"/municipalities", []string{admin}, "Municipalities"},
		{"/municipalities add 048017 Firenze", []string{admin}, "Firenze (048017) added"},
		// No results package wired: unknown for everyone.
		{"/results", nil, ""},
		{"/export", nil, ""},
	}
	for _, tc := range cases {
		for _, role := range roles {
			got := c.people[role].send(tc.cmd).Text
			allowed := slices.Contains(tc.allowed, role)
			switch {
			case allowed && (got == unknown || !strings.Contains(got, tc.want)):
				t.Errorf("%s by %s: %q, want it handled with %q", tc.cmd, role, got, tc.want)
			case !allowed && got != unknown:
				t.Errorf("%s by %s: %q, want exactly the unknown-command answer", tc.cmd, role, got)
			}
		}
	}
	if n := r.count("SELECT count(*) FROM municipalities WHERE istat_code = '048017'"); n != 1 {
		t.Fatalf("Firenze added %d times", n)
	}
}

// /results and /export go to Results only for managers and admins.
func TestResultsDispatch(t *testing.T) {
	t.Parallel()
	r := newRig(t, withResults)
	c := r.cast()
	unknown := c.people[none].send("/nosuchcommand").Text
	stale := c.people[none].tapData("Q")
	for _, role := range roles {
		p := c.people[role]
		got := p.send("/results").Text
		ans := p.tapData("r:page2")
		ok := role == manager || role == other || role == admin
		if ok != (got != unknown) || ok != (ans == "results") {
			t.Errorf("%s: /results → %q, r: button → %q", role, got, ans)
		}
		if !ok && ans != stale {
			t.Errorf("%s: results button answered %q, want the stale notice", role, ans)
		}
	}
	want := []string{"cmd:results:manager", "cb:page2:manager", "cmd:results:manager", "cb:page2:manager", "cmd:results:admin", "cb:page2:admin"}
	if !slices.Equal(r.results.calls, want) {
		t.Fatalf("results calls = %v, want %v", r.results.calls, want)
	}

	// /results runs on the work queue once per update: a redelivered
	// update (same id) does not run it again, a new one does.
	mgr := c.members[manager]
	req := &bot.Request{Chat: mgr.TelegramUserID, User: mgr.TelegramUserID, Lang: "en", Sender: r.sender,
		Renderer: bot.NewRenderer(r.cat), Update: 987654}
	for range 2 {
		if ok, err := r.h.Command(context.Background(), req, "results", ""); !ok || err != nil {
			t.Fatalf("/results: %v %v", ok, err)
		}
	}
	r.h.Wait()
	req.Update++
	if ok, err := r.h.Command(context.Background(), req, "results", ""); !ok || err != nil {
		t.Fatalf("/results: %v %v", ok, err)
	}
	r.h.Wait()
	if n := len(r.results.calls) - len(want); n != 2 {
		t.Fatalf("a redelivered /results ran %d times over two updates, want 2: %v", n, r.results.calls)
	}
}

// Every kind of staff button, well-formed, forged and out of scope,
// against every role: a button is handled only for a role and scope that
// may use it; everyone else gets the stale-button notice and nothing
// happens.
func TestButtonsByRole(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.cast()
	stale := c.people[none].tapData("Q")
	if !strings.Contains(stale, "earlier question") {
		t.Fatalf("stale notice: %q", stale)
	}
	staffAll := []string{operator, manager, other, admin}
	m := c.members
	link := func(role org.Role, muni, svc int64, days int) string {
		return linkOpt(linkDraft{Role: role, Muni: opt(muni, 0), Svc: opt(svc, -1), Days: days})
	}
	inv := func(form int, muni, svc int64, valid, uses int, label string) string {
		return inviteOpt(inviteDraft{Form: form, Muni: muni, Svc: opt(svc, -1), Valid: opt(int64(valid), -1), Uses: opt(int64(uses), -1), Label: label})
	}
	ask := func(kind byte, id int64) string { return actionOpt(kind, idAction{ID: id}) }
	cases := []struct {
		name    string
		opt     string
		allowed []string
	}{
		{"cancel", "C", staffAll},
		{"new staff link", string(menu.Link) + newLinkPayload, []string{manager, other, admin}},
		{"operator link for Roma", link(org.RoleOperator, r.roma, -1, 0), []string{manager, admin}},
		{"operator link for Milano", link(org.RoleOperator, r.milano, -1, 0), []string{other, admin}},
		{"manager link, municipality to choose", link(org.RoleManager, 0, -1, 0), []string{manager, other, admin}},
		{"admin link", link(org.RoleAdmin, 0, -1, 0), []string{admin}},
		{"admin link with a municipality", link(org.RoleAdmin, r.roma, -1, 0), nil},
		{"Roma operator at a Milano service", link(org.RoleOperator, r.roma, r.milanoS, 0), nil},
		{"manager bound to a service", link(org.RoleManager, r.roma, r.romaAnagrafe, 0), nil},
		{"validity not offered", link(org.RoleOperator, r.roma, 0, 3), nil},
		{"validity before service", link(org.RoleOperator, r.roma, -1, 7), nil},
		{"unknown municipality", link(org.RoleOperator, 999999, -1, 0), nil},
		{"invite for Roma", inv(0, r.roma, -1, -1, -1, ""), []string{operator, manager, admin}},
		{"invite for Roma with a label", inv(1, r.roma, r.romaAnagrafe, -1, -1, "Desk 1"), []string{operator, manager, admin}},
		{"invite for Milano", inv(1, r.milano, -1, -1, -1, ""), []string{other, admin}},
		{"invite, municipality to choose", inv(1, 0, -1, -1, -1, ""), []string{admin}},
		{"invite for an unknown questionnaire", inv(9, r.roma, -1, -1, -1, ""), nil},
		{"invite at a service of another municipality", inv(1, r.roma, r.milanoS, -1, -1, ""), nil},
		{"invite validity before service", inv(1, r.roma, -1, 7, -1, ""), nil},
		{"invite validity not offered", inv(1, r.roma, 0, 5, -1, ""), nil},
		{"invite size not offered", inv(1, r.roma, 0, 7, 2, ""), nil},
		{"invite label with a newline", "I1." + id36(r.roma) + "....a\nb", nil},
		{"invite label too long", inv(1, r.roma, -1, -1, -1, strings.Repeat("x", maxLabel+1)), nil},
		{"ask to revoke the Roma operator", ask(optRevokeStaff, m[operator].ID), []string{manager, admin}},
		{"ask to revoke the Milano manager", ask(optRevokeStaff, m[other].ID), []string{admin}},
		{"ask to revoke the admin", ask(optRevokeStaff, m[admin].ID), nil}, // not even themselves
		{"ask to revoke nobody", ask(optRevokeStaff, 999999), nil},
		{"ask to revoke the Roma invite", ask(optRevokeInvite, c.invRoma.ID), []string{operator, manager, admin}},
		{"ask to revoke the Milano invite", ask(optRevokeInvite, c.invMil.ID), []string{other, admin}},
		{"poster of the Roma invite", ask(optPoster, c.invRoma.ID), []string{operator, manager, admin}},
		{"poster of the Milano invite", ask(optPoster, c.invMil.ID), []string{other, admin}},
		{"results without a results package", "r:x", nil},
		{"unknown kind", "Q1", nil},
		{"link, bad role", "Lz....", nil},
		{"link, not canonical", "Lo.0" + id36(r.roma) + "...", nil},
		{"link, missing fields", "Lo", nil},
		{"revoke id 0", "X?0", nil},
		{"revoke, no id", "V!", nil},
		{"revoke, not canonical", "X?0" + id36(m[operator].ID), nil},
		{"poster, negative id", "P-1", nil},
		{"cancel with junk", "Cx", nil},
	}
	for _, tc := range cases {
		for _, role := range roles {
			p := c.people[role]
			before := len(p.u.Messages())
			ans := p.tapData(tc.opt)
			handled := ans != stale
			allowed := slices.Contains(tc.allowed, role)
			if handled != allowed {
				t.Errorf("%s (%q) by %s: handled=%v (answer %q), want %v", tc.name, tc.opt, role, handled, ans, allowed)
			}
			if !allowed && len(p.u.Messages()) != before {
				t.Errorf("%s by %s: a refused button sent a message:\n%s", tc.name, role, p.u.Transcript())
			}
		}
	}
	// Nothing changed hands: every member active but the revoked one, both
	// invites active, no staff link, invite or revocation made.
	if n := r.count("SELECT count(*) FROM staff WHERE revoked_at IS NULL"); n != 4 {
		t.Errorf("%d active staff, want 4", n)
	}
	if n := r.count("SELECT count(*) FROM invites WHERE revoked_at IS NULL"); n != 2 {
		t.Errorf("%d active invites, want 2", n)
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action IN ('staff.revoke', 'invite.revoke', 'invite.create', 'staff.link.create')"); n != 4+1+2 {
		t.Errorf("%d changes audited, want only the fixture's", n)
	}
}

// Revocations through buttons: forged confirmations out of scope change
// nothing; in scope they revoke, are audit-logged, and take effect at the
// member's next command.
func TestRevokeByButtons(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.cast()
	stale := c.people[none].tapData("Q")
	m := c.members
	do := func(kind byte, id int64) string { return actionOpt(kind, idAction{Confirm: true, ID: id}) }
	// A second Roma operator, who must not touch the first one's invite.
	r.enrol(906, "Otto", org.RoleOperator, r.roma, 0, m[manager].ID)
	otto := r.person(906, "Otto")
	otto.send("/help")

	refused := []struct {
		who *person
		opt string
	}{
		{c.people[other], do(optRevokeStaff, m[operator].ID)},
		{c.people[operator], do(optRevokeStaff, m[manager].ID)},
		{c.people[manager], do(optRevokeStaff, m[admin].ID)},
		{c.people[manager], do(optRevokeInvite, c.invMil.ID)},
		{otto, do(optRevokeInvite, c.invRoma.ID)},
		{c.people[revoked], do(optRevokeInvite, c.invRoma.ID)},
		{c.people[none], do(optRevokeInvite, c.invRoma.ID)},
	}
	for _, tc := range refused {
		if ans := tc.who.tapData(tc.opt); ans != stale {
			t.Errorf("%q by user %d: %q, want refused", tc.opt, tc.who.u.ID(), ans)
		}
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action LIKE '%.revoke'"); n != 1 { // the fixture's
		t.Fatalf("a refused revocation was carried out")
	}

	// The Roma manager revokes the operator: ask, confirm.
	mgr := c.people[manager]
	mgr.send("/staff")
	listing := mgr.u.Chat().LastFromBot()
	if !strings.Contains(listing.Text, "Olga") || !strings.Contains(listing.Text, "(you)") || strings.Contains(listing.Text, "Mirko") {
		t.Fatalf("/staff of the Roma manager:\n%s", listing.Text)
	}
	mgr.tap(revokeLabel(t, listing, "Olga"))
	if last := mgr.u.Chat().LastFromBot(); !strings.Contains(last.Text, "Revoke Olga") || !strings.Contains(last.Text, "the invites they made stop working") {
		t.Fatalf("confirmation: %q", last.Text)
	}
	mgr.tap("Yes, revoke")
	if last := mgr.u.Chat().LastFromBot(); !strings.Contains(last.Text, "has been revoked") || len(last.Buttons) != 0 {
		t.Fatalf("after revoking: %+v", last)
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action = 'staff.revoke' AND actor_id = $1 AND (detail->>'staff_id')::bigint = $2",
		m[manager].ID, m[operator].ID); n != 1 {
		t.Fatal("revocation not audited")
	}
	// Tapping the confirmation again: already done.
	if ans := mgr.tapData(do(optRevokeStaff, m[operator].ID)); !strings.Contains(ans, "Already done") {
		t.Fatalf("second confirmation: %q", ans)
	}
	// The revoked operator now gets what anyone gets, and their invite
	// stops working: an invite is worth what its maker may still do.
	unknown := c.people[none].send("/nosuchcommand").Text
	if got := c.people[operator].send("/invites").Text; got != unknown {
		t.Fatalf("revoked operator's /invites: %q", got)
	}
	if _, err := r.h.Resolve(context.Background(), c.invRoma.Token, "someone"); !errors.Is(err, interview.ErrInviteRevoked) {
		t.Fatalf("the revoked operator's invite: %v, want ErrInviteRevoked", err)
	}
	if got := mgr.send("/invites").Text; !strings.Contains(got, "revoked") {
		t.Fatalf("the manager's /invites does not show the revoked operator's invite as revoked:\n%s", got)
	}

	// The admin revokes the Milano invite from /invites.
	ad := c.people[admin]
	ad.send("/invites")
	ad.tap(revokeLabel(t, ad.u.Chat().LastFromBot(), "Milano"))
	ad.tap("Yes, revoke")
	if _, err := r.h.Resolve(context.Background(), c.invMil.Token, "someone"); err == nil {
		t.Fatal("revoked invite still resolves")
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action = 'invite.revoke' AND actor_id = $1", m[admin].ID); n != 1 {
		t.Fatal("invite revocation not audited")
	}
}

// revokeLabel finds the ✖ button of the listed item whose line mentions
// who ("3. Olga – operator, Roma" → "✖ Revoke #3").
func revokeLabel(t *testing.T, m telegramtest.Message, who string) string {
	t.Helper()
	for _, line := range strings.Split(m.Text, "\n") {
		n, rest, ok := strings.Cut(line, ". ")
		if ok && strings.Contains(rest, who) {
			label := "✖ Revoke #" + n
			if _, ok := m.Button(label); ok {
				return label
			}
		}
	}
	t.Fatalf("no revoke button for %s in:\n%s\n%v", who, m.Text, m.Labels())
	return ""
}

// The staff buttons' Options as the tests write them: the route, then
// the draft; -1 (or 0 where said) in a test table means "not chosen".
const (
	optRevokeStaff  = 'X'
	optRevokeInvite = 'V'
	optPoster       = 'P'
)

func opt(v, unset int64) menu.Opt {
	if v == unset {
		return menu.Opt{}
	}
	return menu.Some(v)
}

func linkOpt(d linkDraft) string     { return string(menu.Link) + d.encode() }
func inviteOpt(d inviteDraft) string { return string(menu.Invite) + d.encode() }

func actionOpt(kind byte, a idAction) string {
	a.poster = kind == optPoster && !a.Confirm
	return string(kind) + a.encode()
}
