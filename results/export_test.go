package results

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// exportWorld is a world with synthetic interviews and a few written the
// way the bot writes them (with pseudonyms, and comments that try formula
// injection).
func exportWorld(t *testing.T) (*world, *Service, []string) {
	t.Helper()
	w := newWorld(t)
	w.seed(t, 150, 60, 5)
	s := w.service(t, 5)
	g := &Synth{Forms: w.lib, Places: []SynthPlace{{ID: w.munis["100005"]}}, Now: testNow, Rand: newRand(9), AbandonShare: 0.0001, OperatorShare: 0.0001}
	var pseudonyms []string
	for i, comment := range []string{`=HYPERLINK("http://evil.example","clic")`, "+39 333 0000", "-2+3", "@SUM(A1)", "\t=1", "normale, con \"virgolette\"\ne a capo"} {
		var c *pgstore.Completed
		for c == nil {
			var err error
			if c, _, err = g.Next(); err != nil {
				t.Fatal(err)
			}
		}
		c.ID = fmt.Sprintf("bot-%d", i)
		c.Pseudonym = fmt.Sprintf("pseudonym-%d-%s", i, strings.Repeat("f", 40))
		c.Response.Answers["commenti"] = comment
		pseudonyms = append(pseudonyms, c.Pseudonym)
		if err := w.db.SaveResponse(ctx, *c); err != nil {
			t.Fatal(err)
		}
	}
	return w, s, pseudonyms
}

