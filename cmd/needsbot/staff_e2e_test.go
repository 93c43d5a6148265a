package main

import (
	"bytes"
	"context"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/pgstore"
)

var deepLinkRe = regexp.MustCompile(`https://t\.me/[A-Za-z0-9_]+\?start=([A-Za-z0-9_-]+)`)

func linkIn(t *testing.T, m telegramtest.Message) (link, token string) {
	t.Helper()
	got := deepLinkRe.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("no deep link in %q", m.Text)
	}
	return got[0], got[1]
}

func decodeQR(t *testing.T, data []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("poster is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code in the poster: %v", err)
	}
	return res.GetText()
}

// The whole operator story through `needsbot run`: the admin from
// NEEDSBOT_ADMIN_IDS enrols a manager through a staff link, the manager
// enrols an operator, the operator creates an invite with its QR poster,
// two people answer through it, /invites counts them, and Postgres
// attributes both responses to the invite's municipality, service and
// operator.
func TestEndToEndStaffAndInvites(t *testing.T) {
	t.Parallel()
	// Telegram's per-chat pace (about 1 message/s) is the other tests'
	// subject: here two whole interviews run at full speed.
	h := newHarness(t, telegramtest.WithoutRateLimits())
	h.env["NEEDSBOT_TELEGRAM_CHAT_RATE"] = "100"
	delete(h.env, "NEEDSBOT_DEFAULT_MUNICIPALITY") // only invites start interviews
	h.env["NEEDSBOT_ADMIN_IDS"] = "7000001"
	h.start()
	staffer := func(id int64, name string) *respondent {
		return &respondent{t: t, u: h.tg.User(id, telegramtest.FirstName(name), telegramtest.LanguageCode("en"))}
	}
	admin, manager, operator := staffer(7000001, "Ada"), staffer(7000002, "Marta"), staffer(7000003, "Olga")
	outsider := &respondent{t: t, u: h.tg.User(7000009, telegramtest.FirstName("Nemo"), telegramtest.LanguageCode("en"))}

	// Staff commands reveal nothing to others; without an invite there is
	// no interview.
	outsider.send("/nosuchcommand")
	unknown := outsider.u.Last().Text
	for _, cmd := range []string{"/staff", "/stafflink", "/invite", "/invites", "/municipalities", "/results", "/export"} {
		outsider.send(cmd)
		if got := outsider.u.Last().Text; got != unknown {
			t.Fatalf("%s by a non-member: %q, want %q", cmd, got, unknown)
		}
	}
	outsider.send("/start")
	if got := outsider.u.Last().Text; !strings.Contains(got, "need a link") {
		t.Fatalf("/start without invite: %q", got)
	}

	// Admin → manager of Roma.
	admin.send("/stafflink")
	admin.tap("Manager")
	admin.tap("Roma")
	admin.tap("7 days")
	_, tok := linkIn(t, admin.u.Last())
	manager.u.Start(tok)
	manager.wait()
	if got := manager.u.Last().Text; !strings.Contains(got, "You are now manager for Roma") {
		t.Fatalf("manager's welcome: %q", got)
	}
	if got := admin.u.Last().Text; !strings.Contains(got, "Marta opened your staff link") {
		t.Fatalf("admin not told: %q", got)
	}

	// Manager → operator at the Sportello immigrati.
	manager.send("/staff")
	manager.tap("➕ New staff link")
	if got := manager.question().Labels(); len(got) != 2 || got[0][0] != "Manager" || got[0][1] != "Operator" {
		t.Fatalf("a manager is offered %v (never admin)", got)
	}
	manager.tap("Operator")
	manager.tap("Sportello immigrati")
	manager.tap("7 days")
	_, tok = linkIn(t, manager.u.Last())
	operator.u.Start(tok)
	operator.wait()
	if got := operator.u.Last().Text; !strings.Contains(got, "You are now operator for Roma – Sportello immigrati") {
		t.Fatalf("operator's welcome: %q", got)
	}
	if got := manager.u.Last().Text; !strings.Contains(got, "Olga opened your staff link") {
		t.Fatalf("manager not told: %q", got)
	}

	// The operator makes an invite; the poster's QR code is its link.
	operator.send("/invite Sala d'attesa")
	operator.tap("Immigrants (service users)")
	operator.tap("🪧 Poster for the desk (many people)")
	operator.tap("30 days")
	msgs := operator.u.Messages()
	summary, poster := msgs[len(msgs)-2], msgs[len(msgs)-1]
	link, token := linkIn(t, summary)
	if poster.Kind != telegramtest.KindPhoto || poster.File == nil {
		t.Fatalf("no poster after the summary:\n%s", operator.u.Transcript())
	}
	if got := decodeQR(t, poster.File.Data); got != link {
		t.Fatalf("the QR code says %q, the link is %q", got, link)
	}

	// Two people answer through it.
	for i, id := range []int64{7100001, 7100002} {
		r := &respondent{t: t, u: h.tg.User(id, telegramtest.FirstName("Resp"), telegramtest.LanguageCode("it"))}
		r.u.Start(token)
		r.wait()
		if got := r.u.Last().Text; strings.Contains(got, "link") && len(r.u.Last().Buttons) == 0 {
			t.Fatalf("respondent %d with a valid invite: %q", i, got)
		}
		r.tap("Italiano")
		n := r.answerRest("Grazie mille")
		t.Logf("respondent %d answered %d questions", i, n)
		if strings.Contains(r.u.Transcript(), "Quale servizio") {
			t.Fatal("the service was asked although the invite names it")
		}
	}

	// /invites counts the completions in Postgres, which the drainer
	// writes after the thank-you: wait for them.
	h.drained()
	operator.send("/invites")
	if got := operator.u.Last().Text; !strings.Contains(got, "Sala d'attesa") || !strings.Contains(got, "started 2 · completed 2") {
		t.Fatalf("/invites:\n%s", got)
	}
	n := h.count(`SELECT count(*) FROM responses r
		JOIN invites i ON i.id = r.invite_id
		JOIN municipalities m ON m.id = r.municipality_id
		JOIN services s ON s.id = r.service_id
		JOIN staff o ON o.id = r.operator_id
		WHERE i.token_hash = $1 AND m.istat_code = '058091' AND s.code = 'sportello_immigrati'
			AND o.telegram_user_id = 7000003 AND o.role = 'operator' AND r.form = 'immigrati'
			AND r.municipality_id = i.municipality_id AND r.service_id = i.service_id AND r.operator_id = i.operator_id`, pgstore.HashToken(token))
	if n != 2 {
		t.Fatalf("%d responses attributed to the invite's municipality, service and operator, want 2", n)
	}
	var servizio string
	if err := h.db().QueryRow(context.Background(), `SELECT DISTINCT value FROM answers WHERE question = 'invite_servizio'`).Scan(&servizio); err != nil || servizio != "sportello_immigrati" {
		t.Fatalf("hidden field invite_servizio = %q, %v", servizio, err)
	}
	for action, want := range map[string]int{"staff.bootstrap": 1, "staff.link.create": 2, "staff.enrol": 2, "invite.create": 1} {
		if got := h.count(`SELECT count(*) FROM audit_log WHERE action = $1`, action); got != want {
			t.Errorf("audit log: %d %s, want %d", got, action, want)
		}
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Fatalf("Bot API limits violated: %+v", vs)
	}
	logs := h.logs.String()
	for _, secret := range []string{token, "7100001", "7100002"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("%q in the logs", secret)
		}
	}
}

