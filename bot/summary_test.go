package bot

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// The closing summary tells apart answers of different questions that
// read the same: the needs asked, the help received and the most urgent
// need all offer the need areas, and "Learning Italian" three times on one
// line ("Imparare l'italiano · Imparare l'italiano") said nothing of which
// was which; nor did a bare "Yes" (the problem solved). Each of those has
// a line of its own with a short label, in every language; a question's
// choices are joined with commas (they ran together with spaces). Before:
// the answers of a section on one line.
func TestSummaryTellsQuestionsApart(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Latest("immigrati")
	resp := &dialog.Response{Answers: map[string]string{
		"consenso": "yes", "eta": "25_34", "servizi_usati": "sportello_immigrati", "risolto": "si",
		"lavoro_stato": "dipendente", "bisogni": "lingua casa", "aiuto_ottenuto": "lingua", "priorita": "lingua",
		"commenti": "secret",
	}}
	it := r.Summary("it", f, resp)
	for _, want := range []string{
		"\n✓ Da 25 a 34 anni\n",
		"\n✓ <i>Problema risolto:</i> Sì\n",
		"\n✓ Dipendente con contratto\n✓ <i>Ti serviva aiuto per:</i> Imparare l'italiano, Casa\n✓ <i>Hai avuto aiuto per:</i> Imparare l'italiano\n",
		"\n✓ <i>Più importante adesso:</i> Imparare l'italiano",
	} {
		if !strings.Contains(it, want) {
			t.Errorf("the Italian summary lacks %q:\n%s", want, it)
		}
	}
	// In every respondent language: no line shows an answer twice, and
	// the three questions over the need areas have three labels.
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cat.Languages() {
		sum := r.Summary(l.Code, f, resp)
		if strings.Contains(sum, "secret") {
			t.Fatalf("%s: the summary shows free text", l.Code)
		}
		area := r.Text(l.Code, "c.immigrati.aree.lingua", nil)
		labels := map[string]bool{}
		for line := range strings.SplitSeq(sum, "\n") {
			if strings.Count(line, area) > 1 {
				t.Errorf("%s: one line shows %q twice: %q", l.Code, area, line)
			}
			if strings.Contains(line, area) {
				label, _, ok := strings.Cut(line, "</i>")
				if !ok {
					t.Errorf("%s: %q without its question's label: %q", l.Code, area, line)
				}
				labels[label] = true
			}
		}
		if len(labels) != 3 {
			t.Errorf("%s: the need areas' questions have %d different labels, want 3:\n%s", l.Code, len(labels), sum)
		}
	}
}
