package staff

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

var linkRe = regexp.MustCompile(`https://t\.me/[A-Za-z0-9_]+\?start=([A-Za-z0-9_-]+)`)

func tokenIn(t *testing.T, text string) string {
	t.Helper()
	m := linkRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no deep link in %q", text)
	}
	return m[1]
}

// A manager enrols an operator bound to a service; the operator's /invite
// skips the service question, the invite carries everything, the poster's
// QR code is the link, and a respondent opening it starts the right
// interview.
func TestInviteFlow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(800, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(801, "Marta", org.RoleManager, r.roma, 0, ad.ID)
	mgr := r.person(801, "Marta")
	mgr.send("/stafflink")
	mgr.tap("Operator")
	mgr.tap("Anagrafe")
	mgr.tap("7 days")
	created := mgr.u.Chat().LastFromBot()
	if !strings.Contains(created.Text, "Staff link for a new operator, Roma – Anagrafe") || len(created.Buttons) != 0 {
		t.Fatalf("staff link message:\n%s", created.Text)
	}
	tok := tokenIn(t, created.Text)
	if !IsStaffToken(tok) || len(tok) > 64 {
		t.Fatalf("staff token %q", tok)
	}
	// A double tap on the last button makes no second link.
	if err := mgr.u.TapIn(created.ID, "7 days"); err == nil {
		t.Fatal("the used menu still has buttons")
	}

	op := r.person(802, "Olga")
	op.u.Start(tok)
	op.wait()
	if got := op.u.Chat().LastFromBot().Text; !strings.Contains(got, "You are now operator for Roma – Anagrafe") || !strings.Contains(got, "/invite") {
		t.Fatalf("welcome: %q", got)
	}
	if got := mgr.u.Chat().LastFromBot().Text; !strings.Contains(got, "Olga opened your staff link and is now operator for Roma – Anagrafe") {
		t.Fatalf("creator not told: %q", got)
	}
	// Opening it again says so, and changes nothing.
	op.u.Start(tok)
	op.wait()
	if got := op.u.Chat().LastFromBot().Text; !strings.Contains(got, "already enrolled") {
		t.Fatalf("second open: %q", got)
	}

	op.send("/invite Via Roma desk")
	op.tap("Immigrants (service users)")
	if q := op.u.Chat().LastFromBot(); !strings.Contains(q.Text, "What is it for?") {
		t.Fatalf("the bound service was not preselected:\n%s", q.Text)
	}
	op.tap("🪧 Poster for the desk (many people)")
	op.tap("30 days")
	msgs := op.u.Messages()
	summary, photo := msgs[len(msgs)-2], msgs[len(msgs)-1]
	// The label the wizard's menu showed stays on the summary that replaces
	// it (session 14: it was dropped there).
	for _, want := range []string{"Invite created", "Label: Via Roma desk\nKind: 🪧 Poster for the desk", "Immigrants (service users)", "Roma – Anagrafe", "Uses: unlimited", "Valid until"} {
		if !strings.Contains(summary.Text, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.Text)
		}
	}
	token := tokenIn(t, summary.Text)
	if IsStaffToken(token) || len(token) != 20 {
		t.Fatalf("invite token %q", token)
	}
	if photo.Kind != "photo" || photo.File == nil {
		t.Fatalf("no poster: %+v", photo)
	}
	if got := decodeQR(t, photo.File.Data); got != DeepLink(r.tg.BotUsername(), token) {
		t.Fatalf("QR code says %q", got)
	}
	if !strings.Contains(photo.Text, "Via Roma desk") {
		t.Fatalf("caption: %q", photo.Text)
	}
	var form, label string
	var svc, opID, maxUses int64
	var exp time.Time
	if err := r.pool.QueryRow(context.Background(), `SELECT form, label, service_id, operator_id, coalesce(max_uses, 0), expires_at FROM invites WHERE token_hash = $1`, pgstore.HashToken(token)).
		Scan(&form, &label, &svc, &opID, &maxUses, &exp); err != nil {
		t.Fatal(err)
	}
	if form != "immigrati" || label != "Via Roma desk" || svc != r.romaAnagrafe || maxUses != 0 ||
		exp.Sub(r.clock()) < 29*24*time.Hour || exp.Sub(r.clock()) > 31*24*time.Hour {
		t.Fatalf("stored invite: %s %q svc=%d max=%d exp=%v", form, label, svc, maxUses, exp)
	}
	// The same menu tapped again (a double tap) makes nothing more.
	data, _ := bot.Callback{Kind: bot.CbStaff, Option: inviteOpt(inviteDraft{Form: 1, Muni: r.roma, Svc: menu.Some(r.romaAnagrafe), Valid: menu.Some(30), Uses: menu.Some(usesPoster), Label: "Via Roma desk"})}.Encode()
	if err := op.u.TapData(summary.ID, data); err != nil {
		t.Fatal(err)
	}
	op.wait()
	if cbs := op.u.CallbackAnswers(); !strings.Contains(cbs[len(cbs)-1].Text, "already used") {
		t.Fatalf("double tap answered %q", cbs[len(cbs)-1].Text)
	}
	if n := r.count("SELECT count(*) FROM invites"); n != 1 {
		t.Fatalf("%d invites after a double tap", n)
	}

	// A respondent opens it: the interview starts in the invite's context.
	resp := r.person(803, "Amina")
	resp.u.Start(token)
	resp.wait()
	if q := resp.u.Chat().LastFromBot(); len(q.Buttons) == 0 || strings.Contains(q.Text, "need a link") {
		t.Fatalf("respondent with a valid invite:\n%s", resp.u.Transcript())
	}
	inv, err := r.h.Resolve(context.Background(), token, "p")
	if err != nil {
		t.Fatal(err)
	}
	var invID int64
	if err := r.pool.QueryRow(context.Background(), `SELECT id FROM invites`).Scan(&invID); err != nil {
		t.Fatal(err)
	}
	// The context names the invite by its id, never by its token.
	want := map[string]string{interview.CtxMunicipality: id10(r.roma), interview.CtxService: id10(r.romaAnagrafe),
		interview.CtxOperator: id10(opID), interview.CtxInvite: id10(invID), interview.CtxServiceCode: "anagrafe"}
	if inv.Form != "immigrati" || len(inv.Context) != len(want) {
		t.Fatalf("resolved %+v", inv)
	}
	for k, v := range want {
		if inv.Context[k] != v {
			t.Errorf("context %s = %q, want %q", k, inv.Context[k], v)
		}
	}
	op.send("/invites")
	if got := op.u.Chat().LastFromBot().Text; !strings.Contains(got, "Via Roma desk") || !strings.Contains(got, "started 2 · completed 0") {
		t.Fatalf("/invites:\n%s", got)
	}
	// The poster again, from /invites.
	op.tap("🖨 Poster #1")
	if last := op.u.Chat().Last(); last.Kind != "photo" || decodeQR(t, last.File.Data) != DeepLink(r.tg.BotUsername(), token) {
		t.Fatal("poster not sent again")
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action = 'invite.create' AND actor_id = $1", opID); n != 1 {
		t.Fatal("invite creation not audited")
	}
}

