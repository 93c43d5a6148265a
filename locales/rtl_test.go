package locales

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/bidi"
)

// firstStrong is the bidirectional class of the first strong character of
// a rendered line, skipping markup and what isolates enclose (as rule P2
// does): L, R or AL, or ON when there is none.
func firstStrong(line string) bidi.Class {
	depth := 0
	for i := 0; i < len(line); {
		if line[i] == '<' {
			if end := strings.IndexByte(line[i:], '>'); end > 0 {
				i += end + 1
				continue
			}
		}
		r, size := rune(line[i]), 1
		if r >= 0x80 {
			r, size = []rune(line[i:])[0], len(string([]rune(line[i:])[0]))
		}
		i += size
		switch r {
		case '\u2066', '\u2067', '\u2068':
			depth++
			continue
		case '\u2069':
			depth = max(depth-1, 0)
			continue
		}
		if depth > 0 {
			continue
		}
		p, _ := bidi.LookupRune(r)
		switch c := p.Class(); c {
		case bidi.L, bidi.R, bidi.AL:
			return c
		}
	}
	return bidi.ON
}

// In a right-to-left language every line of every message reads right to
// left: a line whose first strong character is Latin (an Italian name
// kept as on the forms: "EU طويلة الأمد (carta soggiorno)", "SPID أو …")
// begins with a right-to-left mark, or it would be laid out left to
// right — on a button, at the start of a card's "✓ answer" line or of a
// summary line. Before: 21 Arabic labels (and more in fa, ur, ps) led
// left to right. Raw keeps the text as written (form export).
func TestRightToLeftLinesLeadRightToLeft(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range c.Languages() {
		if !l.RTL {
			continue
		}
		for id := range c.IDs(l.Code) {
			text := c.Text(l.Code, id, nil)
			if strings.IndexByte(text, '/') >= 0 {
				// Slash commands are isolated when rendered
				// (tghtml.Messages.Text): do the same here.
				text = commandIsolated(text)
			}
			for i, line := range strings.Split(text, "\n") {
				if firstStrong(line) == bidi.L {
					t.Errorf("%s %s line %d leads left to right: %q", l.Code, id, i+1, line)
				}
			}
			if raw, _ := c.Raw(l.Code, id); strings.HasPrefix(raw, RLM) != strings.HasPrefix(stored(c, l.Code, id), RLM) {
				n++
			}
		}
	}
	if n == 0 {
		t.Error("no message was given a right-to-left mark, or Raw shows it")
	}
	if raw, _ := c.Raw("ar", "c.immigrati.permesso.ue_lungo"); !strings.HasPrefix(raw, "EU ") {
		t.Errorf("Raw(ar, ue_lungo) = %q, want the text as written", raw)
	}
	if s := c.Text("ar", "c.immigrati.permesso.ue_lungo", nil); s != RLM+"EU طويلة الأمد (carta soggiorno)" {
		t.Errorf("Text(ar, ue_lungo) = %q", s)
	}
}

// commandIsolated isolates slash commands as tghtml.Messages.Text does
// (tghtml imports this package).
func commandIsolated(s string) string {
	var b strings.Builder
	prev := ' '
	for i := 0; i < len(s); {
		if s[i] == '/' && commandStart(prev) && i+1 < len(s) && isCommandByte(s[i+1]) {
			j := i + 1
			for j < len(s) && isCommandByte(s[j]) {
				j++
			}
			b.WriteString("\u2066" + s[i:j] + "\u2069")
			i, prev = j, 'a'
			continue
		}
		r := []rune(s[i:])[0]
		b.WriteRune(r)
		prev = r
		i += len(string(r))
	}
	return b.String()
}

func TestNeedsRLM(t *testing.T) {
	for _, tt := range []struct {
		line string
		want bool
	}{
		{"EU طويلة الأمد (carta soggiorno)", true},
		{"✓ SPID أو CIE", true},
		{"<b>Lavoro</b> – عمل", true},
		{"25 سنة", false},
		{"18–24", false},
		{"كم عمرك؟", false},
		{"/delete – حذف إجاباتك", false},
		{"• /delete يحذف", false},
		{"{{.N}} رسالة", false},
		{"&amp; نص", false},
		{"&lt;b&gt; نص", true}, // "<b>" shown as text
		{"", false},
		{"(ISEE) مساعدة", true},
	} {
		if got := needsRLM(tt.line); got != tt.want {
			t.Errorf("needsRLM(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
	if s := leadRTL("عنوان\nEU نص\nنص"); s != "عنوان\n"+RLM+"EU نص\nنص" {
		t.Errorf("leadRTL: %q", s)
	}
}

// The right-to-left mark takes no room on a button: Lint's 32-character
// limit counts what shows. Before visibleLen, five shipped labels of 32
// characters (ar, ps, ur) became "button label of 33 characters".
func TestRightToLeftMarkTakesNoRoom(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for id := range c.IDs(Source) {
		used = append(used, id)
	}
	for _, p := range Lint(c, used) {
		if strings.Contains(p, "button label of") {
			t.Error(p)
		}
	}
	if n := visibleLen(RLM + "EU \u2066/x\u2069"); n != 5 {
		t.Errorf("visibleLen = %d, want 5", n)
	}
}

// stored returns the text the catalog keeps for message id of lang.
func stored(c *Catalog, lang, id string) string {
	m, l, _ := c.lookup(lang, id)
	return l.text(m)
}
