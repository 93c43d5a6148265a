package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestEndToEndDirectory (issue 16): a directory imported from CSV with the
// real binary; a respondent whose top needs are housing and documents
// completes and receives the matching services (a card in Italian and map
// pins) and the help point; the referrals are counted (per service and
// area, nothing else) and shown by `directory stats`; /services works in
// Arabic for someone who never started an interview.
func TestEndToEndDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, h.dsn); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(ctx, args, func(k string) string { return h.env[k] }, nil, &out, &out)
		return code, out.String()
	}
	if code, out := cli("directory", "import", "testdata/directory/firenze.csv", "--municipality", "058091"); code != 0 {
		t.Fatalf("import: %d %s", code, out)
	}
	h.start()

	u := h.tg.User(5560001, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	needs := []string{"Casa", "Documenti e permessi"}
	finished := false
	for n := 0; n < 80 && !finished; n++ {
		if r.live() == 0 {
			finished = true
			break
		}
		q := r.question()
		var opts []string
		multi, hasNeeds := false, 0
		for _, row := range q.Labels() {
			for _, l := range row {
				if strings.HasPrefix(l, "✓ ") {
					multi = true
				}
				for _, want := range needs {
					if strings.TrimPrefix(l, "⬜ ") == want {
						hasNeeds++
					}
				}
				if !isNav(l) {
					opts = append(opts, l)
				}
			}
		}
		switch {
		case len(opts) == 0:
			r.send("Va bene così")
		case multi && hasNeeds > 0:
			// The need areas (bisogni, aiuto_ottenuto, priorita): housing
			// and documents, paging the long list to find them.
			for _, l := range needs {
				for i := 0; i < 3 && pick(r.question().Labels(), "⬜ "+l) == ""; i++ {
					r.tap(pick(r.question().Labels(), "… "))
				}
				r.tap("⬜ " + l)
			}
			r.tap(pick(r.question().Labels(), "✓ "))
		case multi:
			r.tap(opts[0])
			r.tap(pick(r.question().Labels(), "✓ "))
		case strings.Contains(opts[0], "18"):
			r.tap(opts[2])
		default:
			r.tap(opts[0])
		}
	}
	if !finished {
		t.Fatalf("interview did not end:\n%s", u.Transcript())
	}
	if v := h.count(`SELECT count(*) FROM answers WHERE question = 'priorita' AND value = 'casa documenti'`); v != 1 {
		t.Fatalf("the priorities are not housing and documents:\n%s", u.Transcript())
	}
	var card string
	var pins []string
	for _, m := range u.Messages() {
		if m.FromBot && strings.Contains(m.Text, "Servizi che possono aiutarti") {
			card = m.Text
		}
		if m.Kind == telegramtest.KindVenue {
			pins = append(pins, m.Venue.Title)
		}
	}
	for _, want := range []string{"1. Sportello Casa — Casa", "2. Ufficio Documenti — Documenti e permessi", "Orari: lun-ven 9-13",
		"Lingue parlate: Italiano, العربية, English", "Punto di aiuto generale: Punto Informativo"} {
		if !strings.Contains(card, want) {
			t.Errorf("referral card lacks %q:\n%s", want, u.Transcript())
		}
	}
	if strings.Join(pins, ",") != "Sportello Casa,Ufficio Documenti" {
		t.Errorf("venues %v, want Sportello Casa and Ufficio Documenti:\n%s", pins, u.Transcript())
	}
	if v := h.count(`SELECT coalesce(sum(count), 0) FROM referral_counts`); v != 3 {
		t.Errorf("%d referrals counted, want 3 (two services and the help point)", v)
	}

	// /services in Arabic, without an interview.
	a := h.tg.User(5560002, telegramtest.LanguageCode("ar"))
	ra := &respondent{t: t, u: a}
	ra.send("/services")
	if !strings.Contains(a.Last().Text, "في أي مجال تحتاج إلى مساعدة") {
		t.Fatalf("/services in Arabic:\n%s", a.Transcript())
	}
	ra.tap("السكن")
	var arCard string
	for _, m := range a.Messages() {
		if m.FromBot && strings.Contains(m.Text, "خدمات يمكنها مساعدتك") {
			arCard = m.Text
		}
	}
	if !strings.Contains(arCard, "Sportello Casa") || !strings.Contains(arCard, "السكن") || strings.Contains(arCard, "Ufficio Documenti") {
		t.Errorf("Arabic housing card:\n%s", a.Transcript())
	}
	if last := a.Last(); last.Kind != telegramtest.KindVenue || last.Venue.Title != "Sportello Casa" {
		t.Errorf("no venue after the Arabic card:\n%s", a.Transcript())
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Errorf("Bot API limits violated: %+v", vs)
	}
	if code, out := cli("directory", "stats", "--municipality", "058091"); code != 0 || !hasRow(out, "2 casa Sportello Casa") || !hasRow(out, "1 documenti Ufficio Documenti") {
		t.Errorf("stats: %d\n%s", code, out)
	}
	// A manager sees the counts under /results, protected as every count
	// staff see: two and one referrals are small cells, "<5" (they showed
	// as 2 and 1).
	if _, err := h.db().Exec(ctx, `INSERT INTO staff (telegram_user_id, role, municipality_id, display_name)
		SELECT 5560009, 'manager', id, 'Marco' FROM municipalities WHERE istat_code = '058091'`); err != nil {
		t.Fatal(err)
	}
	mgr := h.tg.User(5560009, telegramtest.LanguageCode("it"))
	(&respondent{t: t, u: mgr}).send("/results")
	if txt := mgr.Last().Text; !strings.Contains(txt, "Invii ai servizi, ultimi 30 giorni") || !strings.Contains(txt, "\n<5 · Sportello Casa · Casa") ||
		!strings.Contains(txt, "\n<5 · Ufficio Documenti · Documenti e permessi") {
		t.Errorf("/results lacks the referral counts:\n%s", mgr.Transcript())
	}
	logs := h.logs.String()
	for _, secret := range []string{"5560001", "5560002", "Va bene così"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

// hasRow reports whether a table printed by the CLI has a row with these
// fields (whatever the column widths).
func hasRow(out, fields string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == fields {
			return true
		}
	}
	return false
}
