package results

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage/pgstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestReportMatchesSQL checks every number of /results — completed,
// abandoned, completion rate, median duration, languages, priorities,
// every need question's answered and choice counts, the funnel — against
// a count written directly in SQL over the tables, for many filters.
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
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			rep, err := s.Report(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			form := w.lib.Latest(f.Form)
			rw, ra := w.where(t, f, "r", "completed_at")
			aw, aa := w.where(t, f, "a", "abandoned_at")
			c := w.count(t, "SELECT count(*) FROM responses r WHERE "+rw, ra...)
			a := w.count(t, "SELECT count(*) FROM abandoned a WHERE "+aw, aa...)
			if rep.Completed.N != c || rep.Abandoned.N != a {
				t.Fatalf("completed %d abandoned %d, SQL %d %d", rep.Completed.N, rep.Abandoned.N, c, a)
			}
			if c == 0 && f.Form == "immigrati" && f.Language == "" {
				t.Fatal("the filter counts nothing: the test checks nothing")
			}
			if rep.RateShown != (c >= 5 && a >= 5) {
				t.Errorf("rate shown %v with %d completed, %d abandoned", rep.RateShown, c, a)
			}
			if rep.RateShown && math.Abs(rep.Rate-float64(c)/float64(c+a)) > 1e-12 {
				t.Errorf("rate %v, want %v", rep.Rate, float64(c)/float64(c+a))
			}
			var median float64
			if err := w.pool.QueryRow(ctx, "SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_s), 0) FROM responses r WHERE "+rw, ra...).Scan(&median); err != nil {
				t.Fatal(err)
			}
			if rep.MedianShown != (c >= 5) || (rep.MedianShown && rep.MedianSeconds != median) {
				t.Errorf("median %v (shown %v), want %v", rep.MedianSeconds, rep.MedianShown, median)
			}
			var sum int64
			for _, it := range rep.Languages.Items {
				want := w.count(t, "SELECT count(*) FROM responses r WHERE "+rw+fmt.Sprintf(" AND r.language = $%d", len(ra)+1), append(ra, it.Code)...)
				if it.Count.N != want {
					t.Errorf("language %s: %d, want %d", it.Code, it.Count.N, want)
				}
				sum += it.Count.N
			}
			if sum != c {
				t.Errorf("languages add up to %d of %d", sum, c)
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
				answered := w.count(t, "SELECT count(*) FROM answers x JOIN responses r ON r.id = x.response_id WHERE "+rw+
					fmt.Sprintf(" AND x.question = $%d", len(ra)+1), append(ra, b.Question)...)
				if b.Total.N != answered {
					t.Errorf("%s answered: %d, want %d", b.Question, b.Total.N, answered)
				}
				if len(b.Items) != len(form.Question(b.Question).List.Choices) {
					t.Errorf("%s: %d items", b.Question, len(b.Items))
				}
				for _, it := range b.Items {
					want := w.count(t, "SELECT count(*) FROM answer_choices x JOIN responses r ON r.id = x.response_id WHERE "+rw+
						fmt.Sprintf(" AND x.question = $%d AND x.choice = $%d", len(ra)+1, len(ra)+2), append(ra, b.Question, it.Code)...)
					if it.Count.N != want {
						t.Errorf("%s/%s: %d, want %d", b.Question, it.Code, it.Count.N, want)
					}
					if it.Count.Visible() != (want >= 5 && answered >= 5) {
						t.Errorf("%s/%s: %d shown %v", b.Question, it.Code, want, it.Count.Visible())
					}
				}
			}
			var fsum int64
			for _, it := range rep.Funnel.Items {
				want := w.count(t, "SELECT count(*) FROM abandoned a WHERE "+aw+fmt.Sprintf(" AND a.last_question = $%d", len(aa)+1), append(aa, it.Code)...)
				if it.Count.N != want {
					t.Errorf("funnel %s: %d, want %d", it.Code, it.Count.N, want)
				}
				fsum += it.Count.N
			}
			if fsum != a {
				t.Errorf("funnel adds up to %d of %d", fsum, a)
			}
			checkPartition(t, "languages", rep.Languages)
			checkPartition(t, "funnel", rep.Funnel)
		})
	}
}

