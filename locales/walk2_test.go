package locales

import (
	"regexp"
	"strings"
	"testing"
)

// TestChooseAsksForNoNumber: the re-prompt after a typed text that names
// no key (m.invalid.choose) must not ask for the key's number, since keys
// carry none; every language says to tap a key. The words are each
// language's "number" as the drafts wrote it.
func TestChooseAsksForNoNumber(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	number := []string{"number", "numero", "numéro", "número", "numărul", "numrin", "номер", "رقم", "编号", "নম্বর", "نمبر", "ਨੰਬਰ", "नंबर"}
	for _, l := range c.Languages() {
		s, ok := c.Raw(l.Code, "m.invalid.choose")
		if !ok {
			t.Errorf("%s: no m.invalid.choose", l.Code)
			continue
		}
		for _, w := range number {
			if strings.Contains(strings.ToLower(s), w) {
				t.Errorf("%s: m.invalid.choose asks for a number (%q): %q", l.Code, w, s)
			}
		}
	}
}

// TestStartAgainNamesRestart: the texts that tell how to answer again —
// after an end without answers (m.start_again) and after a finished one
// (m.done_already) — name the same command, /restart, in every language:
// it starts again, or asks for the link where one is needed; /start
// without a link after the end answers "ask for a link" where there is no
// default municipality.
func TestStartAgainNamesRestart(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`/start\b`)
	for _, l := range c.Languages() {
		for _, id := range []string{"m.start_again", "m.done_already"} {
			s, ok := c.Raw(l.Code, id)
			if !ok || !strings.Contains(s, "/restart") || start.MatchString(s) {
				t.Errorf("%s: %s %q (present %v) does not name /restart alone", l.Code, id, s, ok)
			}
		}
	}
}
