package results

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// deidForbidden are columns a de-identified export must not have.
var deidForbidden = []string{"response_id", "invite", "invite_label", "started", "completed", "duration_s",
	"commenti", "cittadinanza", "cittadinanza:label", "operator", "operator_id", "respondent"}

// deidWorld is exportWorld plus free texts holding contact details, and
// what the database says the export must (not) contain.
type deidFacts struct {
	ids       []string          // every response id in scope
	texts     []string          // the masked free texts, sorted
	countries map[string]string // every country code → macro-area
}

func deidWorld(t *testing.T) (*world, *Service, []string, deidFacts) {
	t.Helper()
	w, s, pseudonyms := exportWorld(t)
	// Two more comments with contact details, on seeded rows.
	if _, err := w.pool.Exec(ctx, `UPDATE answers SET value = 'chiamatemi al 333 123 4567 o scrivete a ana@example.org'
		WHERE question = 'commenti' AND response_id = 'bot-1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE answers SET value = 'permesso RSSMRA85T10A562S, CAP 20121'
		WHERE question = 'commenti' AND response_id = 'bot-5'`); err != nil {
		t.Fatal(err)
	}
	var f deidFacts
	rows, err := w.pool.Query(ctx, "SELECT id FROM responses WHERE form = 'immigrati'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		f.ids = append(f.ids, id)
	}
	rows.Close()
	m := NewMasker()
	rows, err = w.pool.Query(ctx, `SELECT a.value FROM answers a JOIN responses r ON r.id = a.response_id
		WHERE r.form = 'immigrati' AND a.question = 'commenti' AND btrim(a.value) <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		rows.Scan(&v)
		f.texts = append(f.texts, Neutralise(m.Mask(strings.TrimSpace(v))))
	}
	rows.Close()
	slices.Sort(f.texts)
	if len(f.texts) < 6 {
		t.Fatalf("only %d comments in the world", len(f.texts))
	}
	f.countries = macroOf(w.lib.Latest("immigrati").Question("cittadinanza"))
	return w, s, pseudonyms, f
}

var dayRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkDeidRows checks the rows (header first) of a de-identified export.
func checkDeidRows(t *testing.T, rows [][]string, f deidFacts, pseudonyms []string) {
	t.Helper()
	header := rows[0]
	if !slices.Equal(header[:len(deidMetaHeaders)], deidMetaHeaders) {
		t.Fatalf("metadata columns %v", header[:len(deidMetaHeaders)])
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, h := range deidForbidden {
		if _, ok := col[h]; ok {
			t.Errorf("de-identified export has column %s", h)
		}
	}
	for _, h := range []string{"cittadinanza_macro", "priorita", "priorita/lavoro", "eta", "eta:label", "completed_date", "duration_min"} {
		if _, ok := col[h]; !ok {
			t.Errorf("no column %s", h)
		}
	}
	if len(rows)-1 != len(f.ids) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(f.ids))
	}
	areas := map[string]bool{}
	for _, a := range f.countries {
		areas[a] = true
	}
	ids := map[string]bool{}
	for _, id := range f.ids {
		ids[id] = true
	}
	sawArea := false
	for _, r := range rows[1:] {
		if d := r[col["completed_date"]]; !dayRe.MatchString(d) {
			t.Fatalf("completed_date %q is not a day", d)
		}
		if i := col["cittadinanza_macro"]; i < len(r) && r[i] != "" {
			sawArea = true
			if !areas[r[i]] {
				t.Errorf("cittadinanza_macro %q is not a macro-area", r[i])
			}
		}
		for _, cell := range r {
			if ids[cell] {
				t.Fatalf("a response id (%s) in the export", cell)
			}
			for _, p := range pseudonyms {
				if strings.Contains(cell, p) {
					t.Fatal("a pseudonym in the export")
				}
			}
			for _, tx := range f.texts {
				if len(tx) > 12 && cell == tx {
					t.Fatalf("a free text in the rows: %q", cell)
				}
			}
		}
	}
	if !sawArea {
		t.Error("no macro-area in the export")
	}
}

// checkFreeTexts checks the free-text rows (header first).
func checkFreeTexts(t *testing.T, rows [][]string, f deidFacts) {
	t.Helper()
	if !slices.Equal(rows[0][:2], []string{"question", rows[0][1]}) || rows[0][len(rows[0])-1] != "text" {
		t.Fatalf("free text header %v", rows[0])
	}
	var got []string
	for _, r := range rows[1:] {
		if r[0] != "commenti" {
			t.Errorf("free text of question %q", r[0])
		}
		got = append(got, r[len(r)-1])
	}
	slices.Sort(got)
	if !slices.Equal(got, f.texts) {
		t.Fatalf("free texts\n got %q\nwant %q", got, f.texts)
	}
	all := strings.Join(got, "\n")
	for _, leak := range []string{"333 123 4567", "ana@example.org", "RSSMRA85T10A562S", "20121"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q not masked", leak)
		}
	}
	for _, want := range []string{"[phone]", "[email]", "[code]", "[number]"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %s in the free texts", want)
		}
	}
}

// TestExportDeidentifiedXLSX: what /export in Telegram gives managers has
// no response id, invite, operator or time of day, the country only as its
// macro-area, and the free texts masked in their own sheet.
func TestExportDeidentifiedXLSX(t *testing.T) {
	t.Parallel()
	w, s, pseudonyms, f := deidWorld(t)
	var buf bytes.Buffer
	n, err := s.Export(ctx, &buf, ExportRequest{Format: FormatXLSX, Lang: "it", Scope: pgstore.ResultsScope{Form: "immigrati"}, Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(f.ids) {
		t.Fatalf("Export said %d rows, want %d", n, len(f.ids))
	}
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, []string{SheetData, SheetFreeText, SheetCodebook, SheetSummary}) {
		t.Fatalf("sheets %v", got)
	}
	rows, err := x.GetRows(SheetData)
	if err != nil {
		t.Fatal(err)
	}
	checkDeidRows(t, rows, f, pseudonyms)
	texts, err := x.GetRows(SheetFreeText)
	if err != nil {
		t.Fatal(err)
	}
	checkFreeTexts(t, texts, f)
	// No country anywhere: not in the summary, not in the data.
	for _, sheet := range []string{SheetData, SheetSummary, SheetFreeText} {
		rows, _ := x.GetRows(sheet)
		for _, r := range rows {
			if len(r) > 1 && strings.HasPrefix(r[0], "cittadinanza") {
				if _, country := f.countries[r[1]]; country && r[1] != "other" && r[1] != "pnta" {
					t.Errorf("%s: country %q", sheet, r[1])
				}
			}
		}
	}
	var detail []byte
	if err := w.pool.QueryRow(ctx, "SELECT detail FROM audit_log WHERE action = 'results.export' ORDER BY id DESC LIMIT 1").Scan(&detail); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Rows int    `json:"rows"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(detail, &d); err != nil || d.Rows != n || d.Kind != "deidentified" {
		t.Errorf("audit detail %s", detail)
	}
}

// TestExportDeidentifiedCSV: the CSV form is a zip of the rows and of the
// free texts.
func TestExportDeidentifiedCSV(t *testing.T) {
	t.Parallel()
	_, s, pseudonyms, f := deidWorld(t)
	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportRequest{Format: FormatCSV, Lang: "en", Scope: pgstore.ResultsScope{Form: "immigrati"}, Via: "test"}); err != nil {
		t.Fatal(err)
	}
	if s.ExportExt("immigrati", FormatCSV, false) != "csv.zip" {
		t.Fatal("a de-identified CSV export is not named .zip")
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	read := func(name string) [][]string {
		fh, err := z.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		recs, err := csv.NewReader(fh).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	for _, zf := range z.File {
		names = append(names, zf.Name)
	}
	if !slices.Equal(names, []string{FileResponses, FileFreeText}) {
		t.Fatalf("files %v", names)
	}
	checkDeidRows(t, read(FileResponses), f, pseudonyms)
	checkFreeTexts(t, read(FileFreeText), f)
}

// TestExportOperatorsAggregates: the operators' questionnaire, whose
// consent promises totals only, exports protected counts and nothing per
// person: no rows, no free text.
func TestExportOperatorsAggregates(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 400, 60, 11)
	s := w.service(t, 5)
	cut, err := s.release(ctx, pgstore.ResultsScope{Form: "operatori", Until: Until(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	ops := w.count(t, "SELECT count(*) FROM responses WHERE form = 'operatori' AND completed_at < $1", cut.Until)
	if ops < 20 {
		t.Fatalf("only %d operators' responses", ops)
	}
	secret := "suggerimento-unico-di-un-collega"
	// answers is a view since migration 00014 (no ON CONFLICT): replace
	// the answer, if any, by deleting and inserting it.
	var opID string
	if err := w.pool.QueryRow(ctx, "SELECT id FROM responses WHERE form = 'operatori' LIMIT 1").Scan(&opID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `DELETE FROM answers WHERE response_id = $1 AND question = 'suggerimenti'`, opID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO answers (response_id, question, value) VALUES ($1, 'suggerimenti', $2)`, opID, secret); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, err := w.pool.Query(ctx, "SELECT id FROM responses WHERE form = 'operatori'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	// protected is what Protect publishes for a choice: from the true
	// count and the sum of the record keys of the same rows (cell key).
	protected := func(q, choice string) string {
		var n, keys int64
		if err := w.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(r.rkey), 0)::bigint FROM answer_choices c
			JOIN responses r ON r.id = c.response_id
			WHERE r.form = 'operatori' AND c.question = $1 AND c.choice = $2 AND r.completed_at < $3`, q, choice, cut.Until).Scan(&n, &keys); err != nil {
			t.Fatal(err)
		}
		return Protect(n, keys, 5).String()
	}
	check := func(t *testing.T, table [][]string) {
		t.Helper()
		seen := 0
		for _, r := range table {
			for _, cell := range r {
				if strings.Contains(cell, secret) || slices.Contains(ids, cell) {
					t.Fatalf("row-level content in the aggregates: %q", cell)
				}
			}
			if len(r) < 5 || r[0] == "question" || strings.HasPrefix(r[0], "#") {
				continue
			}
			if r[0] == "suggerimenti" {
				t.Fatal("the operators' free text is aggregated")
			}
			v := r[4]
			if r[0] != "" && r[2] != "" && r[0] != "rete_qualita" {
				seen++
				if want := protected(r[0], r[2]); v != want {
					t.Errorf("%s/%s: %q shown, Protect gives %q", r[0], r[2], v, want)
				}
			}
			if v == "<5" {
				continue
			}
			k, err := strconv.ParseInt(v, 10, 64)
			if err != nil || k < 5 || k%RoundingBase != 0 {
				t.Fatalf("count %q shown for %v: not a protected count", v, r)
			}
		}
		if seen < 20 {
			t.Errorf("only %d choice counts checked", seen)
		}
	}
	var buf bytes.Buffer
	n, err := s.Export(ctx, &buf, ExportRequest{Format: FormatCSV, Lang: "it", Scope: pgstore.ResultsScope{Form: "operatori"}, Via: "test"})
	if err != nil || int64(n) != ops {
		t.Fatalf("export: %d rows read, %v", n, err)
	}
	r := csv.NewReader(bytes.NewReader(buf.Bytes()))
	r.FieldsPerRecord = -1
	table, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	check(t, table)
	if s.ExportExt("operatori", FormatCSV, false) != FormatCSV {
		t.Error("aggregates are one CSV file")
	}

	buf.Reset()
	if _, err := s.Export(ctx, &buf, ExportRequest{Format: FormatXLSX, Lang: "en", Scope: pgstore.ResultsScope{Form: "operatori"}, Via: "test"}); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, []string{SheetAggregate}) {
		t.Fatalf("sheets %v", got)
	}
	table, err = x.GetRows(SheetAggregate)
	if err != nil {
		t.Fatal(err)
	}
	check(t, table)
	if _, err := s.Export(ctx, io.Discard, ExportRequest{Format: FormatXLSX, Scope: pgstore.ResultsScope{Form: "operatori"}, RowLevel: true}); err == nil {
		t.Fatal("a row-level export of the operators' answers")
	}
	if got := w.count(t, "SELECT count(*) FROM audit_log WHERE action = 'results.export' AND detail->>'kind' = 'aggregates'"); got != 2 {
		t.Errorf("%d aggregate exports audited, want 2", got)
	}
}