func id10(v int64) string { return itoa(v) }

// Staff links: an admin picks the municipality; links expire; a used link
// does not work for someone else; an admin cannot be re-roled by a link.
func TestStaffLinkFlow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.enrol(700, "Ada", org.RoleAdmin, 0, 0, 0)
	ad := r.person(700, "Ada")
	ad.send("/staff")
	ad.tap("➕ New staff link")
	ad.tap("Manager")
	ad.tap("Milano")
	ad.tap("1 day")
	tok := tokenIn(t, ad.u.Chat().LastFromBot().Text)

	// The admin themself opening it: no demotion.
	ad.u.Start(tok)
	ad.wait()
	if got := ad.u.Chat().LastFromBot().Text; !strings.Contains(got, "You are already staff: admin") {
		t.Fatalf("admin opening a manager link: %q", got)
	}
	r.advance(25 * time.Hour)
	late := r.person(701, "Luca")
	late.u.Start(tok)
	late.wait()
	if got := late.u.Chat().LastFromBot().Text; !strings.Contains(got, "expired") {
		t.Fatalf("expired link: %q", got)
	}
	if n := r.count("SELECT count(*) FROM staff WHERE telegram_user_id = 701"); n != 0 {
		t.Fatal("expired link enrolled someone")
	}
	// A fresh one works once.
	ad.send("/stafflink")
	ad.tap("Manager")
	ad.tap("Milano")
	ad.tap("7 days")
	tok = tokenIn(t, ad.u.Chat().LastFromBot().Text)
	late.u.Start(tok)
	late.wait()
	if got := late.u.Chat().LastFromBot().Text; !strings.Contains(got, "You are now manager for Milano") || !strings.Contains(got, "/results") {
		t.Fatalf("welcome: %q", got)
	}
	third := r.person(702, "Pia")
	third.u.Start(tok)
	third.wait()
	if got := third.u.Chat().LastFromBot().Text; !strings.Contains(got, "already used") {
		t.Fatalf("used link: %q", got)
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action = 'staff.enrol'"); n != 1 {
		t.Fatalf("%d enrolments audited", n)
	}
}

