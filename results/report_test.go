package results

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/internal/golden"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestReportMatchesSQL checks every number of /results — completed,
// abandoned, completion rate, median duration, languages, priorities,
// every need question's answered and choice counts, the funnel — against
// a count and a sum of record keys written directly in SQL over the
// tables, protected (Protect), for many filters: staff see exactly the
// perturbed counts, never a true one below the threshold.
func TestReportMatchesSQL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	completed, abandoned := w.seed(t, 900, 120, 42)
	t.Logf("seeded %d completed, %d abandoned", completed, abandoned)
	s := w.service(t, 5)
	roma, prato := w.munis["058091"], w.munis["100005"]
	svcs, err := w.db.Services(ctx, prato)
	if err != nil || len(svcs) == 0 {
		t.Fatal(svcs, err)
	}
	anagrafePrato := svcs[0].ID
	filters := []Filter{
		{Form: "immigrati"},
		{Form: "immigrati", Days: 7},
		{Form: "immigrati", Days: 30, Municipality: roma},
		{Form: "immigrati", Days: 90, Municipality: prato},
		{Form: "immigrati", Municipality: prato, Service: anagrafePrato},
		{Form: "immigrati", Service: anagrafePrato}, // the service's code, in every municipality
		{Form: "immigrati", Language: "ar"},
		{Form: "immigrati", Days: 30, Language: "it", Municipality: roma},
		{Form: "immigrati", Language: "it", Service: anagrafePrato, Municipality: prato},
		{Form: "operatori"},
		{Form: "operatori", Days: 30, Municipality: roma},
	}
	changed := 0
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			rep, err := s.Report(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			form := w.lib.Latest(f.Form)
			rw, ra := w.where(t, f, "r", "completed_at")
			aw, aa := w.where(t, f, "a", "abandoned_at")
			c, pc := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM responses r WHERE "+rw, ra...)
			a, pa := w.protected(t, "SELECT count(*), coalesce(sum(a.rkey), 0) FROM abandoned a WHERE "+aw, aa...)
			if rep.Completed != pc || rep.Abandoned != pa {
				t.Fatalf("completed %+v abandoned %+v, SQL %d %d protected %+v %+v", rep.Completed, rep.Abandoned, c, a, pc, pa)
			}
			if c == 0 && f.Form == "immigrati" && f.Language == "" {
				t.Fatal("the filter counts nothing: the test checks nothing")
			}
			if pc.N != c {
				changed++
			}
			if rep.RateShown != (pc.Visible() && pa.Visible()) {
				t.Errorf("rate shown %v with %+v completed, %+v abandoned", rep.RateShown, pc, pa)
			}
			if rep.RateShown && math.Abs(rep.Rate-float64(pc.N)/float64(pc.N+pa.N)) > 1e-12 {
				t.Errorf("rate %v, want %v", rep.Rate, float64(pc.N)/float64(pc.N+pa.N))
			}
			var median float64
			if err := w.pool.QueryRow(ctx, "SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_s), 0) FROM responses r WHERE "+rw, ra...).Scan(&median); err != nil {
				t.Fatal(err)
			}
			if rep.MedianShown != pc.Visible() || (rep.MedianShown && rep.MedianSeconds != median) {
				t.Errorf("median %v (shown %v), want %v", rep.MedianSeconds, rep.MedianShown, median)
			}
			for _, it := range rep.Languages.Items {
				_, want := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM responses r WHERE "+rw+fmt.Sprintf(" AND r.language = $%d", len(ra)+1), append(ra, it.Code)...)
				if !pc.Visible() {
					want = pc
				}
				if it.Count != want {
					t.Errorf("language %s: %+v, want %+v", it.Code, it.Count, want)
				}
			}
			var bs []Breakdown
			if rep.Priorities != nil {
				bs = append(bs, *rep.Priorities)
			}
			bs = append(bs, rep.Needs...)
			if len(bs) != len(reportQuestions(form)) {
				t.Fatalf("%d breakdowns for %d questions", len(bs), len(reportQuestions(form)))
			}
			for _, b := range bs {
				_, answered := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM answers x JOIN responses r ON r.id = x.response_id WHERE "+rw+
					fmt.Sprintf(" AND x.question = $%d", len(ra)+1), append(ra, b.Question)...)
				if !pc.Visible() {
					answered = pc
				}
				if b.Total != answered {
					t.Errorf("%s answered: %+v, want %+v", b.Question, b.Total, answered)
				}
				if len(b.Items) != len(form.Question(b.Question).List.Choices) {
					t.Errorf("%s: %d items", b.Question, len(b.Items))
				}
				for _, it := range b.Items {
					_, want := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM answer_choices x JOIN responses r ON r.id = x.response_id WHERE "+rw+
						fmt.Sprintf(" AND x.question = $%d AND x.choice = $%d", len(ra)+1, len(ra)+2), append(ra, b.Question, it.Code)...)
					if !answered.Visible() {
						want = answered
					}
					if it.Count != want {
						t.Errorf("%s/%s: %+v, want %+v", b.Question, it.Code, it.Count, want)
					}
				}
			}
			for _, it := range rep.Funnel.Items {
				_, want := w.protected(t, "SELECT count(*), coalesce(sum(a.rkey), 0) FROM abandoned a WHERE "+aw+fmt.Sprintf(" AND a.last_question = $%d", len(aa)+1), append(aa, it.Code)...)
				if !pa.Visible() {
					want = pa
				}
				if it.Count != want {
					t.Errorf("funnel %s: %+v, want %+v", it.Code, it.Count, want)
				}
			}
			checkProtected(t, "languages", rep.Languages)
			checkProtected(t, "funnel", rep.Funnel)
		})
	}
	if changed == 0 {
		t.Error("no completed count was perturbed: the test cannot tell perturbed from true counts")
	}
}

