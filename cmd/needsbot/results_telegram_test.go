package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/seed"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// seedHarness stores n synthetic interviews in the harness's database
// (after start: the bot migrated it).
func seedHarness(t *testing.T, h *harness, n int) {
	t.Helper()
	db, err := pgstore.Open(context.Background(), h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	places, err := seed.Places(context.Background(), db, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Store(context.Background(), db, lib, places, seed.Options{N: n, Days: 60, Seed: 3, Batch: 250,
		Workers: 1, Now: time.Now(), Rollup: true}); err != nil {
		t.Fatal(err)
	}
}

// released is the condition on completed_at of what results show of the
// responses matching where (a condition over responses): whole release
// batches (at least min interviews, closed by a day before today), and for
// a period of days, from the first batch boundary on or after its first
// day (docs/disclosure-control.md).
func (h *harness) released(where string, days, min int, args ...any) string {
	h.t.Helper()
	rows, err := h.db().Query(context.Background(), `SELECT (completed_at AT TIME ZONE 'Europe/Rome')::date::text, count(*) FROM responses
		WHERE `+where+` AND (completed_at AT TIME ZONE 'Europe/Rome')::date < (now() AT TIME ZONE 'Europe/Rome')::date GROUP BY 1 ORDER BY 1`, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var closes []string
	acc := 0
	for rows.Next() {
		var day string
		var n int
		if err := rows.Scan(&day, &n); err != nil {
			h.t.Fatal(err)
		}
		if acc += n; acc >= min {
			closes, acc = append(closes, day), 0
		}
	}
	if len(closes) == 0 {
		return " AND false"
	}
	local := "(completed_at AT TIME ZONE 'Europe/Rome')::date"
	cond := fmt.Sprintf(" AND %s <= '%s'::date", local, closes[len(closes)-1])
	if days > 0 {
		first := time.Now().In(pgstore.ResultsLocation()).AddDate(0, 0, -days-1).Format("2006-01-02")
		for _, c := range closes {
			if c >= first {
				return cond + fmt.Sprintf(" AND %s > '%s'::date", local, c)
			}
		}
		return " AND false"
	}
	return cond
}

// TestEndToEndResults drives /results, its buttons, the charts, the
// funnel, exports and the comparison through the real bot and the fake
// Bot API, as a manager of Prato and a national admin.
func TestEndToEndResults(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["NEEDSBOT_ADMIN_IDS"] = "7100001"
	h.env["NEEDSBOT_MIN_CELL"] = "6" // wired through: the legend says so (rounded up to a multiple of 5: <10)
	h.start()
	seedHarness(t, h, 500)
	prato := int64(h.count(`SELECT id FROM municipalities WHERE istat_code = '100005'`))
	roma := int64(h.count(`SELECT id FROM municipalities WHERE istat_code = '058091'`))
	var managerID int64
	if err := h.db().QueryRow(context.Background(), `INSERT INTO staff (telegram_user_id, role, municipality_id, display_name)
		VALUES (7100002, 'manager', $1, 'Giulia') RETURNING id`, prato).Scan(&managerID); err != nil {
		t.Fatal(err)
	}
	u := h.tg.User(7100002, telegramtest.FirstName("Giulia"), telegramtest.LanguageCode("it"))
	m := &respondent{t: t, u: u}

	m.send("/results")
	summary := u.Last()
	pratoCut := h.released(`form = 'immigrati' AND municipality_id = $1`, 0, 10, prato)
	completed := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati' AND municipality_id = $1`+pratoCut, prato)
	shown := h.protected(`FROM responses WHERE form = 'immigrati' AND municipality_id = $1`+pratoCut, prato)
	if !strings.Contains(summary.Text, "Risultati · Prato") || !strings.Contains(summary.Text, "Interviste completate: "+shown) {
		t.Fatalf("summary (want %s completed, true count %d):\n%s", shown, completed, summary.Text)
	}
	if !strings.Contains(summary.Text, "<10 = meno di 10") {
		t.Fatalf("NEEDSBOT_MIN_CELL=6 not in the legend:\n%s", summary.Text)
	}
	for _, b := range []string{"📅 Dall'inizio", "📊 Grafici", "⬇️ CSV"} {
		if !hasButton(summary, b) {
			t.Fatalf("no button %q: %v", b, summary.Labels())
		}
	}
	if hasButton(summary, "⚖️ Confronta") {
		t.Fatal("a manager is offered the comparison")
	}

	// The period picker, then 30 days: the same message is edited.
	m.tap("📅 Dall'inizio")
	if got := u.Last(); !hasButton(got, "Ultimi 30 giorni") || !hasButton(got, "◀ Indietro") {
		t.Fatalf("period picker: %v", got.Labels())
	}
	m.tap("Ultimi 30 giorni")
	edited := u.Last()
	cut30 := h.released(`form = 'immigrati' AND municipality_id = $1`, 30, 10, prato)
	c30 := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati' AND municipality_id = $1`+cut30, prato)
	shown30 := h.protected(`FROM responses WHERE form = 'immigrati' AND municipality_id = $1`+cut30, prato)
	if edited.ID != summary.ID || !strings.Contains(edited.Text, "Ultimi 30 giorni") ||
		!strings.Contains(edited.Text, "Interviste completate: "+shown30) {
		t.Fatalf("after 30 days (want %d):\n%s", c30, edited.Text)
	}

	// Charts: two photos.
	before := len(u.Messages())
	m.tap("📊 Grafici")
	photos := 0
	for _, msg := range u.Messages()[before:] {
		if msg.Kind == telegramtest.KindPhoto {
			photos++
			if _, err := png.Decode(bytes.NewReader(msg.File.Data)); err != nil {
				t.Fatalf("chart: %v", err)
			}
		}
	}
	if photos != 2 {
		t.Fatalf("%d charts sent:\n%s", photos, u.Transcript())
	}

	m.tap("🚪 Dove si fermano")
	if last := u.Last(); !strings.Contains(last.Text, "Dove si interrompono le interviste · Prato") {
		t.Fatalf("funnel:\n%s", last.Text)
	}

	// Every view is audit-logged: who, which view, which filter.
	for _, v := range []struct {
		view string
		days int
		n    int
	}{{"summary", 0, 1}, {"summary", 30, 1}, {"charts", 30, 1}, {"funnel", 30, 1}} {
		if n := h.count(`SELECT count(*) FROM audit_log WHERE action = 'results.view' AND actor_id = $1
			AND detail->>'view' = $2 AND (detail->>'days')::int = $3 AND detail->>'form' = 'immigrati'
			AND (detail->>'municipality_id')::bigint = $4`, managerID, v.view, v.days, prato); n != v.n {
			t.Errorf("%d audit entries for the %s view of %d days, want %d", n, v.view, v.days, v.n)
		}
	}

	// CSV of the last 30 days in Prato: de-identified, a zip of the rows
	// and of the free texts.
	m.tap("⬇️ CSV")
	doc := u.Last()
	if doc.Kind != telegramtest.KindDocument || !strings.HasSuffix(doc.File.Name, ".csv.zip") {
		t.Fatalf("no CSV document: %+v\n%s", doc, u.Transcript())
	}
	zr, err := zip.NewReader(bytes.NewReader(doc.File.Data), int64(len(doc.File.Data)))
	if err != nil {
		t.Fatal(err)
	}
	zf, err := zr.Open(results.FileResponses)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(zf).ReadAll()
	zf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(recs[0], "response_id") || slices.Contains(recs[0], "invite") || slices.Contains(recs[0], "started") {
		t.Fatalf("the Telegram export is not de-identified: %v", recs[0])
	}
	if len(recs)-1 != c30 {
		t.Fatalf("CSV has %d rows, want %d", len(recs)-1, c30)
	}
	// The caption counts nothing (session 14: it said the true count, where
	// /results shows the protected one): the rows are the file's to count.
	if !strings.HasPrefix(doc.Text, "Una riga per intervista completata · Prato · ") {
		t.Errorf("caption %q", doc.Text)
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE action = 'results.export' AND actor_id = $1
		AND (detail->>'rows')::int = $2 AND detail->'filter'->>'municipality_id' = $3`, managerID, c30, strconv.FormatInt(prato, 10)); n != 1 {
		t.Fatalf("%d audit entries for the export", n)
	}

	// A forged button for Roma is refused, and nothing about Roma is sent.
	data, err := bot.Callback{Kind: bot.CbStaff, Option: "r:s.immigrati.0." + strconv.FormatInt(roma, 36) + ".0."}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	before = len(u.Messages())
	if err := u.TapData(summary.ID, data); err != nil {
		t.Fatal(err)
	}
	m.wait()
	answers := u.CallbackAnswers()
	if last := answers[len(answers)-1]; !last.Answered || !strings.Contains(last.Text, "solo i risultati del tuo comune") {
		t.Fatalf("forged button answered %+v", last)
	}
	for _, msg := range u.Messages()[before:] {
		if strings.Contains(msg.Text, "Roma") {
			t.Fatalf("Roma's results reached a Prato manager: %s", msg.Text)
		}
	}
	if strings.Contains(u.Last().Text, "Roma") {
		t.Fatal("the summary was edited to Roma")
	}

	// /export offers both formats; the XLSX opens.
	m.send("/export")
	m.tap("⬇️ Excel")
	doc = u.Last()
	if doc.Kind != telegramtest.KindDocument || !strings.HasSuffix(doc.File.Name, ".xlsx") {
		t.Fatalf("no XLSX: %+v", doc)
	}
	x, err := excelize.OpenReader(bytes.NewReader(doc.File.Data))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows("data")
	sheets := x.GetSheetList()
	x.Close()
	if len(rows)-1 != completed {
		t.Fatalf("XLSX has %d rows, want %d", len(rows)-1, completed)
	}
	if slices.Contains(rows[0], "response_id") || slices.Contains(rows[0], "invite_label") || slices.Contains(rows[0], "cittadinanza") ||
		!slices.Contains(sheets, results.SheetFreeText) {
		t.Fatalf("the Telegram XLSX is not de-identified: sheets %v, columns %v", sheets, rows[0])
	}

	// The operators' questionnaire promises totals only: its export's
	// caption gives the count of responses as /results and the file show
	// it (protected), never the true one (session 14: it said "N risposte",
	// the count the file hides).
	m.send("/results")
	m.tap("📋 Immigrati")
	m.tap("Operatori")
	opsCut := h.released(`form = 'operatori' AND municipality_id = $1`, 0, 10, prato)
	opsTrue := h.count(`SELECT count(*) FROM responses WHERE form = 'operatori' AND municipality_id = $1`+opsCut, prato)
	opsShown := h.protected(`FROM responses WHERE form = 'operatori' AND municipality_id = $1`+opsCut, prato)
	if got := u.Last(); !strings.Contains(got.Text, "Interviste completate: "+opsShown) {
		t.Fatalf("operators' summary (want %s completed, true count %d):\n%s", opsShown, opsTrue, got.Text)
	}
	m.tap("⬇️ Excel")
	doc = u.Last()
	if doc.Kind != telegramtest.KindDocument || !strings.HasSuffix(doc.File.Name, ".xlsx") {
		t.Fatalf("no operators' XLSX: %+v\n%s", doc, u.Transcript())
	}
	if !strings.HasPrefix(doc.Text, "Solo totali · Prato · ") || !strings.Contains(doc.Text, "\nInterviste completate: "+opsShown) {
		t.Fatalf("operators' export caption %q, want the count /results shows (%s; true count %d)", doc.Text, opsShown, opsTrue)
	}
	x, err = excelize.OpenReader(bytes.NewReader(doc.File.Data))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = x.GetRows(results.SheetAggregate)
	x.Close()
	fileTotal := ""
	for _, r := range rows {
		if len(r) >= 5 && r[0] == "" && r[1] == "responses" {
			fileTotal = r[4]
		}
	}
	if fileTotal != opsShown {
		t.Fatalf("the operators' file shows %q responses, the caption %s", fileTotal, opsShown)
	}

	// The admin: all municipalities, and the comparison.
	a := &respondent{t: t, u: h.tg.User(7100001, telegramtest.FirstName("Ada"), telegramtest.LanguageCode("en"))}
	a.send("/results")
	all := h.protected(`FROM responses WHERE form = 'immigrati'` + h.released(`form = 'immigrati'`, 0, 10))
	adminSummary := a.u.Last().ID
	if got := a.u.Last(); !strings.Contains(got.Text, "Results · All municipalities") || !strings.Contains(got.Text, "Completed interviews: "+all) {
		t.Fatalf("admin summary (want %s):\n%s", all, got.Text)
	}
	a.tap("⚖️ Compare")
	cmp := a.u.Last()
	for _, want := range []string{"Municipalities compared", "• Milano:", "• Prato:", "• Roma:"} {
		if !strings.Contains(cmp.Text, want) {
			t.Fatalf("comparison lacks %q:\n%s", want, cmp.Text)
		}
	}
	if err := a.u.TapIn(adminSummary, "🏙 All municipalities"); err != nil {
		t.Fatal(err)
	}
	a.wait()
	if err := a.u.TapIn(adminSummary, "Prato"); err != nil {
		t.Fatal(err)
	}
	a.wait()
	if got := messageByID(a.u, adminSummary); !strings.Contains(got.Text, "Results · Prato") || !strings.Contains(got.Text, "Completed interviews: "+shown) {
		t.Fatalf("admin picking Prato:\n%s", got.Text)
	}

	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Fatalf("Bot API limits violated: %+v", vs)
	}
}

func messageByID(u *telegramtest.User, id int) telegramtest.Message {
	for _, m := range u.Messages() {
		if m.ID == id {
			return m
		}
	}
	return telegramtest.Message{}
}

func hasButton(m telegramtest.Message, label string) bool {
	for _, row := range m.Labels() {
		for _, l := range row {
			if l == label {
				return true
			}
		}
	}
	return false
}

// protected is how staff see the count of the rows of from (a FROM and
// WHERE clause over responses): perturbed by the cell key of their
// record keys, with the test's minimum cell size.
func (h *harness) protected(from string, args ...any) string {
	h.t.Helper()
	var n, k int64
	if err := h.db().QueryRow(context.Background(), "SELECT count(*), coalesce(sum(rkey), 0) "+from, args...).Scan(&n, &k); err != nil {
		h.t.Fatalf("%s: %v", from, err)
	}
	return results.Protect(n, k, 6).String()
}