// Bad tokens: each explained, then rate limited per user.
func TestResolveErrorsAndLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	ad := r.enrol(600, "Ada", org.RoleAdmin, 0, 0, 0)
	mk := func(tok string, exp time.Time, maxUses int) {
		if _, err := r.db.CreateInvite(ctx, pgstore.Invite{Token: tok, Form: "immigrati", MunicipalityID: r.roma, OperatorID: ad.ID, ExpiresAt: exp, MaxUses: maxUses}); err != nil {
			t.Fatal(err)
		}
	}
	mk("expiredexpiredexpire", r.clock().Add(-time.Minute), 0)
	mk("onceonceonceonceonce", time.Time{}, 1)
	mk("revokedrevokedrevoke", time.Time{}, 0)
	if _, err := r.pool.Exec(ctx, "UPDATE invites SET revoked_at = now() WHERE token_hash = $1", pgstore.HashToken("revokedrevokedrevoke")); err != nil {
		t.Fatal(err)
	}
	if inv, err := r.h.Resolve(ctx, "onceonceonceonceonce", "u1"); err != nil || inv.Context[interview.CtxServiceCode] != "" || inv.Context[interview.CtxService] != "" {
		t.Fatalf("first use: %+v %v", inv, err)
	}
	cases := []struct {
		token string
		want  error
	}{
		{"expiredexpiredexpire", interview.ErrInviteExpired},
		{"onceonceonceonceonce", interview.ErrInviteExhausted},
		{"revokedrevokedrevoke", interview.ErrInviteRevoked},
		{"nosuchtokennosuchtok", interview.ErrInviteUnknown},
		{"bad token!", interview.ErrInviteUnknown},
		{"nosuchtokennosuchtok", interview.ErrInviteLimited}, // the sixth bad token in 10 minutes
	}
	for _, tc := range cases {
		if _, err := r.h.Resolve(ctx, tc.token, "u2"); !errors.Is(err, tc.want) {
			t.Errorf("Resolve(%q) = %v, want %v", tc.token, err, tc.want)
		}
	}
	// Staff links are not invites.
	if _, err := r.h.Resolve(ctx, "staff-abcdefabcdefabcdef", "u4"); !errors.Is(err, interview.ErrInviteUnknown) {
		t.Fatalf("staff token as an invite: %v", err)
	}
	// Another user is not limited; a limited user gets the message in chat.
	if _, err := r.h.Resolve(ctx, "nosuchtokennosuchtok", "u3"); !errors.Is(err, interview.ErrInviteUnknown) {
		t.Fatalf("other user: %v", err)
	}
	p := r.person(601, "Zed")
	for i := range 6 {
		p.u.Start("wrongwrongwrongwrong")
		p.wait()
		got := p.u.Chat().LastFromBot().Text
		if i < 5 && got != r.render(bot.MsgInviteUnknown) {
			t.Fatalf("bad token %d: %q", i, got)
		}
		if i == 5 && got != r.render(bot.MsgInviteLimited) {
			t.Fatalf("sixth bad token: %q", got)
		}
	}
}

