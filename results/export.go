package results

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Export formats.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// ExportRequest is what to export, for whom.
type ExportRequest struct {
	Format string // FormatCSV or FormatXLSX
	Lang   string // language of the labels ("it", "en")
	Scope  pgstore.ResultsScope
	Actor  *int64 // staff id of who asked; nil for the command line
	Via    string // "telegram" or "cli", for the audit log
	// RowLevel asks for the row-level export: response ids, invite number
	// and label, times to the second, exact answers (country) and free
	// text in the rows. Only the server-side `needsbot export --row-level`
	// sets it; Telegram's /export never does. Without it the export is
	// de-identified (export_deid.go), or aggregates only for a
	// questionnaire whose consent promises totals (aggregatesOnly).
	RowLevel bool
	// HostUser and Purpose are recorded in the audit log of a command-line
	// export: the operating-system user who ran it and the stated purpose.
	HostUser string
	Purpose  string
}

// ErrFormat is an export format other than csv and xlsx.
var ErrFormat = errors.New("results: export format must be csv or xlsx")

// Neutralise defuses a text cell against formula injection: a spreadsheet
// takes a cell beginning with =, +, -, @, a tab or a carriage return as a
// formula, so such a cell gets a leading single quote (OWASP's advice).
// Plain numbers (-3, -2.5) are left alone: they compute nothing, and
// analysts' tools must read them as numbers.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if s[0] == '-' && plainNumber.MatchString(s) {
			return s
		}
		return "'" + s
	}
	return s
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// colKind says what an export column holds.
type colKind uint8

const (
	colValue  colKind = iota + 1 // the stored answer (codes)
	colLabel                     // the labels of the chosen choices
	colChoice                    // 1 when the choice was selected, 0 when not, empty when unanswered
)

// column is one answer column of an export.
type column struct {
	header string
	kind   colKind
	q      *dialog.Question
	choice string
	macro  bool // the value is the choice's macro-area (de-identified exports)
}

// metaHeaders are the metadata columns every export starts with.
var metaHeaders = []string{"response_id", "form", "form_version", "municipality_istat", "municipality", "service",
	"invite", "invite_label", "language", "languages", "consent_version", "started", "completed", "duration_s"}

// layout returns the answer columns of form id: the questions of its
// newest version in order, then those only older versions have; select
// questions get a label column, and select_multiple one 0/1 column per
// choice, named question/choice (the KoboToolbox and ODK convention).
func layout(lib *dialog.Library, id string) []column {
	var versions []*dialog.Form
	for _, f := range lib.Forms() {
		if f.ID == id {
			versions = append(versions, f)
		}
	}
	slices.Reverse(versions) // newest first
	seen := map[string]bool{}
	var cols []column
	for _, f := range versions {
		for _, q := range f.Questions {
			if seen[q.Name] || q.Type == dialog.TypeNote || q.Type == dialog.TypeAcknowledge {
				continue
			}
			seen[q.Name] = true
			cols = append(cols, column{header: q.Name, kind: colValue, q: q})
			switch q.Type {
			case dialog.TypeSelectOne:
				cols = append(cols, column{header: q.Name + ":label", kind: colLabel, q: q})
			case dialog.TypeSelectMultiple:
				cols = append(cols, column{header: q.Name + ":label", kind: colLabel, q: q})
				for _, ch := range allChoices(versions, q.Name) {
					cols = append(cols, column{header: q.Name + "/" + ch, kind: colChoice, q: q, choice: ch})
				}
			}
		}
	}
	return cols
}

// allChoices lists a question's choices over every version, newest first.
func allChoices(versions []*dialog.Form, question string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range versions {
		q := f.Question(question)
		if q == nil || q.List == nil {
			continue
		}
		for _, ch := range q.List.Choices {
			if !seen[ch.Name] {
				seen[ch.Name] = true
				out = append(out, ch.Name)
			}
		}
	}
	return out
}

// exportCells fills cells (one per column) for a row: strings for text,
// float64 for numbers when numeric is set (XLSX), their text otherwise.
type exportCells struct {
	s       *Service
	lang    string
	form    string
	cols    []column
	numeric bool
	loc     *time.Location
	labels  map[string]string // list + "\x00" + choice → label: rendering a message costs a template run
}

