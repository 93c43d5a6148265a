package bot

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
)

// summaryJoined is Renderer.Summary as it was before it wrote into one
// builder (session 13: complete): each answer's parts joined, each line's
// answers joined. The summary must stay byte for byte this text.
func summaryJoined(r *Renderer, lang string, f *dialog.Form, resp *dialog.Response) string {
	var b strings.Builder
	b.WriteString("<b>")
	b.WriteString(r.Text(lang, MsgSummary, nil))
	b.WriteString("</b>")
	var line []string
	var last *dialog.Group
	flush := func() {
		if len(line) > 0 {
			b.WriteString("\n✓ ")
			b.WriteString(strings.Join(line, " · "))
			line = nil
		}
	}
	for _, q := range f.Questions {
		v, ok := resp.Answers[q.Name]
		if !ok || v == "" || !q.Type.Shown() || q.Type == dialog.TypeNote || q.Name == f.Consent {
			continue
		}
		msgs, lit := dialog.AnswerDisplay(q, v)
		if len(msgs) == 0 && lit == "" {
			continue
		}
		var g *dialog.Group
		if len(q.Groups) > 0 {
			g = q.Groups[0]
		}
		if g != last {
			flush()
			last = g
			if g != nil && g.Label != "" && r.cat.Has(locales.Source, g.Label) {
				b.WriteString("\n<i>")
				b.WriteString(r.Text(lang, g.Label, nil))
				b.WriteString("</i>")
			}
		}
		parts := make([]string, 0, len(msgs)+1)
		for _, id := range msgs {
			parts = append(parts, r.Text(lang, id, nil))
		}
		answer := strings.Join(parts, ", ")
		if lit != "" {
			if answer != "" {
				answer += " "
			}
			s := tghtml.Escape(lit)
			if r.rtl(lang) {
				s = tghtml.IsolateLTR(s)
			}
			answer += s
		}
		if q.Summary == "" {
			line = append(line, answer)
			continue
		}
		flush()
		b.WriteString("\n✓ <i>")
		b.WriteString(r.Text(lang, q.Summary, nil))
		b.WriteString(":</i> ")
		b.WriteString(answer)
	}
	flush()
	return b.String()
}

// randomAnswers answers every question of f at random, as a respondent
// could or could not have: choices (one, several, unknown codes), dates
// with and without a month, numbers, text with markup, or nothing.
func randomAnswers(rng *rand.Rand, f *dialog.Form) map[string]string {
	out := map[string]string{}
	for _, q := range f.Questions {
		if rng.IntN(6) == 0 {
			continue // not asked
		}
		var v string
		switch {
		case q.List != nil && len(q.List.Choices) > 0:
			var codes []string
			for range 1 + rng.IntN(3) {
				codes = append(codes, q.List.Choices[rng.IntN(len(q.List.Choices))].Name)
			}
			if rng.IntN(10) == 0 {
				codes = append(codes, "no_such_code")
			}
			v = strings.Join(codes, " ")
		case q.Type == dialog.TypeDate:
			v = strconv.Itoa(1950+rng.IntN(80)) + "-" + strconv.Itoa(rng.IntN(14)) + "-01"
		default:
			v = []string{"42", "3.5", "<b>&x</b>", "secret text", "-7", "٣", ""}[rng.IntN(7)]
		}
		out[q.Name] = v
	}
	return out
}

// TestSummaryIsTheJoinedText: the summary written into one builder is the
// text the joins made, for every shipped form and respondent language
// (right-to-left ones included), over random answers. Passes on the old
// code by construction (summaryJoined is it): it guards the respondent's
// closing card.
func TestSummaryIsTheJoinedText(t *testing.T) {
	r, lib := testRenderer(t)
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 19))
	n := 0
	for _, f := range lib.Forms() {
		for range 20 {
			resp := &dialog.Response{Answers: randomAnswers(rng, f)}
			for _, l := range cat.Languages() {
				got, want := r.Summary(l.Code, f, resp), summaryJoined(r, l.Code, f, resp)
				if got != want {
					t.Fatalf("%s v%d, %s: the summary differs from the joined text:\ngot  %q\nwant %q", f.ID, f.Version, l.Code, got, want)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no summary compared")
	}
}

// TestSummaryAllocations bounds the closing summary's allocations: one
// builder grown once (twice in the scripts of many bytes a letter), and
// nothing per answer. Before (session 12): 79 in Italian and 80 in Tamil
// for these 30 answers (a slice and a join per answer, a join per line,
// the builder's growth).
func TestSummaryAllocations(t *testing.T) {
	if raceOn {
		t.Skip("allocations differ under the race detector")
	}
	r, lib := testRenderer(t)
	f := lib.Latest("immigrati")
	resp := &dialog.Response{Answers: randomAnswers(rand.New(rand.NewPCG(1, 2)), f)}
	// Not a right-to-left language: there Messages.Text isolates the
	// commands of texts with a "/" (a regexp's allocations, as before).
	for _, lang := range []string{"it", "ta"} {
		n := testing.AllocsPerRun(20, func() { r.Summary(lang, f, resp) })
		t.Logf("%s: %.0f allocations for %d answers", lang, n, len(resp.Answers))
		if n > 3 {
			t.Errorf("%s: the summary of %d answers makes %.0f allocations, want at most 3", lang, len(resp.Answers), n)
		}
	}
}
