package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestPublishedFormEndToEnd: a questionnaire that exists only as an .xlsx
// fixture (not YAML, not named in Go) is published from the shell —
// refused a second time, for its complete languages only — and the real
// binary, started afterwards, runs it: two respondents answer it end to
// end in Italian and in English through an invite, and their responses
// are stored under its published version. Retiring it keeps the version
// readable and takes it off the invite menu.
func TestPublishedFormEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, h.dsn); err != nil {
		t.Fatal(err)
	}
	form := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"form"}, args...), func(k string) string { return h.env[k] }, nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	var admin int64
	if err := h.db().QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (9990001, 'admin') RETURNING id").Scan(&admin); err != nil {
		t.Fatal(err)
	}
	code, out, errs := form("publish", "testdata/forms/vicinato.xlsx", "--by", itoa64(admin))
	m := regexp.MustCompile(`published (\w+) version (\d+) for (.*)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("publish = %d\n%s%s", code, out, errs)
	}
	id := m[1]
	// The workbook has French labels for some rows only: published for
	// the complete languages, and it says which are left out.
	if m[2] != "1" || m[3] != "en it" || !strings.Contains(out, "not published for fr") {
		t.Errorf("publish output:\n%s", out)
	}
	if code, _, errs := form("publish", "testdata/forms/vicinato.xlsx"); code != 1 || !strings.Contains(errs, "already published") {
		t.Errorf("second publish = %d %s", code, errs)
	}
	if code, out, _ := form("list"); code != 0 || !strings.Contains(out, id+" v1\ten it") || !strings.Contains(out, "by staff "+itoa64(admin)+"\tlive") {
		t.Errorf("list = %d\n%s", code, out)
	}
	if code, out, _ := form("show", id); code != 0 || !strings.Contains(out, "audience respondents, 7 questions, default language en") {
		t.Errorf("show = %d\n%s", code, out)
	}

	// An invite to the published form, then the real bot.
	token := "e2epublishedform0001"
	if _, err := h.db().Exec(ctx, `INSERT INTO invites (token_hash, form, municipality_id, label)
		SELECT $1, $2, id, 'e2e' FROM municipalities WHERE istat_code = '058091'`, pgstore.HashToken(token), id); err != nil {
		t.Fatal(err)
	}
	h.start()
	answer := func(userID int64, lang, pickLang string, steps []string) {
		u := h.tg.User(userID, telegramtest.LanguageCode(lang))
		r := &respondent{t: t, u: u}
		r.send("/start " + token)
		r.tap(pickLang)
		for _, s := range steps {
			switch {
			case s == "done":
				r.tap(pick(r.question().Labels(), "✓ "))
			case strings.HasPrefix(s, "type:"):
				r.send(strings.TrimPrefix(s, "type:"))
			default:
				r.tap(s)
			}
		}
		if r.live() != 0 {
			t.Fatalf("%s interview did not end:\n%s", lang, u.Transcript())
		}
	}
	answer(5551001, "it", "Italiano", []string{"Sì", "35–54", "type:3", "⬜ Casa", "⬜ Lavoro", "done", "⬜ Salute", "done", "type:Più verde"})
	answer(5551002, "en", "English", []string{"Yes", "18–34", "type:2", "⬜ Health", "done", "⬜ Housing", "done", "type:More parks"})
	for _, lang := range []string{"it", "en"} {
		if n := h.count(`SELECT count(*) FROM responses WHERE form = $1 AND form_version = 1 AND language = $2`, id, lang); n != 1 {
			t.Errorf("%d %s responses to the published form", n, lang)
		}
	}
	if n := h.count(`SELECT count(*) FROM answer_choices WHERE question = 'top_needs' AND choice IN ('housing', 'work', 'health')`); n != 3 {
		t.Errorf("%d priority choices stored, want 3", n)
	}
	h.shutdown()

	if code, out, errs := form("retire", id, "--by", itoa64(admin)); code != 0 || !strings.Contains(out, "retired "+id) {
		t.Fatalf("retire = %d %s%s", code, out, errs)
	}
	if code, out, _ := form("list"); code != 0 || !strings.Contains(out, "retired ") {
		t.Errorf("list after retire:\n%s", out)
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE action IN ('form.publish', 'form.retire')`); n != 2 {
		t.Errorf("%d audit entries", n)
	}
}
