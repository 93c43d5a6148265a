package results

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// The aggregate export of a questionnaire whose consent promises totals
// only (the operators'): for every closed question, how many answered it
// and how many chose each choice, each count protected like every count
// staff see in /results (Protect, the cell-key method), and nothing else: no rows, no
// free text, no dates.

// aggCell accumulates one cell: its true count and the sum of its
// records' keys (Protect derives the cell key from it).
type aggCell struct {
	n      int64
	keySum int64
}

func (c *aggCell) add(recordKey int64) {
	c.n++
	c.keySum += recordKey
}

// aggQuestion is one question of the aggregate export.
type aggQuestion struct {
	q        *dialog.Question
	answered aggCell
	choices  map[string]*aggCell
}

// aggregates gathers the cells of an aggregate export.
type aggregates struct {
	total aggCell
	qs    []*aggQuestion
	by    map[string]*aggQuestion
}

func newAggregates(lib *dialog.Library, form string) *aggregates {
	a := &aggregates{by: map[string]*aggQuestion{}}
	for _, c := range layout(lib, form) {
		q := c.q
		if c.kind != colValue {
			continue
		}
		switch q.Type {
		case dialog.TypeSelectOne, dialog.TypeSelectMultiple, dialog.TypeRange:
		default:
			continue // free text, numbers, dates, hidden: not aggregated
		}
		aq := &aggQuestion{q: q, choices: map[string]*aggCell{}}
		a.qs = append(a.qs, aq)
		a.by[q.Name] = aq
	}
	return a
}

func (a *aggregates) add(r *pgstore.ExportRow) {
	key := r.RecordKey
	a.total.add(key)
	for name, v := range r.Answers {
		aq := a.by[name]
		if aq == nil {
			continue
		}
		aq.answered.add(key)
		for _, code := range uniqueFields(v) {
			c := aq.choices[code]
			if c == nil {
				c = &aggCell{}
				aq.choices[code] = c
			}
			c.add(key)
		}
	}
}

// codes lists a question's codes: its choices (every one, chosen or not,
// so that a zero is never told apart from a small count by its absence),
// then any other code seen, sorted.
func (aq *aggQuestion) codes() []string {
	var out []string
	if aq.q.List != nil {
		out = allChoicesOf(aq.q)
	} else if aq.q.Type == dialog.TypeRange && aq.q.Step > 0 {
		for v := aq.q.Start; v <= aq.q.End; v += aq.q.Step {
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	var extra []string
	for code := range aq.choices {
		if !slices.Contains(out, code) {
			extra = append(extra, code)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// cell is a protected count as an export writes it: the number, or "<T".
func (s *Service) cell(c *aggCell) string {
	if c == nil {
		c = &aggCell{}
	}
	return Protect(c.n, c.keySum, s.minCell).String()
}

// aggregateRows are the rows of the aggregate table: question, question
// label, choice, choice label, count.
func (s *Service) aggregateRows(lang, form string, a *aggregates) [][]string {
	rows := [][]string{{"question", "question_label", "choice", "choice_label", "count"}}
	rows = append(rows, []string{"", "responses", "", "", s.cell(&a.total)})
	for _, aq := range a.qs {
		q := aq.q
		rows = append(rows, []string{q.Name, truncate(s.questionLabel(lang, form, q.Name), 120), "", "answered", s.cell(&aq.answered)})
		for _, code := range aq.codes() {
			label := code
			if q.List != nil {
				label = s.choiceLabel(lang, form, q.List.Name, code)
			}
			rows = append(rows, []string{q.Name, "", code, label, s.cell(aq.choices[code])})
		}
	}
	return rows
}

// aggregateNote heads the aggregate export: what it is and how to read it.
func (s *Service) aggregateNote(sc pgstore.ResultsScope) []string {
	return []string{
		fmt.Sprintf("Totals only: the consent of questionnaire %q promises that answers are shown only as totals.", sc.Form),
		fmt.Sprintf("Counts are protected like /results (docs/disclosure-control.md): perturbed by the cell-key method, and \"<%d\" is a count too small to show.", Threshold(s.minCell)),
		"Free-text answers are not exported. Like /results, counts run to the last released batch of whole days (not today).",
	}
}

// writeAggregates writes the aggregate export of sc to w in format and
// returns how many responses it covers (for the audit log). total, when
// not nil, gets the protected count of responses the file
// shows (its "responses" row), for what is said about the file elsewhere
// (the Telegram caption): never the true count, which the file hides.
func (s *Service) writeAggregates(ctx context.Context, w io.Writer, lang string, sc pgstore.ResultsScope, format string, total *Count) (int, error) {
	// Released batches only, like /results: whole days before today, cut
	// so that two exports never differ by less than a batch of at least
	// the threshold of interviews (docs/disclosure-control.md). The
	// Telegram export's scope is cut already; the command line's is cut here.
	if until := Until(s.now()); sc.Until.IsZero() || sc.Until.After(until) {
		sc.Until = until
	}
	sc, err := s.release(ctx, sc)
	if err != nil {
		return 0, fmt.Errorf("results: export: %w", err)
	}
	a := newAggregates(s.forms, sc.Form)
	n, err := s.db.ExportResponses(ctx, sc, func(r *pgstore.ExportRow) error {
		a.add(r)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	if total != nil {
		*total = Protect(a.total.n, a.total.keySum, s.minCell)
	}
	rows := s.aggregateRows(lang, sc.Form, a)
	if format == FormatCSV {
		bw := bufio.NewWriter(w)
		cw := csv.NewWriter(bw)
		for _, line := range s.aggregateNote(sc) {
			if err := cw.Write([]string{"# " + line}); err != nil {
				return n, fmt.Errorf("results: export: %w", err)
			}
		}
		for _, r := range rows {
			for i := range r {
				r[i] = Neutralise(r[i])
			}
			if err := cw.Write(r); err != nil {
				return n, fmt.Errorf("results: export: %w", err)
			}
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
	x := excelize.NewFile()
	defer x.Close()
	if err := x.SetSheetName("Sheet1", SheetAggregate); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	bold, err := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	sw, err := x.NewStreamWriter(SheetAggregate)
	if err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	if err := sw.SetColWidth(2, 2, 60); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	rw := &rowWriter{sw: sw}
	for _, line := range s.aggregateNote(sc) {
		rw.write([]any{line})
	}
	rw.write([]any{})
	for i, r := range rows {
		vals := make([]any, len(r))
		for j, v := range r {
			vals[j] = v
			if j == 4 && i > 0 && !strings.HasPrefix(v, "<") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					vals[j] = f
				}
			}
		}
		if i == 0 {
			rw.write(vals, excelize.RowOpts{StyleID: bold})
		} else {
			rw.write(vals)
		}
	}
	if rw.err != nil {
		return n, fmt.Errorf("results: export: %w", rw.err)
	}
	if err := sw.Flush(); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	if err := x.Write(w); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	return n, nil
}
