package xlsform

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestPrepare: a workbook whose Italian lacks one label is published for
// English only, Italian left out; one whose default language lacks a label
// is refused; an unsupported workbook is refused with the importer's problems.
func TestPrepare(t *testing.T) {
	md := func(itLabel, enLabel string) *Workbook {
		wb, err := ReadMarkdown([]byte(`
| survey   |
|          | type | name | label::English (en) | label::Italiano (it) |
|          | text | city | ` + enLabel + ` | ` + itLabel + ` |
|          | text | job  | Your job? | Il tuo lavoro? |
| settings |
|          | form_id | version | default_language |
|          | tiny    | 3       | en               |
`))
		if err != nil {
			t.Fatal(err)
		}
		return wb
	}
	p, err := Prepare(md("", "Which city?"))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if p.Result.FormID != "tiny" || !slices.Equal(p.Complete, []string{"en"}) || !slices.Equal(p.Incomplete, []string{"it"}) {
		t.Errorf("publication = %s complete %v incomplete %v", p.Result.FormID, p.Complete, p.Incomplete)
	}
	if m := p.Messages(); len(m) != 1 || m["en"] == "" {
		t.Errorf("messages = %v", m)
	}
	pv := p.Preview("en", 5)
	if !strings.Contains(pv, "1. Which city?") || !strings.Contains(pv, "2. Your job?") {
		t.Errorf("preview:\n%s", pv)
	}
	if _, err := Prepare(md("Quale città?", "")); err == nil {
		t.Error("a form whose default language lacks messages was accepted")
	}
	bad, err := ReadMarkdown([]byte(`
| survey |
|        | type   | name | label::English (en) |
|        | geopoint | where | Where? |
`))
	if err != nil {
		t.Fatal(err)
	}
	var re *RefusedError
	if _, err := Prepare(bad); !errors.As(err, &re) || len(re.Problems) == 0 {
		t.Errorf("unsupported workbook: %v", err)
	}
}

// TestPreviewTwoLanguages: the preview of a real workbook walks it in each
// language with that language's labels, and marks the choice answered.
func TestPreviewTwoLanguages(t *testing.T) {
	wb, err := Open("testdata/own/needs.md")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(wb)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "Small needs check [en]", "it": "Quanti anni hai?"} {
		pv := p.Preview(lang, 20)
		if !strings.Contains(pv, want) || !strings.Contains(pv, "✔") || strings.Contains(pv, "q.needs_small.") {
			t.Errorf("%s preview lacks %q, a marked answer, or shows raw ids:\n%s", lang, want, pv)
		}
	}
	short := p.Preview("en", 1)
	if !strings.Contains(short, "more)") {
		t.Errorf("preview of 1 question not cut:\n%s", short)
	}
}

// TestTitleInDefaultLanguageColumn: a workbook that gives its title only
// as form_title::<default language> is titled with it (not its id).
func TestTitleInDefaultLanguageColumn(t *testing.T) {
	wb, err := ReadMarkdown([]byte(`
| survey   |
|          | type | name | label::English (en) | label::Italiano (it) |
|          | text | city | Which city? | Quale città? |
| settings |
|          | form_id | default_language | form_title::English (en) | form_title::Italiano (it) |
|          | tiny    | en               | Our town                 | La nostra città           |
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(wb)
	if err != nil {
		t.Fatal(err)
	}
	if en, it := p.Result.Messages["en"]["f.tiny.title"], p.Result.Messages["it"]["f.tiny.title"]; en != "Our town" || it != "La nostra città" {
		t.Errorf("titles en %q it %q", en, it)
	}
}