// Restarting with the same NEEDSBOT_ADMIN_IDS adds nothing to the audit
// log; a revoked admin still listed there stays revoked (a restart must
// not undo a revocation), with a warning in the log.
func TestEndToEndAdminBootstrap(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["NEEDSBOT_ADMIN_IDS"] = "7000001, 7000002"
	h.start()
	h.shutdown()
	if _, err := h.db().Exec(context.Background(), `UPDATE staff SET revoked_at = now() WHERE telegram_user_id = 7000002`); err != nil {
		t.Fatal(err)
	}
	h.start() // returns once this second run has registered its commands
	if n := h.count(`SELECT count(*) FROM staff WHERE role = 'admin' AND revoked_at IS NULL`); n != 1 {
		t.Fatalf("%d active admins, want 1 (the revoked one left revoked)", n)
	}
	if n := h.count(`SELECT count(*) FROM staff WHERE telegram_user_id = 7000002 AND revoked_at IS NOT NULL`); n != 1 {
		t.Fatal("the revoked admin was reinstated by a restart")
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE action = 'staff.bootstrap'`); n != 2 {
		t.Fatalf("%d bootstrap entries, want 2 (the two first starts, nothing at the restart)", n)
	}
	if !strings.Contains(h.logs.String(), "NEEDSBOT_ADMIN_IDS lists a revoked admin") {
		t.Fatal("no warning about the revoked admin listed in NEEDSBOT_ADMIN_IDS")
	}
}