// checkPartition fails when a suppressed cell of a partition could be
// recovered from what is shown.
func checkPartition(t *testing.T, name string, b Breakdown) {
	t.Helper()
	if !b.Total.Visible() {
		for _, it := range b.Items {
			if it.Count.Visible() {
				t.Errorf("%s: total hidden, %s shown", name, it.Code)
			}
		}
		return
	}
	hidden, sum := 0, int64(0)
	for _, it := range b.Items {
		if !it.Count.Visible() {
			hidden++
			sum += it.Count.N
		} else if it.Count.N < 5 {
			t.Errorf("%s: %s = %d shown", name, it.Code, it.Count.N)
		}
	}
	if hidden == 1 || (hidden > 0 && sum < 5) {
		t.Errorf("%s: %d suppressed cells adding up to %d can be worked out", name, hidden, sum)
	}
}

// TestSummaryText renders the summary and checks that what staff read is
// what the report allows: no suppressed number, the marks and the legend,
// labels in the manager's language. The Italian summary is also a golden
// file (go test ./results -run SummaryText -update rewrites it).
func TestSummaryText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 220, 60, 7, "100005", "058091")
	s := w.service(t, 5)
	prato := w.munis["100005"]
	m := staff.Member{ID: 1, Role: staff.RoleManager, MunicipalityID: prato}
	for _, lang := range []string{"it", "en"} {
		f := s.defaultFilter(m)
		msg, err := s.summary(ctx, lang, m, f)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := s.Report(ctx, f)
		text := msg.Text
		if lang == "it" {
			golden(t, "summary_prato_it.golden", text)
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
		if suppressed && !strings.Contains(line, s.plain(lang, msgOthersSmall, map[string]any{"Min": 5})) &&
			!strings.Contains(line, s.plain(lang, msgOthersHidden, nil)) {
			t.Errorf("suppressed languages not summed up in %q", line)
		}
		kb := msg.Keyboard
		if len(kb) != 4 { // a manager: no municipality or comparison row
			t.Errorf("manager's keyboard has %d rows", len(kb))
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestSmallMunicipality: a place with a handful of interviews shows
// marks, not numbers, and no share that would reveal them.
func TestSmallMunicipality(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 9, 30, 3, "100005")
	s := w.service(t, 5)
	f := Filter{Form: "immigrati", Municipality: w.munis["100005"]}
	rep, err := s.Report(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed.N >= 5 {
		t.Skipf("the seed made %d completed interviews", rep.Completed.N)
	}
	if rep.Completed.Visible() || rep.RateShown || rep.MedianShown {
		t.Fatalf("small counts shown: %+v", rep)
	}
	d, _ := s.describe(ctx, "en", f)
	text := s.summaryText("en", w.lib.Latest("immigrati"), rep, d)
	if !strings.Contains(text, "Completed interviews: <b>&lt;5</b>") || strings.Contains(text, "%") {
		t.Fatalf("small municipality summary:\n%s", text)
	}
	if !strings.Contains(text, "fewer than 5 answers each") {
		t.Errorf("no too-few note:\n%s", text)
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
	// Suppression across columns: a small municipality hides another.
	ms := []pgstore.MunicipalityTotals{{ID: 1, Name: "A", Completed: 40, Abandoned: 9}, {ID: 2, Name: "B", Completed: 3, Abandoned: 6},
		{ID: 3, Name: "C", Completed: 25, Abandoned: 10}}
	cc := buildComparison(w.lib.Latest("immigrati"), f, ms, nil, 5)
	if cc.Columns[1].Completed.Mark != Small || cc.Columns[2].Completed.Mark != Hidden || !cc.Columns[0].Completed.Visible() {
		t.Errorf("completed marks: %+v", cc.Columns)
	}
	if cc.Columns[1].RateShown || cc.Columns[2].RateShown || cc.Columns[1].MedianShown || !cc.Columns[0].RateShown {
		t.Errorf("rates shown for suppressed columns: %+v", cc.Columns)
	}
}
