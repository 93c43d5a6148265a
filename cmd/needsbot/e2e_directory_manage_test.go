package main

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestEndToEndDirectoryInTelegram (issue 16): through the real binary, a
// manager adds a service to Roma's directory with buttons and typed
// replies; a respondent then gets it with /services; the manager hides it
// and it is no longer offered. An operator of Roma and the manager of
// another municipality can neither open Roma's menu nor use its buttons.
// Every change is audit-logged without its values.
func TestEndToEndDirectoryInTelegram(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, h.dsn); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO staff (telegram_user_id, role, municipality_id, display_name) SELECT 5570001, 'manager', id, 'Marta' FROM municipalities WHERE istat_code = '058091'`,
		`INSERT INTO staff (telegram_user_id, role, municipality_id, display_name) SELECT 5570002, 'operator', id, 'Oreste' FROM municipalities WHERE istat_code = '058091'`,
		`INSERT INTO staff (telegram_user_id, role, municipality_id, display_name) SELECT 5570003, 'manager', id, 'Milo' FROM municipalities WHERE istat_code = '015146'`,
	} {
		if _, err := h.db().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	mgr := &respondent{t: t, u: h.tg.User(5570001, telegramtest.FirstName("Marta"), telegramtest.LanguageCode("en"))}
	reply := func(text string) {
		t.Helper()
		q := mgr.question()
		mgr.u.Reply(q.ID, text)
		mgr.updates++
		mgr.wait()
	}

	mgr.send("/directory")
	if txt := mgr.u.Last().Text; !strings.Contains(txt, "Service directory of Roma") || !strings.Contains(txt, "No services yet") {
		t.Fatalf("/directory:\n%s", mgr.u.Transcript())
	}
	list := mgr.question()
	mgr.tap("➕ Add a service")
	if !strings.Contains(mgr.question().Text, "What is the service called?") {
		t.Fatalf("name step:\n%s", mgr.u.Transcript())
	}
	reply("Sportello Casa Esquilino")
	reply("Via Napoleone III 6")
	reply("not a place")
	if !strings.Contains(mgr.u.Last().Text, "These are not coordinates") {
		t.Fatalf("bad coordinates accepted:\n%s", mgr.u.Transcript())
	}
	reply("41.8962, 12.5016")
	mgr.tap("Skip") // phone
	reply("https://example.org/casa")
	reply("Mon–Fri 9–13")
	mgr.tap("ar")
	mgr.tap("✅ ar") // off again
	mgr.tap("ar")
	mgr.tap("en")
	mgr.tap("Done ✔")
	mgr.tap("Housing")
	mgr.tap("Done ✔")
	mgr.tap("Free")
	mgr.tap("No appointment")
	card := mgr.question().Text
	for _, want := range []string{"Sportello Casa Esquilino", "visible to respondents", "Address: Via Napoleone III 6", "Map: 41.8962, 12.5016",
		"Phone: —", "Website: https://example.org/casa", "Languages at the desk: ar, en", "Needs served: Housing", "Cost: Free",
		"Appointment: No appointment"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if n := h.count(`SELECT count(*) FROM directory_entries WHERE name = 'Sportello Casa Esquilino' AND NOT hidden AND areas = '{casa}'
		AND languages = '{ar,en}' AND free AND NOT appointment AND latitude IS NOT NULL AND phone = ''`); n != 1 {
		t.Fatalf("stored entry: %d rows match\n%s", n, mgr.u.Transcript())
	}

	// A respondent of Roma gets it with /services.
	resp := &respondent{t: t, u: h.tg.User(5570010, telegramtest.LanguageCode("it"))}
	resp.send("/services")
	resp.tap("Casa")
	if !strings.Contains(resp.u.Transcript(), "Sportello Casa Esquilino") {
		t.Fatalf("/services does not offer the new entry:\n%s", resp.u.Transcript())
	}
	if last := resp.u.Last(); last.Kind != telegramtest.KindVenue || last.Venue.Title != "Sportello Casa Esquilino" {
		t.Errorf("no map pin for the new entry:\n%s", resp.u.Transcript())
	}

	// Others cannot: an operator of Roma, the manager of Milano — not the
	// command, not the buttons.
	cardMsg := mgr.question()
	hideData := ""
	for _, row := range cardMsg.Buttons {
		for _, b := range row {
			if b.Text == "🙈 Hide" {
				hideData = b.Data
			}
		}
	}
	if hideData == "" {
		t.Fatalf("no Hide button:\n%s", mgr.u.Transcript())
	}
	for _, id := range []int64{5570002, 5570003} {
		o := &respondent{t: t, u: h.tg.User(id, telegramtest.LanguageCode("en"))}
		o.send("/directory")
		if strings.Contains(o.u.Last().Text, "Service directory of Roma") {
			t.Errorf("user %d opened Roma's directory:\n%s", id, o.u.Transcript())
		}
		o.send("/help")
		// The manager's buttons, pressed by someone else (forged data).
		if err := o.u.TapData(o.u.Last().ID, hideData); err != nil {
			t.Fatal(err)
		}
		o.updates++
		o.wait()
	}
	if n := h.count(`SELECT count(*) FROM directory_entries WHERE NOT hidden`); n != 1 {
		t.Fatalf("someone else hid the entry")
	}

	// The manager hides it: respondents no longer get it.
	mgr.tap("🙈 Hide")
	if !strings.Contains(mgr.question().Text, "(hidden)") {
		t.Fatalf("not hidden:\n%s", mgr.u.Transcript())
	}
	resp.send("/services")
	if txt := resp.u.Last().Text; !strings.Contains(txt, "Non ho ancora un elenco di servizi") {
		t.Errorf("/services after hiding:\n%s", resp.u.Transcript())
	}
	// The list shows it hidden; the old list message is not reused.
	_ = list
	mgr.send("/directory")
	if pick(mgr.question().Labels(), "🙈 Sportello Casa Esquilino") == "" {
		t.Errorf("list:\n%s", mgr.u.Transcript())
	}
	// Audited, without values.
	for action, want := range map[string]int{"directory.add": 1, "directory.edit": 11, "directory.hide": 2} {
		if n := h.count(`SELECT count(*) FROM audit_log WHERE action = '` + action + `'`); n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE detail::text LIKE '%Napoleone%' OR detail::text LIKE '%example.org%'`); n != 0 {
		t.Errorf("the audit log holds entry values")
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Errorf("Bot API limits violated: %+v", vs)
	}
}
