package dialog

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

const meaningForm = `form: m
version: 1
audience: staff
pairs_with: other_side
survey:
  - type: select_multiple areas
    name: top
    report: priorities areas referral
  - type: select_multiple areas
    name: asked
    report: referral
  - type: select_multiple info
    name: sources
    report: descriptive
  - type: select_one country
    name: country
    report: origin
  - type: select_one region
    name: region
    report: origin
    relevant: "${country} = 'elsewhere'"
choices:
  areas:
    - {name: home, area: housing}
    - {name: job, area: work}
    - {name: other, other: yes}
    - {name: none, exclusive: yes}
  info: ["friends", "none"]
  country:
    - {name: fr, macro: eu}
    - {name: elsewhere}
  region:
    - {name: south_america, macro: americas}
`

// TestMeaningFromColumns: what the form means comes from its columns and
// settings, never from a choice's or question's name.
func TestMeaningFromColumns(t *testing.T) {
	f, err := Parse("m.yaml", []byte(meaningForm))
	if err != nil {
		t.Fatal(err)
	}
	if f.Audience != AudienceStaff || f.PairsWith != "other_side" {
		t.Errorf("audience %q pairs_with %q", f.Audience, f.PairsWith)
	}
	areas := f.Lists["areas"]
	if c, _ := areas.Choice("none"); !c.Exclusive {
		t.Error("none with exclusive: yes is not exclusive")
	}
	if c, _ := f.Lists["info"].Choice("none"); c.Exclusive {
		t.Error("a choice named none without the column is exclusive: meaning from the name")
	}
	if c, _ := areas.Choice("other"); !c.Other || c.Exclusive {
		t.Errorf("other: %+v", c)
	}
	if got := areas.Areas(); !slices.Equal(got, []string{"housing", "work"}) {
		t.Errorf("areas %v", got)
	}
	if q := f.First(SectionPriorities); q == nil || q.Name != "top" {
		t.Errorf("priorities: %v", q)
	}
	var needs []string
	for _, q := range f.Section(SectionNeeds) {
		needs = append(needs, q.Name)
	}
	// top is the priorities question, sources descriptive: only asked is
	// a need question (an undeclared select_multiple is one too).
	if !slices.Equal(needs, []string{"asked"}) {
		t.Errorf("needs %v", needs)
	}
	// Priorities first, then the other referral questions.
	if got := f.NeedAreas(map[string]string{"asked": "home job", "top": "job other"}); !slices.Equal(got, []string{"work", "housing"}) {
		t.Errorf("need areas %v", got)
	}
	for _, c := range []struct {
		answers map[string]string
		want    string
	}{
		{map[string]string{"country": "fr"}, "eu"},
		{map[string]string{"country": "elsewhere", "region": "south_america"}, "americas"},
		{map[string]string{"country": "elsewhere"}, ""},
		{nil, ""},
	} {
		if got := f.Origin(c.answers); got != c.want {
			t.Errorf("origin %v = %q, want %q", c.answers, got, c.want)
		}
	}
}

// TestPairAndAudiences: the library finds a form's pair from either side
// and lists forms by audience.
func TestPairAndAudiences(t *testing.T) {
	a := mustParse(t, "form: a\nversion: 1\npairs_with: b\nsurvey:\n  - {type: text, name: x}\n")
	b := mustParse(t, "form: b\nversion: 1\naudience: staff\nsurvey:\n  - {type: text, name: x}\n")
	c := mustParse(t, "form: c\nversion: 1\nsurvey:\n  - {type: text, name: x}\n")
	lib, err := NewLibrary(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Pair(a) != b || lib.Pair(b) != a || lib.Pair(c) != nil {
		t.Error("pairs")
	}
	if got := lib.Respondents(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("respondents %v", got)
	}
	if got := lib.StaffForms(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("staff %v", got)
	}
}

func mustParse(t *testing.T, src string) *Form {
	t.Helper()
	f, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOneRowModel: a YAML file and the same rows built by hand (as the
// XLSForm importer builds them) compile to the same form, and the rows
// written back as YAML read back to the same rows.
func TestOneRowModel(t *testing.T) {
	s, err := ParseRows("m.yaml", []byte(meaningForm))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	built := &Sheets{File: "m.xlsx", Settings: Row{Line: 1, Cells: map[string]string{
		"form_id": "m", "version": "1", "audience": "staff", "pairs_with": "other_side"}}}
	for _, r := range s.Survey {
		built.Survey = append(built.Survey, Row{Line: r.Line, Cells: r.Cells})
	}
	for _, r := range s.Choices {
		built.Choices = append(built.Choices, Row{Line: r.Line, Cells: r.Cells})
	}
	fromRows, err := Compile(built)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := formSummary(fromYAML), formSummary(fromRows); a != b {
		t.Errorf("YAML and rows differ:\n%s\n%s", a, b)
	}
	back, err := Parse("back.yaml", s.YAML())
	if err != nil {
		t.Fatalf("%v\n%s", err, s.YAML())
	}
	if a, b := formSummary(fromYAML), formSummary(back); a != b {
		t.Errorf("YAML written from rows differs:\n%s\n%s", a, b)
	}
	// A bad row from any source is reported at its Line.
	built.Survey[0].Cells = map[string]string{"type": "select_multiple nope", "name": "top"}
	if _, err := Compile(built); err == nil || !strings.Contains(err.Error(), `m.xlsx:`+strconv.Itoa(built.Survey[0].Line)+`: unknown list "nope"`) {
		t.Errorf("bad row: %v", err)
	}
}

func formSummary(f *Form) string {
	var b strings.Builder
	b.WriteString(f.ID + " " + string(f.Audience) + " " + f.PairsWith + "\n")
	for _, q := range f.Questions {
		b.WriteString(q.Name + " " + q.Type.String() + " " + q.Label + " " + q.Relevant.String())
		for _, s := range q.Report {
			b.WriteString(" " + string(s))
		}
		if q.List != nil {
			for _, c := range q.List.Choices {
				b.WriteString(" " + c.Name + "/" + c.Area)
				if c.Exclusive {
					b.WriteString("!")
				}
				if c.Other {
					b.WriteString("?")
				}
				for k, v := range c.Filter {
					b.WriteString("," + k + "=" + v)
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