func (e *exportCells) label(list, code string) string {
	key := list + "\x00" + code
	l, ok := e.labels[key]
	if !ok {
		if e.labels == nil {
			e.labels = map[string]string{}
		}
		l = e.s.choiceLabel(e.lang, e.form, list, code)
		e.labels[key] = l
	}
	return l
}

func (e *exportCells) meta(r *pgstore.ExportRow, out []any) {
	invite := ""
	if r.InviteID != 0 {
		invite = strconv.FormatInt(r.InviteID, 10)
	}
	out[0], out[1], out[3], out[4], out[5] = r.ID, r.Form, r.ISTAT, Neutralise(r.Municipality), r.Service
	out[6], out[7], out[8] = invite, Neutralise(r.InviteLabel), r.Language
	out[9], out[10] = strings.Join(r.Languages, " "), Neutralise(r.ConsentVersion)
	if e.numeric {
		out[2], out[13] = float64(r.FormVersion), float64(r.DurationS)
		out[11], out[12] = r.Started.In(e.loc), r.Completed.In(e.loc)
		return
	}
	out[2], out[13] = strconv.Itoa(r.FormVersion), strconv.Itoa(r.DurationS)
	out[11], out[12] = r.Started.UTC().Format(time.RFC3339), r.Completed.UTC().Format(time.RFC3339)
}

func (e *exportCells) answers(r *pgstore.ExportRow, out []any) {
	var selected map[string]bool
	var selQ string
	for i, c := range e.cols {
		v, ok := r.Answers[c.q.Name]
		switch c.kind {
		case colValue:
			switch {
			case !ok:
				out[i] = ""
			case e.numeric && isNumeric(c.q.Type):
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					out[i] = f
				} else {
					out[i] = Neutralise(v)
				}
			default:
				out[i] = Neutralise(v)
			}
		case colLabel:
			if !ok {
				out[i] = ""
				continue
			}
			var labels []string
			for _, code := range strings.Fields(v) {
				labels = append(labels, e.label(c.q.List.Name, code))
			}
			out[i] = Neutralise(strings.Join(labels, "; "))
		case colChoice:
			if !ok {
				out[i] = ""
				continue
			}
			if selQ != c.q.Name {
				selQ, selected = c.q.Name, map[string]bool{}
				for _, code := range strings.Fields(v) {
					selected[code] = true
				}
			}
			flag := 0
			if selected[c.choice] {
				flag = 1
			}
			if e.numeric {
				out[i] = float64(flag)
			} else {
				out[i] = strconv.Itoa(flag)
			}
		}
	}
}

func isNumeric(t dialog.Type) bool {
	return t == dialog.TypeInteger || t == dialog.TypeDecimal || t == dialog.TypeRange
}

// tally counts, while rows stream, what the XLSX summary sheet shows: the
// same rows as the data sheet, so the two always agree.
type tally struct {
	rows      int
	languages map[string]int
	answered  map[string]int
	choices   map[string]map[string]int
}

func newTally() *tally {
	return &tally{languages: map[string]int{}, answered: map[string]int{}, choices: map[string]map[string]int{}}
}

func (t *tally) add(r *pgstore.ExportRow, cols []column) {
	t.rows++
	t.languages[r.Language]++
	for _, c := range cols {
		if c.kind != colValue || (c.q.Type != dialog.TypeSelectOne && c.q.Type != dialog.TypeSelectMultiple) {
			continue
		}
		v, ok := r.Answers[c.q.Name]
		if !ok {
			continue
		}
		t.answered[c.q.Name]++
		m := t.choices[c.q.Name]
		if m == nil {
			m = map[string]int{}
			t.choices[c.q.Name] = m
		}
		for _, code := range uniqueFields(v) {
			m[code]++
		}
	}
}

func uniqueFields(v string) []string {
	fs := strings.Fields(v)
	slices.Sort(fs)
	return slices.Compact(fs)
}

