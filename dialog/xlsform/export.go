package xlsform

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/needsbot/needsbot/dialog"
)

// Texts gives Export the messages of a form: the languages to write, in
// order, and the text of a message id in a language.
type Texts interface {
	Languages() []string
	Text(lang, id string) (string, bool)
}

// LanguageColumn is the XLSForm name of a language: its own name and code,
// "Italiano (it)".
func LanguageColumn(code string) string {
	tag, err := language.Parse(code)
	name := ""
	if err == nil {
		name = display.Self.Name(tag)
	}
	if name == "" {
		name = code
	}
	// Italiano, not italiano: the language pickers' spelling.
	if r, n := utf8.DecodeRuneInString(name); unicode.IsLower(r) {
		name = string(unicode.ToUpper(r)) + name[n:]
	}
	return fmt.Sprintf("%s (%s)", name, code)
}

type grid struct {
	cols  []string
	index map[string]int
	rows  [][]string
}

func newGrid(cols ...string) *grid {
	g := &grid{index: map[string]int{}}
	for _, c := range cols {
		g.col(c)
	}
	return g
}

func (g *grid) col(c string) int {
	if i, ok := g.index[c]; ok {
		return i
	}
	g.index[c] = len(g.cols)
	g.cols = append(g.cols, c)
	return len(g.cols) - 1
}

func (g *grid) add(cells map[string]string) {
	for c := range cells {
		g.col(c)
	}
	row := make([]string, len(g.cols))
	for c, v := range cells {
		row[g.index[c]] = v
	}
	g.rows = append(g.rows, row)
}

// used drops the columns no row fills, except keep.
func (g *grid) used(keep ...string) ([]string, [][]string) {
	k := map[string]bool{}
	for _, c := range keep {
		k[c] = true
	}
	var idx []int
	for i, c := range g.cols {
		if k[c] {
			idx = append(idx, i)
			continue
		}
		for _, r := range g.rows {
			if i < len(r) && r[i] != "" {
				idx = append(idx, i)
				break
			}
		}
	}
	cols := make([]string, len(idx))
	for j, i := range idx {
		cols[j] = g.cols[i]
	}
	out := make([][]string, len(g.rows))
	for n, r := range g.rows {
		out[n] = make([]string, len(idx))
		for j, i := range idx {
			if i < len(r) {
				out[n][j] = r[i]
			}
		}
	}
	return cols, out
}

