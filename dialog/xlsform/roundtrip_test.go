package xlsform

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

type catalogTexts struct{ c *locales.Catalog }

func (t catalogTexts) Languages() []string {
	var out []string
	for _, l := range t.c.Languages() {
		out = append(out, l.Code)
	}
	return out
}

func (t catalogTexts) Text(lang, id string) (string, bool) { return t.c.Raw(lang, id) }

// describe renders everything a loaded form means, without source lines,
// so that two forms compare structurally.
func describe(f *dialog.Form) string {
	var b strings.Builder
	fmt.Fprintf(&b, "form %s v%d title=%s lang=%s consent=%s eligible=%q audience=%s pairs_with=%s\n", f.ID, f.Version, f.Title, f.Language, f.Consent, f.Eligible.String(), f.Audience, f.PairsWith)
	for _, q := range f.Questions {
		fmt.Fprintf(&b, "%d %s %s", q.Index, q.Name, q.Type)
		if q.List != nil {
			fmt.Fprintf(&b, " list=%s", q.List.Name)
		}
		var gs []string
		for _, g := range q.Groups {
			gs = append(gs, fmt.Sprintf("%s(%s|%q)", g.Name, g.Label, g.Relevant.String()))
		}
		lc := ""
		if q.LabelChoice != nil {
			lc = q.LabelChoice.Name
		}
		fmt.Fprintf(&b, " req=%v rel=%q groups=%v con=%q cf=%q calc=%q def=%q app=%q range=%v/%v/%v max=%d sel=%d-%d lc=%s label=%s hint=%s cmsg=%s report=%v area=%s context=%s\n",
			q.Required, q.Relevant.String(), gs, q.Constraint.String(), q.ChoiceFilter.String(), q.Calculation.String(),
			q.Default.String(), q.Appearance, q.Start, q.End, q.Step, q.MaxLength, q.MinSelected, q.MaxSelected, lc, q.Label, q.Hint, q.ConstraintMsg, q.Report, q.Area, q.Context)
	}
	var lists []string
	for name := range f.Lists {
		lists = append(lists, name)
	}
	sort.Strings(lists)
	for _, name := range lists {
		fmt.Fprintf(&b, "list %s:", name)
		for _, c := range f.Lists[name].Choices {
			var fs []string
			for k, v := range c.Filter {
				fs = append(fs, k+"="+v)
			}
			sort.Strings(fs)
			fmt.Fprintf(&b, " %s[%s excl=%v other=%v area=%s %v]", c.Name, c.Label, c.Exclusive, c.Other, c.Area, fs)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestRoundTripShippedForms exports every embedded form (every version)
// to .xlsx, imports the workbook back and compares the loaded forms and
// their messages in every language.
func TestRoundTripShippedForms(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Forms()) < 2 {
		t.Fatalf("only %d shipped forms", len(lib.Forms()))
	}
	for _, f := range lib.Forms() {
		t.Run(fmt.Sprintf("%s_v%d", f.ID, f.Version), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Export(f, catalogTexts{cat}, &buf); err != nil {
				t.Fatal(err)
			}
			wb, err := ReadXLSX(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			wb.File = f.ID + ".xlsx"
			res, err := Import(wb)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range res.Notes {
				t.Errorf("note on a shipped form: %s", n)
			}
			if got, want := describe(res.Form), describe(f); got != want {
				t.Errorf("form differs after export → import\n got: %s\nwant: %s", got, want)
			}
			langs := 0
			for _, l := range cat.Languages() {
				for _, id := range f.MessageIDs() {
					want, ok := cat.Raw(l.Code, id)
					got, gok := res.Messages[l.Code][id]
					if ok != gok || got != want {
						t.Errorf("%s %s: got %q (%v), want %q (%v)", l.Code, id, got, gok, want, ok)
					}
				}
				if len(res.Messages[l.Code]) > 0 {
					langs++
				}
			}
			if langs < 2 {
				t.Errorf("only %d languages exported", langs)
			}
			// And the imported YAML loads on its own, as a forms dir would.
			if _, err := dialog.Parse("x.yaml", res.YAML); err != nil {
				t.Error(err)
			}
		})
	}
}