// TestExportCSV is the row-level export (needsbot export --row-level).
func TestExportCSV(t *testing.T) {
	t.Parallel()
	w, s, pseudonyms := exportWorld(t)
	scope := pgstore.ResultsScope{Form: "immigrati"}
	var buf bytes.Buffer
	n, err := s.Export(ctx, &buf, ExportRequest{Format: FormatCSV, Lang: "it", Scope: scope, Via: "test", RowLevel: true,
		HostUser: "dpo-test", Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pseudonyms {
		if bytes.Contains(buf.Bytes(), []byte(p)) {
			t.Fatal("a respondent pseudonym is in the export")
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	rows := recs[1:]
	if want := w.count(t, "SELECT count(*) FROM responses WHERE form = 'immigrati'"); int64(n) != want || int64(len(rows)) != want {
		t.Fatalf("%d rows (Export said %d), want %d", len(rows), n, want)
	}
	col := map[string]int{}
	for i, h := range header {
		if _, dup := col[h]; dup {
			t.Fatalf("column %s twice", h)
		}
		col[h] = i
	}
	if !slices.Equal(header[:len(metaHeaders)], metaHeaders) {
		t.Fatalf("metadata columns %v", header[:len(metaHeaders)])
	}
	form := w.lib.Latest("immigrati")
	for _, h := range []string{"priorita", "priorita:label", "priorita/lavoro", "priorita/pnta", "eta", "eta:label", "commenti", "invite_servizio", "soddisfazione"} {
		if _, ok := col[h]; !ok {
			t.Errorf("no column %s", h)
		}
	}
	if _, ok := col["intro"]; ok {
		t.Error("a note has a column")
	}
	// Every row against the database.
	for _, rec := range rows {
		id := rec[col["response_id"]]
		ans := map[string]string{}
		qrows, err := w.pool.Query(ctx, "SELECT question, value FROM answers WHERE response_id = $1", id)
		if err != nil {
			t.Fatal(err)
		}
		for qrows.Next() {
			var q, v string
			qrows.Scan(&q, &v)
			ans[q] = v
		}
		qrows.Close()
		var lang, istat string
		var dur int
		var completed time.Time
		if err := w.pool.QueryRow(ctx, `SELECT r.language, m.istat_code, r.duration_s, r.completed_at FROM responses r
			JOIN municipalities m ON m.id = r.municipality_id WHERE r.id = $1`, id).Scan(&lang, &istat, &dur, &completed); err != nil {
			t.Fatalf("row %s: %v", id, err)
		}
		if rec[col["language"]] != lang || rec[col["municipality_istat"]] != istat || rec[col["duration_s"]] != strconv.Itoa(dur) ||
			rec[col["completed"]] != completed.UTC().Format(time.RFC3339) {
			t.Errorf("row %s: metadata %v", id, rec[:len(metaHeaders)])
		}
		for _, q := range form.Questions {
			i, ok := col[q.Name]
			if !ok {
				continue
			}
			v, answered := ans[q.Name]
			if got := rec[i]; got != Neutralise(v) {
				t.Errorf("row %s %s: %q, stored %q", id, q.Name, got, v)
			}
			switch q.Type {
			case dialog.TypeSelectMultiple:
				codes := strings.Fields(v)
				var labels []string
				for _, c := range codes {
					labels = append(labels, s.choiceLabel("it", "immigrati", q.List.Name, c))
				}
				if got := rec[col[q.Name+":label"]]; got != strings.Join(labels, "; ") {
					t.Errorf("row %s %s labels %q", id, q.Name, got)
				}
				for _, ch := range q.List.Choices {
					want := ""
					if answered {
						want = "0"
						if slices.Contains(codes, ch.Name) {
							want = "1"
						}
					}
					if got := rec[col[q.Name+"/"+ch.Name]]; got != want {
						t.Errorf("row %s %s/%s = %q, want %q", id, q.Name, ch.Name, got, want)
					}
				}
			case dialog.TypeSelectOne:
				want := ""
				if answered {
					want = s.choiceLabel("it", "immigrati", q.List.Name, v)
				}
				if got := rec[col[q.Name+":label"]]; got != want {
					t.Errorf("row %s %s label %q, want %q", id, q.Name, got, want)
				}
			}
		}
	}
	// Formula injection is neutralised, and the rest of the text intact.
	comments := map[string]bool{}
	for _, rec := range rows {
		comments[rec[col["commenti"]]] = true
	}
	for _, want := range []string{`'=HYPERLINK("http://evil.example","clic")`, "'+39 333 0000", "'-2+3", "'@SUM(A1)", "'\t=1", "normale, con \"virgolette\"\ne a capo"} {
		if !comments[want] {
			t.Errorf("comment %q not exported as such", want)
		}
	}
	// Audited: who (nil: not staff), what, how many.
	var detail []byte
	if err := w.pool.QueryRow(ctx, "SELECT detail FROM audit_log WHERE action = 'results.export.row_level' ORDER BY id DESC LIMIT 1").Scan(&detail); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Rows     int    `json:"rows"`
		Format   string `json:"format"`
		Complete bool   `json:"complete"`
		Kind     string `json:"kind"`
		HostUser string `json:"host_user"`
		Purpose  string `json:"purpose"`
		Filter   struct {
			Form string `json:"form"`
		} `json:"filter"`
	}
	if err := json.Unmarshal(detail, &d); err != nil || d.Rows != n || d.Format != "csv" || !d.Complete || d.Filter.Form != "immigrati" ||
		d.Kind != "row_level" || d.HostUser != "dpo-test" || d.Purpose != "test" {
		t.Errorf("audit detail %s", detail)
	}
}

// TestExportXLSX is the row-level XLSX export.
func TestExportXLSX(t *testing.T) {
	t.Parallel()
	w, s, pseudonyms := exportWorld(t)
	scope := pgstore.ResultsScope{Form: "immigrati", Municipality: w.munis["100005"]}
	var buf bytes.Buffer
	actor := int64(42)
	_, err := s.Export(ctx, &buf, ExportRequest{Format: FormatXLSX, Lang: "en", Scope: scope, Actor: &actor, Via: "test", RowLevel: true})
	if err == nil {
		t.Fatal("an export by an unknown staff id was audited")
	}
	buf.Reset()
	n, err := s.Export(ctx, &buf, ExportRequest{Format: FormatXLSX, Lang: "en", Scope: scope, Via: "test", RowLevel: true})
	if err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, []string{SheetData, SheetCodebook, SheetSummary}) {
		t.Fatalf("sheets %v", got)
	}
	rows, err := x.GetRows(SheetData)
	if err != nil {
		t.Fatal(err)
	}
	want := w.count(t, "SELECT count(*) FROM responses WHERE form = 'immigrati' AND municipality_id = $1", scope.Municipality)
	if int64(len(rows)-1) != want || int64(n) != want {
		t.Fatalf("%d data rows (Export said %d), want %d", len(rows)-1, n, want)
	}
	header := rows[0]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	cellOf := func(r int, h string) string {
		name, _ := excelize.CoordinatesToCellName(col[h]+1, r+1)
		return name
	}
	found := map[string]bool{}
	for r := 1; r < len(rows); r++ {
		id := rows[r][col["response_id"]]
		// Numbers are numbers.
		for _, h := range []string{"duration_s", "form_version", "priorita/lavoro"} {
			typ, err := x.GetCellType(SheetData, cellOf(r, h))
			if err != nil || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
				t.Errorf("row %s %s: type %v %v", id, h, typ, err)
			}
		}
		var stored string
		if err := w.pool.QueryRow(ctx, "SELECT value FROM answers WHERE response_id = $1 AND question = 'priorita'", id).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if got := rows[r][col["priorita"]]; got != stored {
			t.Errorf("row %s priorita %q, stored %q", id, got, stored)
		}
		for _, c := range strings.Fields(stored) {
			if rows[r][col["priorita/"+c]] != "1" {
				t.Errorf("row %s: priorita/%s not 1", id, c)
			}
		}
		if len(rows[r]) > col["commenti"] {
			found[rows[r][col["commenti"]]] = true
		}
		for _, cell := range rows[r] {
			for _, p := range pseudonyms {
				if strings.Contains(cell, p) {
					t.Fatal("a pseudonym in the export")
				}
			}
		}
	}
	for _, want := range []string{`'=HYPERLINK("http://evil.example","clic")`, "'@SUM(A1)"} {
		if !found[want] {
			t.Errorf("comment %q not in the XLSX", want)
		}
	}
	// Started is a date-time cell in Italian time.
	v, err := x.GetCellValue(SheetData, cellOf(1, "started"))
	if err != nil || !strings.Contains(v, "-") || !strings.Contains(v, ":") {
		t.Errorf("started shows as %q (%v)", v, err)
	}

	cb, err := x.GetRows(SheetCodebook)
	if err != nil {
		t.Fatal(err)
	}
	has := func(rows [][]string, cells ...string) bool {
		for _, r := range rows {
			if len(r) >= len(cells) && slices.Equal(r[:len(cells)], cells) {
				return true
			}
		}
		return false
	}
	if !has(cb, "priorita/lavoro", "priorita", "choice (0/1)", "aree", "lavoro", s.choiceLabel("en", "immigrati", "aree", "lavoro")) {
		t.Error("codebook lacks priorita/lavoro")
	}
	if !has(cb, "eta", "eta", "choice", "eta", "25_34", s.choiceLabel("en", "immigrati", "eta", "25_34")) {
		t.Error("codebook lacks the eta choices")
	}
	if !has(cb, "priorita", "priorita", "select_multiple", "aree", "", s.questionLabel("en", "immigrati", "priorita")) {
		t.Error("codebook lacks the priorita question")
	}

	sum, err := x.GetRows(SheetSummary)
	if err != nil {
		t.Fatal(err)
	}
	if !has(sum, "responses", strconv.Itoa(n)) {
		t.Errorf("summary: %v", sum[:8])
	}
	wantWork := w.count(t, `SELECT count(*) FROM answer_choices c JOIN responses r ON r.id = c.response_id
		WHERE r.form = 'immigrati' AND r.municipality_id = $1 AND c.question = 'priorita' AND c.choice = 'lavoro'`, scope.Municipality)
	if !has(sum, "priorita", "lavoro", s.choiceLabel("en", "immigrati", "aree", "lavoro"), strconv.FormatInt(wantWork, 10)) {
		t.Errorf("summary lacks priorita/lavoro = %d", wantWork)
	}
}

func TestExportFormat(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.service(t, 5)
	if _, err := s.Export(ctx, io.Discard, ExportRequest{Format: "pdf", Scope: pgstore.ResultsScope{Form: "immigrati"}}); err == nil {
		t.Fatal("a pdf export")
	}
	if _, err := s.Export(ctx, io.Discard, ExportRequest{Format: FormatCSV, Scope: pgstore.ResultsScope{Form: "nope"}}); err == nil {
		t.Fatal("an export of an unknown questionnaire")
	}
	// An empty export is a header.
	var buf bytes.Buffer
	n, err := s.Export(ctx, &buf, ExportRequest{Format: FormatCSV, Scope: pgstore.ResultsScope{Form: "immigrati"}, RowLevel: true})
	if err != nil || n != 0 || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("empty export: %d %v %q", n, err, buf.String())
	}
	// The operators' answers have no row-level export at all.
	if _, err := s.Export(ctx, io.Discard, ExportRequest{Format: FormatCSV, Scope: pgstore.ResultsScope{Form: "operatori"}, RowLevel: true}); !errors.Is(err, ErrAggregatesOnly) {
		t.Fatalf("a row-level export of the operators' answers: %v", err)
	}
}

