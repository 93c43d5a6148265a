package results

import (
	"archive/zip"
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// The de-identified export (what /export in Telegram gives managers and
// what `needsbot export` writes without --row-level):
//
//   - no response id, invite number or label, operator, pseudonym;
//   - the completion day only (no time, no start), the duration in whole
//     minutes, rows in random order within a day;
//   - a question whose choices carry a `macro` column (the country of
//     citizenship) as its macro-area only;
//   - dates answered coarsened to the month;
//   - free-text answers not in the rows but in a separate sheet (XLSX) or
//     file (CSV, zipped with the rows), in random order, with no response
//     id and with e-mail addresses, links, @accounts, phone numbers,
//     document-like codes and digit runs masked (Masker).
//
// A questionnaire whose consent promises totals only (the operators')
// exports only perturbed aggregates (aggregatesOnly).

// deidMetaHeaders are the metadata columns of a de-identified export.
var deidMetaHeaders = []string{"form", "form_version", "municipality_istat", "municipality", "service",
	"language", "languages", "consent_version", "completed_date", "duration_min"}

// deidMetaDescriptions describe them in the codebook.
func deidMetaDescriptions() map[string]string {
	return map[string]string{
		"form": "questionnaire", "form_version": "questionnaire version", "municipality_istat": "municipality ISTAT code",
		"municipality": "municipality", "service": "service code", "language": "language the interview was completed in",
		"languages": "languages used, space-separated", "consent_version": "consent text version",
		"completed_date": "day of completion (Italian calendar), no time", "duration_min": "duration in whole minutes",
	}
}

// Names of the files and sheets of a de-identified export.
const (
	SheetFreeText  = "free_text"
	FileResponses  = "responses.csv"
	FileFreeText   = "free_text.csv"
	SheetAggregate = "aggregates"
)

// aggregatesOnly reports whether a questionnaire's consent promises that
// its answers are shown only as totals: a form answered by staff
// (audience: staff; the operators' consent says so, QUESTIONNAIRES.md).
// Its exports are aggregates, and no row-level export exists for it.
func (s *Service) aggregatesOnly(form string) bool {
	f := s.forms.Latest(form)
	return f != nil && f.Audience == dialog.AudienceStaff
}

// ErrAggregatesOnly is a row-level export asked for a questionnaire whose
// consent promises totals only.
var ErrAggregatesOnly = errors.New("results: this questionnaire's consent promises totals only: no row-level export")

// ExportExt is the file extension of an export of form in format: "csv.zip"
// for a de-identified CSV export (its rows and its free texts are two
// files), the format otherwise.
func (s *Service) ExportExt(form, format string, rowLevel bool) string {
	s = s.at() // the questionnaires in force, for this whole request
	if format == FormatCSV && !rowLevel && !s.aggregatesOnly(form) {
		return "csv.zip"
	}
	return format
}

// macroOf returns, for a select_one question whose every choice names a
// macro-area, the choice → macro-area map; nil otherwise.
func macroOf(q *dialog.Question) map[string]string {
	if q.Type != dialog.TypeSelectOne || q.List == nil || len(q.List.Choices) == 0 {
		return nil
	}
	m := make(map[string]string, len(q.List.Choices))
	for _, ch := range q.List.Choices {
		a := ch.Filter["macro"]
		if a == "" {
			return nil
		}
		m[ch.Name] = a
	}
	return m
}

// deidLayout is the column layout of a de-identified export: free-text
// questions leave the rows (texts lists them), a macro question becomes
// one <name>_macro column.
type deidLayout struct {
	cols   []column
	texts  []*dialog.Question
	macros map[string]map[string]string // question → choice → macro-area
	dates  map[string]bool
}

func newDeidLayout(lib *dialog.Library, form string) *deidLayout {
	l := &deidLayout{macros: map[string]map[string]string{}, dates: map[string]bool{}}
	skipLabel := map[string]bool{}
	for _, c := range layout(lib, form) {
		q := c.q
		switch {
		case q.Type == dialog.TypeText:
			if c.kind == colValue {
				l.texts = append(l.texts, q)
			}
			continue
		case skipLabel[q.Name]:
			continue
		case c.kind == colValue && macroOf(q) != nil:
			l.macros[q.Name] = macroOf(q)
			skipLabel[q.Name] = true
			c.header = q.Name + "_macro"
			c.macro = true
		case c.kind == colValue && q.Type == dialog.TypeDate:
			l.dates[q.Name] = true
		}
		l.cols = append(l.cols, c)
	}
	return l
}

// freeText is one free-text answer of a de-identified export.
type freeText struct{ question, text string }

// deidRows turns the rows of a de-identified export into cells: it
// rewrites each row's answers (macro-areas, months, texts out) and keeps
// the masked texts aside.
type deidRows struct {
	l     *deidLayout
	mask  *Masker
	texts []freeText
}

// rewrite applies the de-identification to r's answers in place.
func (d *deidRows) rewrite(r *pgstore.ExportRow) {
	for _, q := range d.l.texts {
		if v, ok := r.Answers[q.Name]; ok {
			if v = strings.TrimSpace(v); v != "" {
				d.texts = append(d.texts, freeText{question: q.Name, text: d.mask.Mask(v)})
			}
			delete(r.Answers, q.Name)
		}
	}
	for name, m := range d.l.macros {
		if v, ok := r.Answers[name]; ok {
			a, known := m[v]
			if !known {
				a = "other"
			}
			r.Answers[name] = a
		}
	}
	for name := range d.l.dates {
		if v, ok := r.Answers[name]; ok && len(v) > 7 {
			r.Answers[name] = v[:7] // YYYY-MM
		}
	}
}

func (d *deidRows) meta(e *exportCells, r *pgstore.ExportRow, out []any) {
	day := r.Completed.In(pgstore.ResultsLocation()).Format("2006-01-02")
	minutes := (r.DurationS + 30) / 60
	out[0], out[2], out[3], out[4] = r.Form, r.ISTAT, Neutralise(r.Municipality), r.Service
	out[5], out[6], out[7], out[8] = r.Language, strings.Join(r.Languages, " "), Neutralise(r.ConsentVersion), day
	if e.numeric {
		out[1], out[9] = float64(r.FormVersion), float64(minutes)
		return
	}
	out[1], out[9] = strconv.Itoa(r.FormVersion), strconv.Itoa(minutes)
}

// shuffled returns the collected texts in a random order (a fresh
// crypto-seeded generator: the order says nothing about the rows').
func (d *deidRows) shuffled() []freeText {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	r := rand.New(rand.NewChaCha8(seed))
	out := slices.Clone(d.texts)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (s *Service) writeDeidCSV(ctx context.Context, w io.Writer, lang string, sc pgstore.ResultsScope) (int, error) {
	fail := func(n int, err error) (int, error) { return n, fmt.Errorf("results: export: %w", err) }
	bw := bufio.NewWriterSize(w, 256<<10)
	zw := zip.NewWriter(bw)
	now := s.now()
	f, err := zw.CreateHeader(&zip.FileHeader{Name: FileResponses, Method: zip.Deflate, Modified: now})
	if err != nil {
		return fail(0, err)
	}
	l := newDeidLayout(s.forms, sc.Form)
	d := &deidRows{l: l, mask: NewMasker()}
	cw := csv.NewWriter(f)
	header := append(slices.Clone(deidMetaHeaders), headers(l.cols)...)
	if err := cw.Write(header); err != nil {
		return fail(0, err)
	}
	cells := &exportCells{s: s, lang: lang, form: sc.Form, cols: l.cols}
	vals := make([]any, len(header))
	rec := make([]string, len(header))
	n, err := s.db.ExportResponsesByDay(ctx, sc, func(r *pgstore.ExportRow) error {
		d.rewrite(r)
		d.meta(cells, r, vals)
		cells.answers(r, vals[len(deidMetaHeaders):])
		for i, v := range vals {
			rec[i] = v.(string)
		}
		return cw.Write(rec)
	})
	if err != nil {
		return fail(n, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fail(n, err)
	}
	if f, err = zw.CreateHeader(&zip.FileHeader{Name: FileFreeText, Method: zip.Deflate, Modified: now}); err != nil {
		return fail(n, err)
	}
	cw = csv.NewWriter(f)
	if err := cw.Write([]string{"question", "text"}); err != nil {
		return fail(n, err)
	}
	for _, t := range d.shuffled() {
		if err := cw.Write([]string{t.question, Neutralise(t.text)}); err != nil {
			return fail(n, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fail(n, err)
	}
	if err := zw.Close(); err != nil {
		return fail(n, err)
	}
	if err := bw.Flush(); err != nil {
		return fail(n, err)
	}
	return n, nil
}

func (s *Service) writeDeidXLSX(ctx context.Context, w io.Writer, lang string, sc pgstore.ResultsScope) (n int, err error) {
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
	l := newDeidLayout(s.forms, sc.Form)
	d := &deidRows{l: l, mask: NewMasker()}
	header := append(slices.Clone(deidMetaHeaders), headers(l.cols)...)
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
	cells := &exportCells{s: s, lang: lang, form: sc.Form, cols: l.cols, numeric: true, loc: pgstore.ResultsLocation()}
	vals := make([]any, len(header))
	t := newTally()
	n, err = s.db.ExportResponsesByDay(ctx, sc, func(r *pgstore.ExportRow) error {
		d.rewrite(r)
		d.meta(cells, r, vals)
		cells.answers(r, vals[len(deidMetaHeaders):])
		t.add(r, l.cols)
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
	if err := s.freeTextSheet(x, lang, sc.Form, d.shuffled(), bold); err != nil {
		return fail(err)
	}
	if err := s.deidCodebookSheet(x, lang, sc.Form, l, bold); err != nil {
		return fail(err)
	}
	if err := s.summarySheet(x, lang, sc, l.cols, t, bold); err != nil {
		return fail(err)
	}
	x.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	if err := x.Write(w); err != nil {
		return fail(err)
	}
	return n, nil
}

// freeTextSheet writes the masked free texts, in random order, with the
// question they answer and nothing else.
func (s *Service) freeTextSheet(x *excelize.File, lang, form string, texts []freeText, bold int) error {
	if _, err := x.NewSheet(SheetFreeText); err != nil {
		return err
	}
	sw, err := x.NewStreamWriter(SheetFreeText)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 2, 24); err != nil {
		return err
	}
	if err := sw.SetColWidth(3, 3, 90); err != nil {
		return err
	}
	rw := &rowWriter{sw: sw}
	rw.write([]any{"question", "question_label", "text"}, excelize.RowOpts{StyleID: bold})
	labels := map[string]string{}
	for _, t := range texts {
		lb, ok := labels[t.question]
		if !ok {
			lb = truncate(s.questionLabel(lang, form, t.question), 80)
			labels[t.question] = lb
		}
		rw.write([]any{t.question, lb, t.text})
	}
	if rw.err != nil {
		return rw.err
	}
	return sw.Flush()
}

// deidCodebookSheet is the codebook of a de-identified export.
func (s *Service) deidCodebookSheet(x *excelize.File, lang, form string, l *deidLayout, bold int) error {
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
	meta := deidMetaDescriptions()
	for _, h := range deidMetaHeaders {
		rw.write([]any{h, "", "metadata", "", "", meta[h]})
	}
	for _, c := range l.cols {
		q := c.q
		list := ""
		if q.List != nil {
			list = q.List.Name
		}
		switch {
		case c.macro:
			rw.write([]any{c.header, q.Name, "macro-area", list, "", s.questionLabel(lang, form, q.Name) + " (macro-area only)"})
			byArea := map[string][]string{}
			for _, ch := range q.List.Choices {
				a := l.macros[q.Name][ch.Name]
				byArea[a] = append(byArea[a], s.choiceLabel(lang, form, list, ch.Name))
			}
			for _, a := range slices.Sorted(func(yield func(string) bool) {
				for a := range byArea {
					if !yield(a) {
						return
					}
				}
			}) {
				rw.write([]any{c.header, q.Name, "macro-area", list, a, truncate(strings.Join(byArea[a], ", "), 250)})
			}
		case c.kind == colValue:
			typ := q.Type.String()
			if l.dates[q.Name] {
				typ += " (month only)"
			}
			rw.write([]any{c.header, q.Name, typ, list, "", s.questionLabel(lang, form, q.Name)})
			if q.List != nil && q.Type == dialog.TypeSelectOne {
				for _, ch := range q.List.Choices {
					rw.write([]any{c.header, q.Name, "choice", list, ch.Name, s.choiceLabel(lang, form, list, ch.Name)})
				}
			}
		case c.kind == colLabel:
			rw.write([]any{c.header, q.Name, "labels", list, "", s.questionLabel(lang, form, q.Name)})
		case c.kind == colChoice:
			rw.write([]any{c.header, q.Name, "choice (0/1)", list, c.choice, s.choiceLabel(lang, form, list, c.choice)})
		}
	}
	for _, q := range l.texts {
		rw.write([]any{SheetFreeText, q.Name, "text (separate sheet, masked, random order)", "", "", s.questionLabel(lang, form, q.Name)})
	}
	if rw.err != nil {
		return rw.err
	}
	return sw.Flush()
}
