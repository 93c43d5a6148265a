package tghtml

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/locales"
)

func TestPlain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no markup", "no markup"},
		{"<b>Bold</b> and <i>italic</i>", "Bold and italic"},
		{"send <code>/invite Desk 2</code>", "send /invite Desk 2"},
		{`<a href="https://example.org/?a=1&amp;b=2">the site</a>`, "the site"},
		{"a &lt;b&gt; &amp; c &#39;d&#39; &quot;e&quot;", `a <b> & c 'd' "e"`},
		{"&amp;lt; stays text", "&lt; stays text"},
		{"1 < 2 without a closing bracket", "1 < 2 without a closing bracket"},
		{"<b>unclosed", "unclosed"},
		{"✓ <i>أ</i>\u2068x\u2069", "✓ أ\u2068x\u2069"},
	}
	for _, tt := range tests {
		if got := Plain(tt.in); got != tt.want {
			t.Errorf("Plain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzEscapePlain: whatever a respondent types comes back exactly after
// escaping and rendering as plain text, and escaped text never opens a tag.
func FuzzEscapePlain(f *testing.F) {
	for _, s := range []string{"", "a<b>c", "&amp;", "<script>&", "Roma 2024", "«/delete»", "x > y < z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if strings.ContainsAny(e, "<>") {
			t.Fatalf("Escape(%q) = %q has a bracket", s, e)
		}
		if got := Plain(e); got != s {
			t.Fatalf("Plain(Escape(%q)) = %q", s, got)
		}
		if got := Plain("<b>" + e + "</b>"); got != s {
			t.Fatalf("Plain(<b>Escape(%q)</b>) = %q", s, got)
		}
	})
}

func testMessages(t *testing.T) *Messages {
	t.Helper()
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	return NewMessages(cat)
}

func TestTextEscapesAndIsolates(t *testing.T) {
	m := testMessages(t)
	data := map[string]any{"Answer": "<script>&"}
	got := m.Text("en", "m.answered", data)
	if got != "Your answer: &lt;script&gt;&amp;" {
		t.Errorf("en: %q", got)
	}
	if data["Answer"] != "<script>&" {
		t.Errorf("the caller's map changed: %q", data["Answer"])
	}
	if got := m.Plain("en", "m.answered", data); got != "Your answer: <script>&" {
		t.Errorf("plain en: %q", got)
	}
	if _, ok := m.Catalog().Language("ar"); !ok || !m.RTL("ar") || m.RTL("it") {
		t.Fatal("Arabic is not a right-to-left language of the catalog")
	}
	got = m.Text("ar", "m.answered", map[string]any{"Answer": "Roma 2024"})
	if !strings.Contains(got, FSI+"Roma 2024"+PDI) {
		t.Errorf("Latin fragment not isolated in Arabic: %q", got)
	}
	if got := m.Plain("ar", "m.answered", map[string]any{"Answer": "Roma 2024"}); strings.ContainsAny(got, FSI+PDI) || !strings.Contains(got, "Roma 2024") {
		t.Errorf("plain Arabic: %q", got)
	}
	if got := m.Text("ar", "b.help", nil); !strings.Contains(got, LRI+"/delete"+PDI) {
		t.Errorf("command not isolated in Arabic help: %q", got)
	}
	if got := m.Text("it", "b.help", nil); strings.ContainsAny(got, LRI+FSI+PDI) {
		t.Errorf("isolates in Italian help: %q", got)
	}
}

func TestChoiceArg(t *testing.T) {
	m := testMessages(t)
	label := m.Plain("it", "c.immigrati.servizio.anagrafe", nil)
	if label == "" || label == "c.immigrati.servizio.anagrafe" {
		t.Fatalf("no Italian label for the registry office: %q", label)
	}
	got := m.Text("it", "m.invalid.exclusive", map[string]any{ChoiceArg: "c.immigrati.servizio.anagrafe"})
	if !strings.Contains(got, Escape(label)) || strings.Contains(got, "c.immigrati") {
		t.Errorf("the choice is not shown as its label: %q", got)
	}
	// A value that is no message id is shown as written (results passes
	// "…" for "some service").
	if got := m.Plain("en", "m.invalid.exclusive", map[string]any{ChoiceArg: "…"}); !strings.Contains(got, "“…”") {
		t.Errorf("literal choice: %q", got)
	}
}
