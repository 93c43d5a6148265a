package locales

import (
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

// TestStartAgainNamesStart: the line after a dead end names /start, in
// every language.
func TestStartAgainNamesStart(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Languages() {
		if s, ok := c.Raw(l.Code, "m.start_again"); !ok || !strings.Contains(s, "/start") {
			t.Errorf("%s: m.start_again %q (present %v) does not name /start", l.Code, s, ok)
		}
	}
}