// TestDocumentZip: a file larger than Telegram takes goes out zipped, and
// one whose zip is still too large is refused.
func TestDocumentZip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.service(t, 5)
	content := bytes.Repeat([]byte("response_id,priorita,priorita/lavoro\nseed-1,lavoro casa,1\n"), 2000)
	f, err := os.CreateTemp(t.TempDir(), "export-*.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max    int64
		zipped bool
		none   bool
	}{{int64(len(content)), false, false}, {int64(len(content)) - 1, true, false}, {200, false, true}} {
		s.maxDoc = tc.max
		data, zipped, err := s.document(f, "x.csv")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.none:
			if data != nil {
				t.Fatalf("max %d: %d bytes sent", tc.max, len(data))
			}
		case !tc.zipped:
			if zipped || !bytes.Equal(data, content) {
				t.Fatalf("max %d: zipped %v, %d bytes", tc.max, zipped, len(data))
			}
		default:
			if !zipped || int64(len(data)) > tc.max {
				t.Fatalf("max %d: zipped %v, %d bytes", tc.max, zipped, len(data))
			}
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil || len(zr.File) != 1 || zr.File[0].Name != "x.csv" {
				t.Fatalf("zip: %v %+v", err, zr)
			}
			rc, _ := zr.File[0].Open()
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, content) {
				t.Fatal("the zip does not hold the export")
			}
		}
	}
}
