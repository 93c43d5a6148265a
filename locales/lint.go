package locales

import (
	"fmt"
	"sort"
	"strings"
)

// StaffLanguages must have every message, including the operators'
// questionnaire and the staff commands; the other languages need only the
// respondent-facing ones.
var StaffLanguages = []string{"it", "en"}

// RespondentFacing reports whether message id is shown to respondents and
// so must exist in every shipped language: engine (m.) and bot (b.)
// messages and the immigrants' questionnaire.
func RespondentFacing(id string) bool {
	return strings.HasPrefix(id, "m.") || strings.HasPrefix(id, "b.") || strings.Contains(id, ".immigrati.") || id == "f.immigrati.title"
}

// Lint checks the catalog against the message ids the code and the
// questionnaires use: every used id exists in every language that must
// have it. It returns one problem per line, "locales/active.<lang>.toml: message".
func Lint(c *Catalog, used []string) []string {
	var problems []string
	want := map[string]bool{}
	for _, id := range used {
		want[id] = true
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	staff := map[string]bool{}
	for _, l := range StaffLanguages {
		staff[l] = true
	}
	for _, l := range c.Languages() {
		for _, id := range ids {
			if !c.Has(l.Code, id) && (staff[l.Code] || RespondentFacing(id)) {
				problems = append(problems, fmt.Sprintf("locales/active.%s.toml: missing message %q", l.Code, id))
			}
		}
	}
	return problems
}
