package locales

import (
	"strings"
	"unicode/utf8"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/unicode/bidi"
)

// RLM is the right-to-left mark: an invisible strong right-to-left
// character.
const RLM = "\u200f"

// A line of text takes its direction from its first strong character
// (Unicode's bidirectional algorithm, rules P2–P3; Telegram's apps and the
// web chat's dir="auto" do the same): a right-to-left translation whose
// line begins with a Latin word — an Italian name kept as on the forms,
// "EU طويلة الأمد (carta soggiorno)", "SPID أو بطاقة الهوية (CIE)" — would
// be laid out left to right, the Latin word on the left and the Arabic
// after it, on a button, at the start of a card's "✓ answer" line or of a
// summary line. The catalog puts a right-to-left mark before every such
// line of a right-to-left language's messages as it loads them, so that
// every text built from them reads right to left, whatever the file says
// and whoever wrote it (a translator, a machine draft, a published form's
// workbook); Raw still returns the text as written (form export).

// needsRLM reports whether line, in a right-to-left language, begins (in
// its first strong character) left to right. Markup (<b>), entities
// (&amp;), template actions ({{.N}}) and slash commands are skipped: the
// first three are not shown as such, and a command is isolated when
// rendered (tghtml.Messages.Text), so the line's direction comes from
// what follows it.
func needsRLM(line string) bool {
	prev := ' '
	for i := 0; i < len(line); {
		switch rest := line[i:]; {
		case rest[0] == '<':
			if end := strings.IndexByte(rest, '>'); end > 0 {
				i, prev = i+end+1, '>'
				continue
			}
		case rest[0] == '&':
			if end := strings.IndexByte(rest, ';'); end > 1 && end < 10 {
				i, prev = i+end+1, ';'
				continue
			}
		case strings.HasPrefix(rest, "{{"):
			if end := strings.Index(rest, "}}"); end > 0 {
				i, prev = i+end+2, '}'
				continue
			}
		case rest[0] == '/' && commandStart(prev) && len(rest) > 1 && isCommandByte(rest[1]):
			i++
			for i < len(line) && isCommandByte(line[i]) {
				i++
			}
			prev = 'a'
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.L:
			return true
		case bidi.R, bidi.AL:
			return false
		}
		prev = r
		i += size
	}
	return false
}

// commandStart says a slash after r begins a command (as
// tghtml.Messages.Text's pattern reads it).
func commandStart(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '(' || r == '«' || r == '"' || r == '“'
}

func isCommandByte(b byte) bool { return b >= 'a' && b <= 'z' || b == '_' }

// leadRTL returns s with a right-to-left mark before each line that
// needsRLM (s itself when none does).
func leadRTL(s string) string {
	if s == "" {
		return s
	}
	lines := strings.Split(s, "\n")
	changed := false
	for i, line := range lines {
		if needsRLM(line) {
			lines[i] = RLM + line
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// leadRTLMessage applies leadRTL to every plural form of m, in place, and
// reports whether any changed.
func leadRTLMessage(m *i18n.Message) bool {
	changed := false
	for _, f := range []*string{&m.Zero, &m.One, &m.Two, &m.Few, &m.Many, &m.Other} {
		if s := leadRTL(*f); s != *f {
			*f, changed = s, true
		}
	}
	return changed
}
