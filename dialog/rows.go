package dialog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Row is one row of a questionnaire's sheet in the row model every source
// produces (the YAML files and XLSForm workbooks alike): its cells by
// XLSForm column name. Texts are not cells: they are messages (locales/).
type Row struct {
	// Line is where the row comes from — a line of a YAML file, or a
	// position the producer maps back to a sheet and row — for problems.
	Line  int
	Cells map[string]string
	// lines holds the line of single cells when it differs from Line (a
	// YAML key on its own line), for precise problems.
	lines map[string]int
}

// Get returns the trimmed value of column col ("" when absent).
func (r Row) Get(col string) string { return strings.TrimSpace(r.Cells[col]) }

// Set sets column col, at the row's own line.
func (r *Row) Set(col, value string) {
	if r.Cells == nil {
		r.Cells = map[string]string{}
	}
	r.Cells[col] = value
}

func (r *Row) setAt(col, value string, line int) {
	r.Set(col, value)
	if line != 0 && line != r.Line {
		if r.lines == nil {
			r.lines = map[string]int{}
		}
		r.lines[col] = line
	}
}

func (r Row) lineOf(col string) int {
	if l, ok := r.lines[col]; ok {
		return l
	}
	return r.Line
}

// Sheets is a questionnaire in the row model: the settings row, the
// survey rows (groups as begin_group/end_group rows) and the choice rows
// (each with its list_name), as an XLSForm workbook has them. Compile turns
// it into a Form; the engine only ever sees Forms.
type Sheets struct {
	File     string
	Settings Row
	Survey   []Row
	Choices  []Row
}

// Settings columns (XLSForm's settings sheet, and needsbot's extensions,
// which KoboToolbox and ODK ignore).
const (
	SetFormID          = "form_id"
	SetVersion         = "version"
	SetTitle           = "title" // message id of the title; default f.<form>.title
	SetDefaultLanguage = "default_language"
	SetConsent         = "consent"
	SetEligible        = "eligible"
	SetAudience        = "audience"
	SetPairsWith       = "pairs_with"
)

var settingsColumns = []string{SetFormID, SetVersion, SetTitle, SetDefaultLanguage, SetConsent, SetEligible, SetAudience, SetPairsWith}

// surveyColumns are the columns of a survey row Compile understands.
// label, hint and constraint_message hold "yes" when the row has that text
// (the texts themselves are messages).
var surveyColumns = []string{"type", "name", "label", "hint", "required", "relevant", "constraint",
	"constraint_message", "choice_filter", "calculation", "default", "appearance", "parameters",
	"max_length", "label_id", "label_choice", "report", "area", "context", "summary"}

// SurveyColumn reports whether col is a survey column of the row model.
func SurveyColumn(col string) bool {
	for _, c := range surveyColumns {
		if c == col {
			return true
		}
	}
	return false
}

// Columns of a choice row with a meaning of their own; every other column
// is available to choice_filter (Choice.Filter).
const (
	ChoiceListName  = "list_name"
	ChoiceName      = "name"
	ChoiceExclusive = "exclusive" // yes: stands alone in a select_multiple
	ChoiceOther     = "other"     // yes: a catch-all answer (other…), left out of the top needs
	ChoiceArea      = "area"      // the need area the choice names
	// A choice that is a band of numbers (an age band) gives its bounds,
	// inclusive, in min and/or max: a number typed at the question picks
	// the band that contains it. They stay in Choice.Filter too (and so
	// in choice_filter and in the export, like any other column).
	ChoiceMin = "min"
	ChoiceMax = "max"
)

// YAML writes the sheets in needsbot's YAML syntax, which Parse reads
// back to the same rows: one mapping per survey row, choices by list.
func (s *Sheets) YAML() []byte {
	var b bytes.Buffer
	for _, col := range settingsColumns {
		v := s.Settings.Get(col)
		if v == "" {
			continue
		}
		key := col
		if col == SetFormID {
			key = "form"
		}
		if col == SetVersion {
			fmt.Fprintf(&b, "%s: %s\n", key, v)
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", key, yamlQuote(v))
	}
	b.WriteString("survey:\n")
	for _, r := range s.Survey {
		cols := sortedCols(r, "type", "name")
		for i, col := range cols {
			prefix := "    "
			if i == 0 {
				prefix = "  - "
			}
			v := r.Get(col)
			switch col {
			case "label", "hint", "constraint_message", "required", "summary":
				if yes, ok := YesNo(v); ok {
					if !yes {
						continue
					}
					fmt.Fprintf(&b, "%s%s: true\n", prefix, col)
					continue
				}
			case "max_length":
				fmt.Fprintf(&b, "%s%s: %s\n", prefix, col, v)
				continue
			}
			fmt.Fprintf(&b, "%s%s: %s\n", prefix, col, yamlQuote(v))
		}
	}
	if len(s.Choices) == 0 {
		return b.Bytes()
	}
	b.WriteString("choices:\n")
	var lists []string
	byList := map[string][]Row{}
	for _, r := range s.Choices {
		l := r.Get(ChoiceListName)
		if _, ok := byList[l]; !ok {
			lists = append(lists, l)
		}
		byList[l] = append(byList[l], r)
	}
	for _, l := range lists {
		fmt.Fprintf(&b, "  %s:\n", yamlQuote(l))
		for _, r := range byList[l] {
			cols := sortedCols(r, ChoiceName)
			var extra []string
			for _, c := range cols {
				if c != ChoiceName && c != ChoiceListName {
					extra = append(extra, c)
				}
			}
			if len(extra) == 0 {
				fmt.Fprintf(&b, "    - %s\n", yamlQuote(r.Get(ChoiceName)))
				continue
			}
			parts := []string{"name: " + yamlQuote(r.Get(ChoiceName))}
			for _, c := range extra {
				parts = append(parts, yamlQuote(c)+": "+yamlQuote(r.Get(c)))
			}
			fmt.Fprintf(&b, "    - {%s}\n", strings.Join(parts, ", "))
		}
	}
	return b.Bytes()
}

// sortedCols lists the row's non-empty columns, first ones first, the
// others sorted.
func sortedCols(r Row, first ...string) []string {
	var out, rest []string
	for _, f := range first {
		if r.Get(f) != "" {
			out = append(out, f)
		}
	}
	for c := range r.Cells {
		if r.Get(c) == "" || contains(first, c) {
			continue
		}
		rest = append(rest, c)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// yamlQuote writes s as a double-quoted string valid in YAML.
func yamlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// YesNo reads an XLSForm yes/no cell: "" and no/false/0 are false,
// yes/true/1 true; ok is false for anything else.
func YesNo(v string) (yes, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "no", "false", "false()", "0", "n":
		return false, true
	case "yes", "true", "true()", "1", "y":
		return true, true
	}
	return false, false
}