// Export writes the responses in req.Scope to w as CSV or XLSX, streaming
// them from Postgres, and records the export in the audit log (who, what
// filter, what kind, how many rows; for the command line the host user and
// the stated purpose). It returns the number of rows written.
//
// Without req.RowLevel the export is de-identified (export_deid.go): a
// de-identified CSV export is a zip of two CSV files (ExportExt). The
// operators' questionnaire exports perturbed aggregates only.
func (s *Service) Export(ctx context.Context, w io.Writer, req ExportRequest) (int, error) {
	x, err := s.export(ctx, w, req)
	return x.rows, err
}

// exported is what an export wrote: how many responses it covers (the
// audit log's count), and for an aggregates-only export the protected
// count of responses its file shows, the only count of it staff may see.
type exported struct {
	rows   int
	totals *Count // aggregates only
}

func (s *Service) export(ctx context.Context, w io.Writer, req ExportRequest) (exported, error) {
	s = s.at() // the questionnaires in force, for this whole request
	if req.Format != FormatCSV && req.Format != FormatXLSX {
		return exported{}, ErrFormat
	}
	if s.forms.Latest(req.Scope.Form) == nil {
		return exported{}, fmt.Errorf("results: export: unknown questionnaire %q", req.Scope.Form)
	}
	var x exported
	lang := staffLang(req.Lang)
	var n int
	var err error
	kind := "deidentified"
	switch {
	case req.RowLevel && s.aggregatesOnly(req.Scope.Form):
		return exported{}, ErrAggregatesOnly
	case req.RowLevel:
		kind = "row_level"
		if req.Format == FormatCSV {
			n, err = s.writeCSV(ctx, w, lang, req.Scope)
		} else {
			n, err = s.writeXLSX(ctx, w, lang, req.Scope)
		}
	case s.aggregatesOnly(req.Scope.Form):
		kind = "aggregates"
		x.totals = &Count{}
		n, err = s.writeAggregates(ctx, w, lang, req.Scope, req.Format, x.totals)
	case req.Format == FormatCSV:
		n, err = s.writeDeidCSV(ctx, w, lang, req.Scope)
	default:
		n, err = s.writeDeidXLSX(ctx, w, lang, req.Scope)
	}
	detail := map[string]any{"format": req.Format, "via": req.Via, "rows": n, "filter": scopeDetail(req.Scope),
		"complete": err == nil, "labels": lang, "kind": kind}
	if req.HostUser != "" {
		detail["host_user"] = req.HostUser
	}
	if req.Purpose != "" {
		detail["purpose"] = req.Purpose
	}
	action := "results.export"
	if req.RowLevel {
		action = "results.export.row_level"
	}
	x.rows = n
	if aerr := s.db.Audit(ctx, req.Actor, action, detail); aerr != nil {
		return x, errors.Join(err, fmt.Errorf("results: export not audited: %w", aerr))
	}
	return x, err
}

// scopeDetail is a scope as the audit log records it.
func scopeDetail(sc pgstore.ResultsScope) map[string]any {
	d := map[string]any{"form": sc.Form, "municipality_id": sc.Municipality}
	if sc.Service != "" {
		d["service"] = sc.Service
	}
	if sc.Language != "" {
		d["language"] = sc.Language
	}
	if !sc.Since.IsZero() {
		d["since"] = sc.Since.UTC().Format(time.RFC3339)
	}
	return d
}

func (s *Service) writeCSV(ctx context.Context, w io.Writer, lang string, sc pgstore.ResultsScope) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	cols := layout(s.forms, sc.Form)
	header := append(slices.Clone(metaHeaders), headers(cols)...)
	if err := cw.Write(header); err != nil {
		return 0, fmt.Errorf("results: export: %w", err)
	}
	cells := &exportCells{s: s, lang: lang, form: sc.Form, cols: cols}
	vals := make([]any, len(header))
	rec := make([]string, len(header))
	n, err := s.db.ExportResponses(ctx, sc, func(r *pgstore.ExportRow) error {
		cells.meta(r, vals)
		cells.answers(r, vals[len(metaHeaders):])
		for i, v := range vals {
			rec[i] = v.(string)
		}
		return cw.Write(rec)
	})
	if err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	return n, nil
}

func headers(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.header
	}
	return out
}

// Sheet names of the XLSX export (fixed, so that analysts' scripts find
// them whatever the label language).
const (
	SheetData     = "data"
	SheetCodebook = "codebook"
	SheetSummary  = "summary"
)

