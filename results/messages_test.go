package results

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

// TestMessages runs the locales linter over this package's messages: every
// id MessageIDs lists exists in English and Italian with the same
// placeholders and valid Telegram HTML, and no r. message is unused.
func TestMessages(t *testing.T) {
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	used := MessageIDs(lib.Forms()...)
	for id := range cat.IDs(locales.Source) {
		if !strings.HasPrefix(id, "r.") {
			used = append(used, id) // others' messages: not this test's business
		}
	}
	for _, p := range locales.Lint(cat, used) {
		if strings.Contains(p, `"r.`) {
			t.Error(p)
		}
	}
	for _, id := range MessageIDs(lib.Forms()...) {
		for _, lang := range locales.StaffLanguages() {
			if !cat.Has(lang, id) {
				t.Errorf("%s: no %s", lang, id)
			}
		}
	}
}
