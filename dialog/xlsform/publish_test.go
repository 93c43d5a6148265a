package xlsform

import (
	"errors"
	"slices"
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
