package results

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestVersionsPooled: /results counts the newest version's questions and,
// when they have answers, those only an older version asked; codes that
// stayed the same (priorita over the same areas) are one count.
func TestVersionsPooled(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	f := lib.Latest("immigrati")
	if f.Version < 2 {
		t.Fatalf("latest immigrati is v%d", f.Version)
	}
	older := olderNeedQuestions(lib, f)
	names := map[string]bool{}
	for _, q := range older {
		names[q.Name] = true
		if f.Question(q.Name) != nil {
			t.Errorf("%s is in the newest version, not older-only", q.Name)
		}
	}
	for _, want := range []string{"partecipa", "lavoro_bisogni", "ita_ostacoli"} {
		if !names[want] {
			t.Errorf("older-only questions lack %s: %v", want, names)
		}
	}
	qs := reportQuestions(f, older...)
	if qs[0] != "priorita" {
		t.Fatalf("report questions start with %s", qs[0])
	}
	// priorita: 15 answers of v1 and v2 together; partecipa: v1 only.
	// (Multiples of 5 publish as they are.)
	choices := []pgstore.ChoiceCount{
		{Question: "priorita", Choice: "", N: 15}, {Question: "priorita", Choice: "lavoro", N: 15},
		{Question: "partecipa", Choice: "", N: 10}, {Question: "partecipa", Choice: "volontariato", N: 10},
	}
	var partecipa []*dialog.Question
	for _, q := range older {
		if q.Name == "partecipa" {
			partecipa = append(partecipa, q)
		}
	}
	rep := buildReport(f, Filter{Form: "immigrati"}, pgstore.Totals{Completed: 15}, choices, 5, partecipa...)
	if rep.Priorities == nil || rep.Priorities.Total.N != 15 {
		t.Fatalf("priorities: %+v", rep.Priorities)
	}
	found := false
	for _, b := range rep.Needs {
		if b.Question == "partecipa" {
			found = true
			if b.Total.N != 10 {
				t.Errorf("partecipa total %d", b.Total.N)
			}
		}
	}
	if !found {
		t.Error("a question only v1 asked is missing from the report although it has answers")
	}
}

// TestReportingLabelsEveryVersion: BI labels cover the codes of every
// version (v1's experience bands and v2's coarser ones).
func TestReportingLabelsEveryVersion(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	_, ls, gs := ReportingRows(lib, cat)
	macro := map[string]bool{}
	for _, g := range gs {
		macro[g.Form+"/"+g.Question+"/"+g.Choice+"="+g.Group] = true
	}
	if len(gs) == 0 || !macro["immigrati/cittadinanza/romania=europa_ue"] {
		t.Errorf("choice groups lack Romania in the EU: %d groups", len(gs))
	}
	have := map[string]bool{}
	for _, l := range ls {
		if strings.Contains(l.Label, "<no value>") || strings.Contains(l.Label, "{{") {
			t.Errorf("%s/%s/%s: unfilled label %q", l.Form, l.Question, l.Choice, l.Label)
		}
		if l.Lang == "it" {
			have[l.Form+"/"+l.Question+"/"+l.Choice] = true
		}
	}
	for _, want := range []string{"operatori/anni_esperienza/lt2", "operatori/anni_esperienza/lt5",
		"immigrati/ita_livello/base", "immigrati/ita_livello/parole", "immigrati/casa_tipo/senza_contr_ospite", "immigrati/casa_tipo/ospite"} {
		if !have[want] {
			t.Errorf("no Italian label for %s", want)
		}
	}
}

// TestQuestionLabelsNewestWording: staff labels (funnel, export codebook)
// use the newest wording of a question, and a label that names the rated
// service shows no empty placeholder.
func TestQuestionLabelsNewestWording(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{forms: lib, cat: cat}
	for _, q := range []string{"percorso", "soddisfazione", "risolto", "capito", "ita_livello", "partecipa"} {
		l := s.questionLabel("en", "immigrati", q)
		if l == q || strings.Contains(l, "<no value>") || strings.Contains(l, "{{") {
			t.Errorf("%s: label %q", q, l)
		}
	}
	if l := s.questionLabel("it", "immigrati", "ita_livello"); l != "Come te la cavi con l'italiano?" {
		t.Errorf("ita_livello: %q, want the v2 wording", l)
	}
}

// TestPooledCode: v1 codes map onto v2 through the `v1` column; codes that
// stayed the same map to themselves.
func TestPooledCode(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		form, q    string
		version    int
		code, want string
	}{
		{"operatori", "anni_esperienza", 1, "lt2", "lt5"},
		{"operatori", "anni_esperienza", 1, "2_5", "lt5"},
		{"operatori", "anni_esperienza", 1, "6_10", "5_plus"},
		{"operatori", "anni_esperienza", 1, "gt10", "5_plus"},
		{"operatori", "anni_esperienza", 2, "lt5", "lt5"},
		{"immigrati", "permesso", 1, "cittadino_ue", "cittadino_ue"},
		{"immigrati", "ita_livello", 1, "nessuno", "nessuno"},
		{"immigrati", "ita_livello", 1, "buono", "buono"}, // no counterpart: kept
	} {
		if got := PooledCode(lib, tc.form, tc.q, tc.version, tc.code); got != tc.want {
			t.Errorf("%s.%s v%d %s: %s, want %s", tc.form, tc.q, tc.version, tc.code, got, tc.want)
		}
	}
}

// TestMacroArea: "another country" is reported by the region's macro-area.
func TestMacroArea(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := lib.Get("immigrati", 1), lib.Get("immigrati", 2)
	for _, tc := range []struct {
		f    *dialog.Form
		ans  map[string]string
		want string
	}{
		{v2, map[string]string{"cittadinanza": "senegal"}, "africa_subsahariana"},
		{v2, map[string]string{"cittadinanza": "other", "cittadinanza_area": "africa_ovest"}, "africa_subsahariana"},
		{v2, map[string]string{"cittadinanza": "other", "cittadinanza_area": "europa_altro"}, "europa_non_ue"},
		{v2, map[string]string{"cittadinanza": "other"}, "other"},
		{v2, map[string]string{"cittadinanza": "pnta"}, "pnta"},
		{v1, map[string]string{"cittadinanza": "somalia"}, "africa_subsahariana"},
		{v1, map[string]string{}, ""},
	} {
		if got := MacroArea(tc.f, tc.ans); got != tc.want {
			t.Errorf("v%d %v: %q, want %q", tc.f.Version, tc.ans, got, tc.want)
		}
	}
}