// checkProtected fails when a breakdown shows a count that is not a
// published value: a shown cell of a hidden total, a count off the
// rounding base or below the threshold.
func checkProtected(t *testing.T, name string, b Breakdown) {
	t.Helper()
	for _, it := range b.Items {
		c := it.Count
		switch {
		case c.Visible() && !b.Total.Visible():
			t.Errorf("%s: total hidden, %s shown", name, it.Code)
		case c.Visible() && (c.N%RoundingBase != 0 || c.N < 5):
			t.Errorf("%s: %s = %d shown", name, it.Code, c.N)
		case !c.Visible() && c.N != 0:
			t.Errorf("%s: hidden %s carries %d", name, it.Code, c.N)
		}
	}
}

// TestSummaryTextGolden renders the summary and checks that what staff read is
// what the report allows: no suppressed number, the marks and the legend,
// labels in the manager's language. The Italian summary is also a golden
// file (go test ./results -run SummaryTextGolden -update rewrites it).
func TestSummaryTextGolden(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 220, 60, 7, "100005", "058091")
	s := w.service(t, 5)
	prato := w.munis["100005"]
	m := w.manager(t, prato)
	for _, lang := range []string{"it", "en"} {
		f := s.defaultFilter(m)
		msg, err := s.summary(ctx, lang, m, f)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := s.Report(ctx, f)
		text := msg.Text
		if lang == "it" {
			checkGolden(t, "summary_prato_it.golden", text)
			for _, want := range []string{"Risultati · Prato", "Interviste completate", "Priorità principali", "Hanno avuto bisogno di aiuto per", "&lt;5 = meno di 5"} {
				if !strings.Contains(text, want) {
					t.Errorf("Italian summary lacks %q:\n%s", want, text)
				}
			}
		} else if !strings.Contains(text, "Top priorities") || !strings.Contains(text, "Needed help with") {
			t.Errorf("English summary:\n%s", text)
		}
		if strings.Contains(text, "<5") {
			t.Errorf("an unescaped < in Telegram HTML:\n%s", text)
		}
		// Shown languages appear with their count, suppressed ones not at
		// all (not even their name).
		line := regexp.MustCompile(`(?m)^(Lingue|Languages): .*$`).FindString(text)
		if line == "" {
			t.Fatalf("no languages line:\n%s", text)
		}
		suppressed := false
		for _, it := range rep.Languages.Items {
			name := s.languageName(it.Code)
			if it.Count.Visible() {
				if !strings.Contains(line, fmt.Sprintf("%s %s (", name, num(lang, it.Count.N))) {
					t.Errorf("language %s (%d) missing from %q", it.Code, it.Count.N, line)
				}
				continue
			}
			suppressed = true
			if strings.Contains(line, name) {
				t.Errorf("suppressed language %s named in %q", it.Code, line)
			}
		}
		// "others <5" is always there, so that it tells nothing.
		if !strings.Contains(line, s.plain(lang, msgOthersSmall, map[string]any{"Min": 5})) {
			t.Errorf("suppressed languages not summed up in %q (suppressed: %v)", line, suppressed)
		}
		kb := msg.Keyboard
		if len(kb) != 4 { // a manager: no municipality or comparison row
			t.Errorf("manager's keyboard has %d rows", len(kb))
		}
	}
	// Each summary shown was audited: who, which filter.
	if n := w.count(t, `SELECT count(*) FROM audit_log WHERE action = 'results.view' AND actor_id = $1
		AND detail->>'view' = 'summary' AND (detail->>'municipality_id')::bigint = $2 AND detail->>'form' = 'immigrati'`, m.ID, prato); n != 2 {
		t.Errorf("%d audit entries for 2 summaries", n)
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

// TestSmallMunicipality: a place with a handful of interviews shows
// marks, not numbers, and no share that would reveal them; with both
// counts below the threshold it says only that (perhaps none: a zero and a
// small count read the same).
func TestSmallMunicipality(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.service(t, 5)
	f := Filter{Form: "immigrati", Municipality: w.munis["100005"]}
	form := w.lib.Latest("immigrati")
	down := int64(4_000_000_000) // a cell key that rounds every remainder down
	tot := pgstore.Totals{Completed: 3, CompletedKey: down, Languages: map[string]int64{"it": 2, "ar": 1},
		LanguageKeys: map[string]int64{"it": down, "ar": down}, MedianSeconds: 300, Abandoned: 12, AbandonedKey: down,
		Funnel: map[string]int64{"consenso": 12}, FunnelKeys: map[string]int64{"consenso": down}}
	choices := []pgstore.ChoiceCount{{Question: "priorita", Choice: "", N: 3, Key: down}, {Question: "priorita", Choice: "casa", N: 3, Key: 1}}
	rep := buildReport(form, f, tot, choices, 5)
	if rep.Completed.Visible() || rep.RateShown || rep.MedianShown || !rep.Abandoned.Visible() || rep.Abandoned.N != 10 {
		t.Fatalf("small counts shown: %+v", rep)
	}
	if rep.Priorities.Items[0].Count.Visible() {
		t.Fatalf("a cell of a hidden population shown: %+v", rep.Priorities.Items[0])
	}
	d, _ := s.describe(ctx, "en", f)
	text := s.summaryText("en", form, rep, d)
	if !strings.Contains(text, "Completed interviews: <b>&lt;5</b>") || strings.Contains(text, "%") {
		t.Fatalf("small municipality summary:\n%s", text)
	}
	if !strings.Contains(text, "fewer than 5 answers each") {
		t.Errorf("no too-few note:\n%s", text)
	}
	tot.Abandoned = 2
	rep = buildReport(form, f, tot, choices, 5)
	text = s.summaryText("en", form, rep, d)
	if !rep.Empty() || !strings.Contains(text, "Fewer than 5 interviews completed and fewer than 5 abandoned") ||
		strings.Contains(text, "<b>2</b>") || strings.Contains(text, "<b>3</b>") {
		t.Fatalf("empty summary:\n%s", text)
	}
}

// TestComparison: per-municipality numbers equal each municipality's own
// report, and the comparison is suppressed as a partition of the total.
func TestComparison(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 600, 60, 11)
	s := w.service(t, 5)
	f := Filter{Form: "immigrati", Days: 30}
	c, err := s.Compare(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Columns) != 3 {
		t.Fatalf("%d columns", len(c.Columns))
	}
	for _, col := range c.Columns {
		g := f
		g.Municipality = col.Municipality.ID
		rep, err := s.Report(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if col.Completed.N != rep.Completed.N || col.Abandoned.N != rep.Abandoned.N || col.MedianSeconds != rep.MedianSeconds ||
			col.Rate != rep.Rate {
			t.Errorf("%s: comparison %+v, report %+v", col.Municipality.Name, col, rep)
		}
		if col.Priorities == nil || col.Priorities.Total.N != rep.Priorities.Total.N {
			t.Errorf("%s: priorities differ", col.Municipality.Name)
			continue
		}
		for i, it := range col.Priorities.Items {
			if it != rep.Priorities.Items[i] {
				t.Errorf("%s: priority %+v, report %+v", col.Municipality.Name, it, rep.Priorities.Items[i])
			}
		}
	}
	d, _ := s.describe(ctx, "it", f)
	text := s.compareText("it", w.lib.Latest("immigrati"), c, d)
	for _, want := range []string{"Confronto tra comuni", "• Milano:", "• Prato:", "• Roma:", "Tasso di completamento"} {
		if !strings.Contains(text, want) {
			t.Errorf("comparison lacks %q:\n%s", want, text)
		}
	}
	// Every column is protected on its own; a hidden column shows no
	// rate, median or priorities.
	ms := []pgstore.MunicipalityTotals{{ID: 1, Name: "A", Completed: 40, Abandoned: 9, CompletedKey: 7},
		{ID: 2, Name: "B", Completed: 3, Abandoned: 6, CompletedKey: 4_000_000_000},
		{ID: 3, Name: "C", Completed: 25, Abandoned: 10}}
	cc := buildComparison(w.lib.Latest("immigrati"), f, ms, nil, 5)
	for i, col := range cc.Columns {
		if want := Protect(ms[i].Completed, ms[i].CompletedKey, 5); col.Completed != want {
			t.Errorf("%s: completed %+v, want %+v", col.Municipality.Name, col.Completed, want)
		}
	}
	if cc.Columns[1].Completed.Visible() || cc.Columns[1].RateShown || cc.Columns[1].MedianShown || !cc.Columns[0].RateShown {
		t.Errorf("rates shown for hidden columns: %+v", cc.Columns)
	}
}