func (r *rig) render(id string) string {
	cat, _ := locales.New()
	return bot.NewRenderer(cat).Plain("en", id, nil)
}

func TestMunicipalitiesCommand(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.enrol(500, "Ada", org.RoleAdmin, 0, 0, 0)
	ad := r.person(500, "Ada")
	for _, tc := range []struct{ cmd, want string }{
		{"/municipalities", "058091 Roma – 5 services"},
		{"/municipalities add 048017 Firenze", "Firenze (048017) added"},
		{"/municipalities add 048017 Firenze", "already exists"},
		{"/municipalities add 48017 Firenze", "six-digit ISTAT code"},
		{"/municipalities service 048017 sportello_immigrati Sportello immigrati", "Service Sportello immigrati (sportello_immigrati) added to Firenze"},
		{"/municipalities service 048017 sportello_immigrati Altro", "already has a service sportello_immigrati"},
		{"/municipalities service 048017 Bad-Code Altro", "lowercase letters"},
		{"/municipalities service 999999 x Altro", "No municipality has ISTAT code 999999"},
		{"/municipalities", "048017 Firenze – 1 service"},
		{"/municipalities frobnicate", "Add a municipality"},
	} {
		if got := ad.send(tc.cmd).Text; !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	if n := r.count("SELECT count(*) FROM audit_log WHERE action IN ('municipality.add', 'service.add')"); n != 2 {
		t.Fatalf("%d additions audited, want 2", n)
	}
}

// /help tells a member of staff their own commands, each role its own,
// below the respondents' help; a respondent gets the respondents' help
// alone. Before, staff saw their commands once, at enrolment: /help and
// the command menu listed the respondents' commands only, so a manager
// who forgot /results had no way to find it.
func TestHelpListsStaffCommands(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ad := r.enrol(830, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(831, "Marta", org.RoleManager, r.roma, 0, ad.ID)
	r.enrol(832, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	for _, c := range []struct {
		user       int64
		want, not  string
		staffLines bool
	}{
		{830, "/municipalities", "", true},
		{831, "/results", "/municipalities", true},
		{832, "/invites", "/results", true},
		{833, "", "Your commands", false},
	} {
		p := r.person(c.user, "P")
		p.send("/help")
		var texts []string
		for _, m := range p.u.Chat().Messages {
			if m.FromBot {
				texts = append(texts, m.Text)
			}
		}
		all := strings.Join(texts, "\n---\n")
		if !strings.Contains(all, "/privacy") {
			t.Errorf("user %d: no respondents' help:\n%s", c.user, all)
		}
		if c.staffLines && (!strings.Contains(all, "Your commands:") || !strings.Contains(all, c.want)) {
			t.Errorf("user %d: /help does not list %s:\n%s", c.user, c.want, all)
		}
		if c.not != "" && strings.Contains(all, c.not) {
			t.Errorf("user %d: /help lists %s:\n%s", c.user, c.not, all)
		}
	}
}

// The label prompt of /invite asks for the desk or the event, never a
// person, in both staff languages: it suggested "the person it is for",
// against the operators' guide ("never a person's name"); the label is
// kept with the invite and the answers it gathers.
func TestInviteLabelPromptAsksForNoName(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for lang, c := range map[string]struct{ bad, warn string }{
		"en": {"the person it is for", "never a person's name"},
		"it": {"la persona a cui", "mai il nome di una persona"},
	} {
		text := r.h.text(&bot.Request{Lang: lang, Renderer: bot.NewRenderer(r.cat)}, msgInviteAskLabel, nil)
		if strings.Contains(text, c.bad) || !strings.Contains(text, c.warn) {
			t.Errorf("%s: the label prompt does not warn against names:\n%s", lang, text)
		}
	}
}
