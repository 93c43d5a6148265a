package bot

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

// Session 14 (staff3): an operator finishing the operators' questionnaire
// read bare values in its closing summary ("✓ Altri servizi del Comune ·
// 1": the 1 was the coordination rating, on the line of the partners).
// Every answer of a staff form has a line of its own with a short label,
// as the respondents' summary labels the answers that do not say what they
// are about; the 1–5 scale's label says what its ends mean. In the
// languages the form is written in (it, en), for both versions.
func TestOperatorsSummaryLabelsEveryAnswer(t *testing.T) {
	r, lib := testRenderer(t)
	for _, f := range []*dialog.Form{lib.Get("operatori", 1), lib.Latest("operatori")} {
		if f == nil || f.Audience != dialog.AudienceStaff {
			t.Fatalf("no operators' form: %v", f)
		}
		// Every question answered: a choice's first option, the
		// scale's middle.
		resp := &dialog.Response{Answers: map[string]string{}}
		shown := 0
		for _, q := range f.Questions {
			switch {
			case q.Name == f.Consent:
				resp.Answers[q.Name] = "yes"
			case q.Type == dialog.TypeRange:
				resp.Answers[q.Name] = "3"
				shown++
			case q.List != nil && len(q.List.Choices) > 0:
				resp.Answers[q.Name] = q.List.Choices[0].Name
				shown++
			case q.Type == dialog.TypeText:
				resp.Answers[q.Name] = "secret"
			}
		}
		for _, lang := range []string{"it", "en"} {
			sum := r.Summary(lang, f, resp)
			n := 0
			for line := range strings.SplitSeq(sum, "\n") {
				if !strings.HasPrefix(line, "✓ ") {
					continue
				}
				n++
				if !strings.HasPrefix(line, "✓ <i>") || !strings.Contains(line, ":</i> ") || strings.Contains(line, " · ") {
					t.Errorf("%s v%d %s: an answer without its label: %q", f.ID, f.Version, lang, line)
				}
			}
			if n != shown {
				t.Errorf("%s v%d %s: %d answer lines, want %d (one per question answered):\n%s", f.ID, f.Version, lang, n, shown, sum)
			}
			if strings.Contains(sum, "secret") {
				t.Errorf("%s v%d %s: the summary shows free text", f.ID, f.Version, lang)
			}
		}
	}

	// The walk's case, as the operator reads it.
	f := lib.Latest("operatori")
	resp := &dialog.Response{Answers: map[string]string{"consenso": "yes", "ente": "comune", "rete": "altri_servizi terzo_settore",
		"rete_qualita": "1", "utenti_settimana": "10_49", "rischio_chiusura": "yes"}}
	for lang, want := range map[string][]string{
		"it": {"\n✓ <i>Collabora con:</i> Altri servizi del Comune, Associazioni, cooperative\n✓ <i>Coordinamento (1 = molto male, 5 = molto bene):</i> 1",
			"\n✓ <i>Ente:</i> ", "\n✓ <i>Rischio di chiusura:</i> Sì"},
		"en": {"\n✓ <i>Works with:</i> Other municipal services, ", "\n✓ <i>Coordination (1 = very badly, 5 = very well):</i> 1",
			"\n✓ <i>Foreign users a week:</i> "},
	} {
		sum := r.Summary(lang, f, resp)
		for _, w := range want {
			if !strings.Contains(sum, w) {
				t.Errorf("%s: the summary lacks %q:\n%s", lang, w, sum)
			}
		}
	}
}
