package bot

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

func keys(labels ...string) []Key {
	var ks []Key
	for _, l := range labels {
		ks = append(ks, Key{Text: l})
	}
	return ks
}

func shape(rows [][]Key) []int {
	var s []int
	for _, r := range rows {
		s = append(s, len(r))
	}
	return s
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name string
		opts []Key
		nav  []Key
		want []int
	}{
		{"range 1-5 on one row", keys("1", "2", "3", "4", "5"), keys("◀", "▶"), []int{5, 2}},
		{"yes no", keys("Sì", "No"), nil, []int{2}},
		{"12 years in balanced rows", keys("2026", "2025", "2024", "2023", "2022", "2021", "2020", "2019", "2018", "2017", "2016", "2015"), nil, []int{4, 4, 4}},
		{"long labels one per row", keys("Employee with a contract", "I work without a contract", "Looking for work"), nil, []int{1, 1, 1}},
		{"medium labels two per row", keys("Romania", "Marocco", "Albania", "Cina", "Ucraina"), nil, []int{3, 2}},
		{"wide CJK counts double", keys("找工作和培训", "住房问题很多", "医疗服务"), nil, []int{2, 1}},
		{"never more than 8", keys("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"), nil, []int{5, 5}},
	}
	for _, tt := range tests {
		got := shape(Layout(tt.opts, tt.nav))
		if !equalInts(got, tt.want) {
			t.Errorf("%s: rows %v, want %v", tt.name, got, tt.want)
		}
		for _, r := range Layout(tt.opts, tt.nav) {
			if len(r) > 8 {
				t.Errorf("%s: row of %d", tt.name, len(r))
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSplit(t *testing.T) {
	para := strings.Repeat("word ", 300) // 1500 chars
	text := strings.Join([]string{para, para, para, para}, "\n\n")
	parts := Split(text)
	if len(parts) < 2 {
		t.Fatalf("not split: %d parts", len(parts))
	}
	total := 0
	for _, p := range parts {
		if n := utf8.RuneCountInString(p); n > MaxText || n == 0 {
			t.Fatalf("part of %d characters", n)
		}
		total += strings.Count(p, "word")
	}
	if total != 1200 {
		t.Fatalf("lost words: %d", total)
	}
	if got := Split("short"); len(got) != 1 || got[0] != "short" {
		t.Fatalf("short text: %q", got)
	}
	entity := strings.Repeat("x", MaxText-2) + "&amp;yyy"
	for _, p := range Split(entity) {
		if strings.HasSuffix(p, "&") || strings.HasPrefix(p, "amp;") {
			t.Fatalf("split inside an entity: ...%q", p[max(0, len(p)-8):])
		}
	}
}

func testRenderer(t testing.TB) (*Renderer, *dialog.Library) {
	t.Helper()
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return NewRenderer(cat), lib
}

func TestRenderAskEscapesAndFits(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Get("immigrati", 1) // v1: the age screening outside any section, a long country list
	s, _ := dialog.Step(f, dialog.State{Lang: "it"}, dialog.Input{Kind: dialog.InStart}, now0)
	s, replies := dialog.Step(f, s, dialog.Input{Kind: dialog.InChoose, Option: "yes", Button: true, Pos: s.Pos, Seq: s.Seq}, now0)
	var ask dialog.Reply
	for _, rep := range replies {
		if rep.Kind == dialog.ReplyAsk {
			ask = rep
		}
	}
	m, err := r.Ask("it", f, ask)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "<b>") || strings.Contains(m.Text, "Sezione") {
		t.Errorf("question text (the age screening belongs to no section): %q", m.Text)
	}
	for _, row := range m.Keyboard {
		for _, k := range row {
			if len(k.Data) > MaxCallbackData || k.Data == "" {
				t.Errorf("callback data %q", k.Data)
			}
			if _, err := DecodeCallback(k.Data); err != nil {
				t.Errorf("undecodable %q", k.Data)
			}
		}
	}
	// Arguments are escaped: a typed answer cannot inject HTML.
	got := r.Text("en", dialog.MsgAnswered, map[string]any{"Answer": "<script>&"})
	if strings.Contains(got, "<script>") || !strings.Contains(got, "&lt;script&gt;&amp;") {
		t.Errorf("argument not escaped: %q", got)
	}
}

func TestRightToLeftIsolates(t *testing.T) {
	r, _ := testRenderer(t)
	if _, ok := r.cat.Language("ar"); !ok {
		t.Fatal("no Arabic catalog: Arabic ships, so the catalog lookup is broken")
	}
	p := r.progress("ar", dialog.Progress{N: 7, Of: 31})
	if !strings.HasPrefix(p, rlm+lri) || !strings.HasSuffix(p, pdi) || !strings.Contains(p, "7") || !strings.Contains(p, "31") {
		t.Errorf("Arabic progress %q is not isolated", p)
	}
	if p := r.progress("it", dialog.Progress{N: 7, Of: 31}); strings.ContainsAny(p, rlm+lri+pdi) {
		t.Errorf("Italian progress has bidi marks: %q", p)
	}
	got := r.Text("ar", dialog.MsgAnswered, map[string]any{"Answer": "Roma 2024"})
	if !strings.Contains(got, fsi+"Roma 2024"+pdi) {
		t.Errorf("Latin fragment not isolated in Arabic: %q", got)
	}
}

var now0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestRightToLeftCommands(t *testing.T) {
	r, _ := testRenderer(t)
	got := r.Text("ar", MsgHelp, nil)
	if !strings.Contains(got, lri+"/delete"+pdi) {
		t.Errorf("command not isolated in Arabic help: %q", got)
	}
	if strings.Contains(r.Text("it", MsgHelp, nil), lri) {
		t.Error("isolates in Italian")
	}
	if strings.Contains(got, "<"+lri) || strings.Contains(got, lri+"/b>") {
		t.Errorf("an HTML tag was touched: %q", got)
	}
}

// askAt walks the immigrants' form in lang to question name (consent yes,
// an adult, then the first option of each question) and renders it.
func askAt(t *testing.T, r *Renderer, f *dialog.Form, lang, name string) (dialog.Reply, Message) {
	t.Helper()
	s, out := dialog.Step(f, dialog.State{Lang: lang}, dialog.Input{Kind: dialog.InStart}, now0)
	for i := 0; i < 60; i++ {
		var ask *dialog.Reply
		for j := range out {
			if out[j].Kind == dialog.ReplyAsk {
				ask = &out[j]
			}
		}
		if ask == nil {
			t.Fatalf("no question before %s", name)
		}
		if ask.Question == name {
			m, err := r.Ask(lang, f, *ask)
			if err != nil {
				t.Fatal(err)
			}
			return *ask, m
		}
		opt := ask.Buttons[0].Option
		switch ask.Question {
		case "consenso":
			opt = "yes"
		case "eta":
			opt = "25_34"
		}
		in := dialog.Input{Kind: dialog.InChoose, Option: opt, Button: true, Pos: ask.Pos, Seq: ask.Seq}
		if ask.Buttons[0].Kind == dialog.BtnToggle {
			in.Kind = dialog.InSkip
		}
		s, out = dialog.Step(f, s, in, now0)
	}
	t.Fatalf("never reached %s", name)
	return dialog.Reply{}, Message{}
}

func TestNavigationRowAndPaging(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Get("immigrati", 1) // v1: the age screening outside any section, a long country list
	// Italian: [◀ Back | Skip ▶], Back first.
	_, m := askAt(t, r, f, "it", "servizio")
	nav := m.Keyboard[len(m.Keyboard)-1]
	if len(nav) != 2 || nav[0].Text != "◀ Indietro" || nav[1].Text != "Salta ▶" {
		t.Fatalf("it navigation row: %+v", nav)
	}
	// Arabic: the row mirrored, arrows pointing outward: Skip on the left
	// pointing left, Back on the right pointing right.
	_, m = askAt(t, r, f, "ar", "servizio")
	nav = m.Keyboard[len(m.Keyboard)-1]
	if len(nav) != 2 || !strings.HasSuffix(nav[0].Text, "◀") || !strings.HasPrefix(nav[1].Text, "▶") {
		t.Fatalf("ar navigation row: %+v", nav)
	}
	// A list with "prefer not to answer" has no Skip; a long one is paged,
	// the page key before the navigation row, question and keys on one
	// phone screen (at most maxOptionRows rows of options).
	ask, m := askAt(t, r, f, "it", "cittadinanza")
	rows := m.Keyboard
	nav, more := rows[len(rows)-1], rows[len(rows)-2]
	if len(nav) != 1 || nav[0].Text != "◀ Indietro" {
		t.Fatalf("navigation beside pnta: %+v", nav)
	}
	cb, err := DecodeCallback(more[0].Data)
	if len(more) != 1 || err != nil || cb.Kind != CbPage || cb.Option != "1" || !strings.Contains(more[0].Text, "1/2") {
		t.Fatalf("page key: %+v %+v", more, cb)
	}
	if len(rows)-2 > maxOptionRows {
		t.Fatalf("%d rows of options on a page", len(rows)-2)
	}
	p2, err := r.AskPage("it", f, ask, 1)
	if err != nil {
		t.Fatal(err)
	}
	var last []string
	for _, row := range p2.Keyboard {
		for _, k := range row {
			last = append(last, k.Text)
		}
	}
	if !slices.Contains(last, "Preferisco non rispondere") || !strings.Contains(strings.Join(last, "|"), "2/2") {
		t.Fatalf("page 2: %v", last)
	}
	if r.PageOf("it", ask, "other") != 1 || r.PageOf("it", ask, "romania") != 0 {
		t.Fatal("PageOf")
	}
	// "Prefer not to answer", the one way to decline, is on every page.
	var first []string
	for _, row := range m.Keyboard {
		for _, k := range row {
			first = append(first, k.Text)
		}
	}
	if !slices.Contains(first, "Preferisco non rispondere") {
		t.Fatalf("page 1 without the way to decline: %v", first)
	}
}

func TestSectionsAndSummary(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Get("immigrati", 1) // v1: the age screening outside any section, a long country list
	consent := f.Question("consenso").Index
	if p := dialog.SectionOf(f, consent); p.N != 0 {
		t.Errorf("progress on the consent screen: %+v", p)
	}
	first := dialog.SectionOf(f, f.Question("servizio").Index)
	last := dialog.SectionOf(f, f.Question("commenti").Index)
	if first.N != 1 || last.N != last.Of || first.Of != last.Of || first.Of < 5 {
		t.Errorf("sections: first %+v last %+v", first, last)
	}
	_, m := askAt(t, r, f, "it", "servizio")
	if !strings.Contains(m.Text, "Sezione 1 di") {
		t.Errorf("no section line: %q", m.Text)
	}
	resp := &dialog.Response{Answers: map[string]string{"consenso": "yes", "eta": "25_34", "servizio": "anagrafe", "cittadinanza": "marocco", "commenti": "secret"}}
	sum := r.Summary("it", f, resp)
	for _, want := range []string{"<b>Le tue risposte</b>", "Da 25 a 34 anni", "Anagrafe (residenza) · Marocco"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "secret") || strings.Contains(sum, "Sì, accetto") {
		t.Errorf("summary shows free text or consent:\n%s", sum)
	}
}
