package locales

import (
	"testing"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

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
		{"fa", "fa"}, {"fa-IR", "fa"}, {"fa-AF", "fa"}, {"ps", "ps"}, {"ps-AF", "ps"}, {"ti", "ti"}, {"ti-ER", "ti"},
		{"so", "so"}, {"so-SO", "so"}, {"si", "si"}, {"si-LK", "si"}, {"ta", "ta"}, {"ta-LK", "ta"}, {"wo", "wo"}, {"wo-SN", "wo"},
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
		if rtlWant := l.Code == "ar" || l.Code == "ur" || l.Code == "fa" || l.Code == "ps"; rtlWant != l.RTL {
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

// TestSupportedShipped: every supported language has its message file (the
// seven of issue 15 included), and the catalog offers no other respondent
// language.
func TestSupportedShipped(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if len(Supported()) != 23 {
		t.Errorf("%d supported languages, want 23", len(Supported()))
	}
	for i, code := range Supported() {
		if _, ok := c.Language(code); !ok {
			t.Errorf("%s: no locales/active.%s.toml", code, code)
			continue
		}
		if c.Languages()[i].Code != code {
			t.Errorf("picker order %d: %s, want %s", i, c.Languages()[i].Code, code)
		}
		if !c.Has(code, "m.btn.ok") {
			t.Errorf("%s: no m.btn.ok", code)
		}
	}
	if n := len(c.Languages()); n != len(Supported()) {
		t.Errorf("catalog has %d languages, want %d", n, len(Supported()))
	}
}

// TestSelfNames: the picker names each language in itself, from CLDR, even
// where x/text's display tables lack the name.
func TestSelfNames(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"fa": "فارسی", "ps": "پښتو", "ti": "ትግርኛ", "so": "Soomaali", "si": "සිංහල", "ta": "தமிழ்", "wo": "Wolof",
		"ar": "العربية", "ur": "اردو", "it": "Italiano", "zh-Hans": "简体中文", "tl": "Filipino",
	}
	for code, name := range want {
		l, ok := c.Language(code)
		if !ok {
			t.Errorf("no %s", code)
			continue
		}
		if l.Name != name {
			t.Errorf("%s named %q, want %q", code, l.Name, name)
		}
	}
	// The table wins over x/text: a catalog of a language x/text cannot
	// name still shows its own name.
	if got := selfNames["wo"]; got != "Wolof" {
		t.Errorf("selfNames[wo] = %q", got)
	}
}

// TestPluralRulesCLDR checks, number by number, the plural category
// go-i18n picks for the seven languages of issue 15 against CLDR 46
// (common/supplemental/plurals.xml):
//
//	fa:         one: i = 0 or n = 1                    (0, 1, 0.5 one; 2 other)
//	si:         one: n = 0,1 or i = 0 and f = 1        (0, 1, 0.1 one; 0.5, 2 other)
//	ti:         one: n = 0..1                          (0, 1 one; 2 other)
//	ps, so, ta: one: n = 1                             (1 one; 0, 2 other)
//	wo:         other only
//
// go-i18n v2.7 has every one of them; were one missing, PluralForms would
// report only "other" and this test would fail on "one".
func TestPluralRulesCLDR(t *testing.T) {
	tests := map[string]map[string]string{
		"fa": {"0": "one", "1": "one", "0.5": "one", "2": "other", "10": "other", "1.5": "other"},
		"si": {"0": "one", "1": "one", "0.1": "one", "0.5": "other", "2": "other", "1.5": "other"},
		"ti": {"0": "one", "1": "one", "2": "other", "11": "other"},
		"ps": {"1": "one", "0": "other", "2": "other"},
		"so": {"1": "one", "0": "other", "2": "other"},
		"ta": {"1": "one", "0": "other", "2": "other"},
		"wo": {"0": "other", "1": "other", "2": "other"},
	}
	forms := map[string]int{"fa": 2, "si": 2, "ti": 2, "ps": 2, "so": 2, "ta": 2, "wo": 1}
	for code, cases := range tests {
		tag := language.MustParse(code)
		if got := len(PluralForms(tag)); got != forms[code] {
			t.Errorf("%s: %d plural forms, want %d", code, got, forms[code])
		}
		b := i18n.NewBundle(tag)
		_ = b.AddMessages(tag, &i18n.Message{ID: "p", Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"})
		loc := i18n.NewLocalizer(b, code)
		for n, want := range cases {
			got, err := loc.Localize(&i18n.LocalizeConfig{MessageID: "p", PluralCount: n})
			if err != nil || got != want {
				t.Errorf("%s %s: %q (%v), want %q", code, n, got, err, want)
			}
		}
	}
}

// TestRespondentFacing: engine and bot messages, and the texts of the
// forms named as the respondents', must exist in every language; a form
// is respondent-facing by declaration, not by its id.
func TestRespondentFacing(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"m.btn.back", true}, {"b.start", true},
		{"q.survey_a.age", true}, {"c.survey_a.yn.yes", true}, {"f.survey_a.title", true}, {"g.survey_a.about", true},
		{"q.survey_b.age", false}, {"s.invite.new", false}, {"r.need.survey_a-x", false}, {"q.survey_ab.x", false},
	} {
		if got := RespondentFacing(c.id, "survey_a"); got != c.want {
			t.Errorf("RespondentFacing(%q) = %v", c.id, got)
		}
	}
}