func (s *Service) writeXLSX(ctx context.Context, w io.Writer, lang string, sc pgstore.ResultsScope) (n int, err error) {
	x := excelize.NewFile()
	defer func() {
		if cerr := x.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("results: export: %w", cerr)
		}
	}()
	fail := func(err error) (int, error) { return n, fmt.Errorf("results: export: %w", err) }
	if err := x.SetSheetName("Sheet1", SheetData); err != nil {
		return fail(err)
	}
	bold, err := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fail(err)
	}
	dateFmt := "yyyy-mm-dd hh:mm:ss"
	dates, err := x.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		return fail(err)
	}
	cols := layout(s.forms, sc.Form)
	header := append(slices.Clone(metaHeaders), headers(cols)...)

	sw, err := x.NewStreamWriter(SheetData)
	if err != nil {
		return fail(err)
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fail(err)
	}
	if err := sw.SetRow("A1", stringsToAny(header), excelize.RowOpts{StyleID: bold}); err != nil {
		return fail(err)
	}
	cells := &exportCells{s: s, lang: lang, form: sc.Form, cols: cols, numeric: true, loc: pgstore.ResultsLocation()}
	vals := make([]any, len(header))
	t := newTally()
	n, err = s.db.ExportResponses(ctx, sc, func(r *pgstore.ExportRow) error {
		cells.meta(r, vals)
		cells.answers(r, vals[len(metaHeaders):])
		vals[11] = excelize.Cell{StyleID: dates, Value: vals[11]}
		vals[12] = excelize.Cell{StyleID: dates, Value: vals[12]}
		t.add(r, cols)
		cell, err := excelize.CoordinatesToCellName(1, t.rows+1)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, vals)
	})
	if err != nil {
		return fail(err)
	}
	if err := sw.Flush(); err != nil {
		return fail(err)
	}
	if err := s.codebookSheet(x, lang, sc.Form, cols, bold); err != nil {
		return fail(err)
	}
	if err := s.summarySheet(x, lang, sc, cols, t, bold); err != nil {
		return fail(err)
	}
	// excelize assembles the whole zip in a bytes.Buffer before writing it
	// out (a 100,000-row export would hold ~90 MB, growing by doubling);
	// its documented SetZipWriter hook lets the zip go straight to w, and
	// the buffer stays empty. (That buffer only serves a fix-up of zip64
	// headers for sheets over 4 GB uncompressed, far beyond what Excel
	// opens.)
	x.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	if err := x.Write(w); err != nil {
		return fail(err)
	}
	return n, nil
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// rowWriter writes consecutive rows of a stream writer.
type rowWriter struct {
	sw  *excelize.StreamWriter
	row int
	err error
}

func (r *rowWriter) write(vals []any, opts ...excelize.RowOpts) {
	if r.err != nil {
		return
	}
	r.row++
	cell, err := excelize.CoordinatesToCellName(1, r.row)
	if err != nil {
		r.err = err
		return
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			vals[i] = Neutralise(s)
		}
	}
	r.err = r.sw.SetRow(cell, vals, opts...)
}

