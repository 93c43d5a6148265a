package results

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/needsbot/needsbot/internal/golden"
	"github.com/needsbot/needsbot/internal/typeset/typesettest"
	"github.com/needsbot/needsbot/locales"
)

// chartAreas are the need areas the reference charts label.
var chartAreas = []string{"lingua", "lavoro", "casa", "salute", "documenti"}

// TestChartReferences draws a chart in every language — the shipped ones
// from the catalog, the seven coming ones from their machine-drafted texts
// — with the questionnaire's title (wrapped), need areas as labels, the
// poster's invitation as the note, and compares each with its reviewed
// reference image in testdata/charts/ (-update rewrites them: look at every
// changed one). No database: the layout is built by hand.
func TestChartReferences(t *testing.T) {
	t.Parallel()
	fs, err := loadFonts()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	coming, err := typesettest.Coming()
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]func(id string) string{}
	for _, l := range cat.Languages() {
		texts[l.Code] = func(id string) string { return cat.Text(l.Code, id, nil) }
	}
	for _, lang := range typesettest.ComingLangs() {
		if texts[lang] == nil {
			texts[lang] = func(id string) string { return coming[lang][id] }
		}
	}
	// Every shipped language, then the coming ones not shipped yet (once
	// each: a language drawn twice would overwrite its own reference).
	langs := append([]string{}, locales.Supported()...)
	for _, lang := range typesettest.ComingLangs() {
		if !slices.Contains(langs, lang) {
			langs = append(langs, lang)
		}
	}
	for i, lang := range langs {
		tx := texts[lang]
		if tx == nil {
			t.Fatalf("%s: no texts", lang)
		}
		c := &barChart{Lang: lang, Shares: true, Max: 0.6,
			Title:  tx("f.immigrati.title"),
			Legend: []string{tx("c.immigrati.aree.lavoro"), tx("c.immigrati.aree.casa")},
			Note:   tx("b.poster.scan") + ". " + tx("f.immigrati.title") + ".",
		}
		for j, code := range chartAreas {
			v := float64((i*7+j*13)%50+5) / 100
			c.Groups = append(c.Groups, group{Label: tx("c.immigrati.aree." + code), Bars: []bar{
				{Series: 0, Value: v, Text: pct(v), Drawn: true},
				{Series: 1, Value: v / 2, Text: pct(v / 2), Drawn: j != 2},
			}})
			if j == 2 {
				c.Groups[j].Bars[1].Text = "<5"
			}
		}
		for _, s := range append([]string{c.Title, c.Note}, c.Legend...) {
			if s == "" {
				t.Fatalf("%s: a text is missing", lang)
			}
		}
		img, _ := c.draw(fs) // render's PNG encoding is tested elsewhere, and slow under -race
		typesettest.Compare(t, img, filepath.Join("testdata", "charts", "chart-"+lang+".png"), golden.Update())
	}
}
