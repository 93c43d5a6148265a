package bot

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/bidi"

	"github.com/needsbot/needsbot/dialog"
)

// leadsLTR reports whether a rendered line is laid out left to right by
// its first strong character (markup and isolated runs skipped, as rule
// P2 of Unicode's bidirectional algorithm skips isolates).
func leadsLTR(line string) bool {
	depth := 0
	for i := 0; i < len(line); {
		if line[i] == '<' {
			if end := strings.IndexByte(line[i:], '>'); end > 0 {
				i += end + 1
				continue
			}
		}
		r := []rune(line[i:])[0]
		i += len(string(r))
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
		switch p.Class() {
		case bidi.L:
			return true
		case bidi.R, bidi.AL:
			return false
		}
	}
	return false
}

// In every right-to-left language, every choice of the shipped
// questionnaires reads right to left on its button and on the card's
// "✓ answer" line, also a label that begins with an Italian word ("EU
// طويلة الأمد (carta soggiorno)", "SPID أو …"). Before: such a button and
// line were laid out left to right, the Latin word on the left.
func TestRightToLeftChoicesLeadRightToLeft(t *testing.T) {
	r, lib := testRenderer(t)
	seen := 0
	for _, l := range r.cat.Languages() {
		if !l.RTL {
			continue
		}
		for _, id := range []string{"immigrati", "operatori"} {
			f := lib.Latest(id)
			if f == nil {
				continue
			}
			for _, q := range f.Questions {
				if q.List == nil {
					continue
				}
				for _, c := range q.List.Choices {
					if !r.cat.Has(l.Code, c.Label) {
						continue
					}
					seen++
					if key := r.label(l.Code, dialog.Button{Label: c.Label, Kind: dialog.BtnChoose}); leadsLTR(key) {
						t.Errorf("%s %s: the button %q leads left to right", l.Code, c.Label, key)
					}
					if line := r.answerLine(l.Code, dialog.Reply{AnswerMsgs: []string{c.Label}}); leadsLTR(line) {
						t.Errorf("%s %s: the answer line %q leads left to right", l.Code, c.Label, line)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no right-to-left choice label checked")
	}
}

// The right-to-left mark takes no room in a key row: labels with it are
// laid out as without it.
func TestRightToLeftMarkKeepsTheLayout(t *testing.T) {
	plain := []string{"Lavoro – عمل", "Studio – دراسة", "Motivi familiari – عائلة", "Asilo أو Protezione", "عمل آخر", "أفضّل عدم الإجابة"}
	var a, b []Key
	for _, l := range plain {
		a = append(a, Key{Text: l})
		b = append(b, Key{Text: "\u200f" + l})
	}
	if sa, sb := shape(Layout(a, nil)), shape(Layout(b, nil)); !equalInts(sa, sb) {
		t.Errorf("rows %v with the marks, %v without", sb, sa)
	}
	if w := displayWidth("\u200fEU \u2066x\u2069"); w != 4 {
		t.Errorf("displayWidth = %d, want 4", w)
	}
}
