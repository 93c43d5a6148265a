package locales

import "testing"

func TestTextFallsBackToSource(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	// The operators' questionnaire ships in it and en only.
	if got, want := c.Text("ar", "q.operatori.ente", nil), c.Text("en", "q.operatori.ente", nil); got != want || got == "q.operatori.ente" {
		t.Fatalf("Arabic fallback %q, want the English %q", got, want)
	}
	if got := c.Text("ar", "no.such.message", nil); got != "no.such.message" {
		t.Fatalf("unknown id renders %q", got)
	}
	if got := c.Text("xx", "m.btn.ok", nil); got != c.Text("en", "m.btn.ok", nil) {
		t.Fatalf("unknown language: %q", got)
	}
}

func TestMatch(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ hint, want string }{
		{"it", "it"}, {"it-IT", "it"}, {"pt-br", "pt"}, {"pt-BR", "pt"}, {"zh-hans", "zh-Hans"}, {"zh-CN", "zh-Hans"},
		{"uk", "uk"}, {"ar", "ar"}, {"ur-PK", "ur"}, {"", ""}, {"xx-garbage", ""}, {"ja", ""},
	}
	for _, tt := range tests {
		got, ok := c.Match(tt.hint)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Match(%q) = %q, %v; want %q", tt.hint, got, ok, tt.want)
		}
	}
	for _, l := range c.Languages() {
		if l.Name == "" || l.Name == l.Code {
			t.Errorf("%s has no native name", l.Code)
		}
		if (l.Code == "ar" || l.Code == "ur") != l.RTL {
			t.Errorf("%s RTL %v", l.Code, l.RTL)
		}
	}
}

func TestCheckHTML(t *testing.T) {
	for s, ok := range map[string]bool{
		"<b>bold</b> and <i>it</i>": true, "a &amp; b &lt; c": true, "&#39;": true,
		"<b>open": false, "</b>": false, "<b><i>x</b></i>": false, "a < b": false, "a & b": false,
		"<script>x</script>": false, "&nbsp;": false,
	} {
		if err := CheckHTML(s); (err == nil) != ok {
			t.Errorf("CheckHTML(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

func TestPluralForms(t *testing.T) {
	c, _ := New()
	want := map[string]int{"ar": 6, "ru": 4, "uk": 4, "ro": 3, "zh-Hans": 1, "en": 2, "it": 3}
	for code, n := range want {
		l, ok := c.Language(code)
		if !ok {
			t.Fatalf("no %s", code)
		}
		if got := len(PluralForms(l.Tag)); got != n {
			t.Errorf("%s: %d plural forms, want %d", code, got, n)
		}
	}
}