// codebookSheet writes every column's question id, text, type, and for
// choices their code and label.
func (s *Service) codebookSheet(x *excelize.File, lang, form string, cols []column, bold int) error {
	if _, err := x.NewSheet(SheetCodebook); err != nil {
		return err
	}
	sw, err := x.NewStreamWriter(SheetCodebook)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 2, 28); err != nil {
		return err
	}
	if err := sw.SetColWidth(6, 6, 70); err != nil {
		return err
	}
	rw := &rowWriter{sw: sw}
	rw.write([]any{"column", "question", "type", "list", "choice", "label"}, excelize.RowOpts{StyleID: bold})
	meta := map[string]string{
		"response_id": "response id (not the respondent)", "form": "questionnaire", "form_version": "questionnaire version",
		"municipality_istat": "municipality ISTAT code", "municipality": "municipality", "service": "service code",
		"invite": "invite number", "invite_label": "invite label", "language": "language the interview was completed in",
		"languages": "languages used, space-separated", "consent_version": "consent text version",
		"started": "started (UTC in CSV, Italian time in XLSX)", "completed": "completed (UTC in CSV, Italian time in XLSX)",
		"duration_s": "duration in seconds",
	}
	for _, h := range metaHeaders {
		rw.write([]any{h, "", "metadata", "", "", meta[h]})
	}
	for _, c := range cols {
		q := c.q
		list := ""
		if q.List != nil {
			list = q.List.Name
		}
		switch c.kind {
		case colValue:
			rw.write([]any{c.header, q.Name, q.Type.String(), list, "", s.questionLabel(lang, form, q.Name)})
			if q.List != nil && q.Type == dialog.TypeSelectOne {
				for _, ch := range q.List.Choices {
					rw.write([]any{c.header, q.Name, "choice", list, ch.Name, s.choiceLabel(lang, form, list, ch.Name)})
				}
			}
		case colLabel:
			rw.write([]any{c.header, q.Name, "labels", list, "", s.questionLabel(lang, form, q.Name)})
		case colChoice:
			rw.write([]any{c.header, q.Name, "choice (0/1)", list, c.choice, s.choiceLabel(lang, form, list, c.choice)})
		}
	}
	if rw.err != nil {
		return rw.err
	}
	return sw.Flush()
}

// summarySheet writes the filter and the counts of the exported rows:
// languages and every choice of every select question, with shares of
// who answered. No suppression: the same file holds the rows.
func (s *Service) summarySheet(x *excelize.File, lang string, sc pgstore.ResultsScope, cols []column, t *tally, bold int) error {
	if _, err := x.NewSheet(SheetSummary); err != nil {
		return err
	}
	sw, err := x.NewStreamWriter(SheetSummary)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 3, 30); err != nil {
		return err
	}
	rw := &rowWriter{sw: sw}
	since := ""
	if !sc.Since.IsZero() {
		since = sc.Since.In(pgstore.ResultsLocation()).Format("2006-01-02 15:04")
	}
	rw.write([]any{"questionnaire", sc.Form}, excelize.RowOpts{StyleID: bold})
	rw.write([]any{"municipality_id", float64(sc.Municipality)})
	rw.write([]any{"service", sc.Service})
	rw.write([]any{"language", sc.Language})
	rw.write([]any{"since", since})
	rw.write([]any{"generated", s.now().In(pgstore.ResultsLocation()).Format("2006-01-02 15:04")})
	rw.write([]any{"responses", float64(t.rows)})
	rw.write([]any{})
	rw.write([]any{"language", "", "", "count", "share"}, excelize.RowOpts{StyleID: bold})
	for _, l := range slices.Sorted(maps.Keys(t.languages)) {
		rw.write([]any{l, "", s.languageName(l), float64(t.languages[l]), share(t.languages[l], t.rows)})
	}
	rw.write([]any{})
	rw.write([]any{"question", "choice", "label", "count", "share of answered", "answered"}, excelize.RowOpts{StyleID: bold})
	for _, c := range cols {
		q := c.q
		if c.kind != colValue || q.List == nil || (q.Type != dialog.TypeSelectOne && q.Type != dialog.TypeSelectMultiple) {
			continue
		}
		answered := t.answered[q.Name]
		rw.write([]any{q.Name, "", s.questionLabel(lang, sc.Form, q.Name), float64(answered), "", float64(answered)})
		var choices []string
		if !c.macro {
			choices = allChoicesOf(q)
		}
		for _, code := range slices.Sorted(maps.Keys(t.choices[q.Name])) {
			if !slices.Contains(choices, code) {
				choices = append(choices, code)
			}
		}
		for _, code := range choices {
			k := t.choices[q.Name][code]
			rw.write([]any{q.Name, code, s.choiceLabel(lang, sc.Form, q.List.Name, code), float64(k), share(k, answered), float64(answered)})
		}
	}
	if rw.err != nil {
		return rw.err
	}
	return sw.Flush()
}

func allChoicesOf(q *dialog.Question) []string {
	var out []string
	for _, ch := range q.List.Choices {
		out = append(out, ch.Name)
	}
	return out
}

func share(k, of int) any {
	if of == 0 {
		return ""
	}
	return float64(k) / float64(of)
}