// Export writes f as an XLSForm workbook (survey, choices and settings
// sheets) with a label::, hint::, constraint_message:: and summary::
// (needsbot's own) column per language of t that has any of the form's
// texts.
func Export(f *dialog.Form, t Texts, w io.Writer) error {
	ids := f.MessageIDs()
	var langs []string
	for _, l := range t.Languages() {
		for _, id := range ids {
			if _, ok := t.Text(l, id); ok {
				langs = append(langs, l)
				break
			}
		}
	}
	texts := func(cells map[string]string, base, id string) {
		if id == "" {
			return
		}
		for _, l := range langs {
			if s, ok := t.Text(l, id); ok {
				cells[base+"::"+LanguageColumn(l)] = s
			}
		}
	}
	cols := []string{"type", "name"}
	for _, l := range langs {
		cols = append(cols, "label::"+LanguageColumn(l))
	}
	survey := newGrid(cols...)
	for _, l := range langs {
		survey.col("hint::" + LanguageColumn(l))
	}
	for _, c := range []string{"required", "relevant", "constraint"} {
		survey.col(c)
	}
	for _, l := range langs {
		survey.col("constraint_message::" + LanguageColumn(l))
	}
	for _, c := range []string{"choice_filter", "calculation", "default", "appearance", "parameters", "label_id", "label_choice", "max_length", "report", "area", "context"} {
		survey.col(c)
	}
	for _, l := range langs {
		survey.col("summary::" + LanguageColumn(l))
	}
	var open []*dialog.Group
	for _, q := range f.Questions {
		common := 0
		for common < len(open) && common < len(q.Groups) && open[common] == q.Groups[common] {
			common++
		}
		for len(open) > common {
			survey.add(map[string]string{"type": "end_group", "name": open[len(open)-1].Name})
			open = open[:len(open)-1]
		}
		for _, g := range q.Groups[common:] {
			cells := map[string]string{"type": "begin_group", "name": g.Name, "relevant": g.Relevant.String()}
			texts(cells, "label", g.Label)
			survey.add(cells)
			open = append(open, g)
		}
		cells := map[string]string{"type": q.Type.String(), "name": q.Name,
			"relevant": q.Relevant.String(), "constraint": q.Constraint.String(),
			"choice_filter": q.ChoiceFilter.String(), "calculation": q.Calculation.String(),
			"default": q.Default.String(), "appearance": q.Appearance}
		if q.List != nil {
			cells["type"] += " " + q.List.Name
		}
		if q.Required {
			cells["required"] = "yes"
		}
		if q.Type == dialog.TypeRange {
			cells["parameters"] = fmt.Sprintf("start=%s end=%s step=%s", num(q.Start), num(q.End), num(q.Step))
		}
		if q.Type == dialog.TypeText && q.MaxLength != dialog.DefaultMaxText {
			cells["max_length"] = strconv.Itoa(q.MaxLength)
		}
		if len(q.Report) > 0 {
			secs := make([]string, len(q.Report))
			for i, sec := range q.Report {
				secs[i] = string(sec)
			}
			cells["report"] = strings.Join(secs, " ")
		}
		if q.Area != "" {
			cells["area"] = q.Area
		}
		if q.Context != "" {
			cells["context"] = q.Context
		}
		if q.LabelChoice != nil {
			cells["label_choice"] = q.LabelChoice.Name
		}
		if tn := strings.TrimPrefix(q.Label, "q."+f.ID+"."); q.Label != "" && tn != q.Name {
			cells["label_id"] = tn
		}
		texts(cells, "label", q.Label)
		texts(cells, "hint", q.Hint)
		texts(cells, "constraint_message", q.ConstraintMsg)
		texts(cells, "summary", q.Summary)
		survey.add(cells)
	}
	for len(open) > 0 {
		survey.add(map[string]string{"type": "end_group", "name": open[len(open)-1].Name})
		open = open[:len(open)-1]
	}

	chCols := []string{"list_name", "name"}
	for _, l := range langs {
		chCols = append(chCols, "label::"+LanguageColumn(l))
	}
	choices := newGrid(chCols...)
	for _, list := range listOrder(f) {
		var extra []string
		for _, c := range list.Choices {
			for k := range c.Filter {
				extra = append(extra, k)
			}
			if c.Exclusive {
				extra = append(extra, dialog.ChoiceExclusive)
			}
			if c.Other {
				extra = append(extra, dialog.ChoiceOther)
			}
			if c.Area != "" {
				extra = append(extra, dialog.ChoiceArea)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			choices.col(k)
		}
		for _, c := range list.Choices {
			cells := map[string]string{"list_name": list.Name, "name": c.Name}
			for k, v := range c.Filter {
				cells[k] = v
			}
			if c.Exclusive {
				cells[dialog.ChoiceExclusive] = "yes"
			}
			if c.Other {
				cells[dialog.ChoiceOther] = "yes"
			}
			if c.Area != "" {
				cells[dialog.ChoiceArea] = c.Area
			}
			texts(cells, "label", c.Label)
			choices.add(cells)
		}
	}

	settings := newGrid("form_title", "form_id", "version", "default_language")
	st := map[string]string{"form_id": f.ID, "version": strconv.Itoa(f.Version), "default_language": LanguageColumn(f.Language)}
	if s, ok := t.Text(f.Language, f.Title); ok {
		st["form_title"] = s
	} else {
		st["form_title"] = f.ID
	}
	for _, l := range langs {
		if s, ok := t.Text(l, f.Title); ok && l != f.Language {
			st["form_title::"+LanguageColumn(l)] = s
		}
	}
	if f.Consent != "" {
		st["consent"] = f.Consent
	}
	if f.Eligible != nil {
		st["eligible"] = f.Eligible.String()
	}
	// needsbot's extension settings (Kobo and ODK ignore them).
	st[dialog.SetAudience] = string(f.Audience)
	if f.PairsWith != "" {
		st[dialog.SetPairsWith] = f.PairsWith
	}
	settings.add(st)

	x := excelize.NewFile()
	defer x.Close()
	for i, s := range []struct {
		name string
		g    *grid
		keep []string
	}{{"survey", survey, cols}, {"choices", choices, chCols}, {"settings", settings, nil}} {
		if i == 0 {
			if err := x.SetSheetName("Sheet1", s.name); err != nil {
				return err
			}
		} else if _, err := x.NewSheet(s.name); err != nil {
			return err
		}
		cols, rows := s.g.used(s.keep...)
		if err := setRow(x, s.name, 1, cols); err != nil {
			return err
		}
		for n, r := range rows {
			if err := setRow(x, s.name, n+2, r); err != nil {
				return err
			}
		}
	}
	return x.Write(w)
}

func setRow(x *excelize.File, sheet string, n int, cells []string) error {
	row := make([]any, len(cells))
	for i, c := range cells {
		row[i] = c
	}
	cell, err := excelize.CoordinatesToCellName(1, n)
	if err != nil {
		return err
	}
	return x.SetSheetRow(sheet, cell, &row)
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// listOrder returns the form's lists in order of first use, then the
// unused ones by name.
func listOrder(f *dialog.Form) []*dialog.List {
	seen := map[*dialog.List]bool{}
	var out []*dialog.List
	for _, q := range f.Questions {
		if q.List != nil && !seen[q.List] {
			seen[q.List] = true
			out = append(out, q.List)
		}
	}
	var rest []string
	for name, l := range f.Lists {
		if !seen[l] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		out = append(out, f.Lists[name])
	}
	return out
}
