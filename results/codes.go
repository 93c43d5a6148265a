package results

import (
	"strconv"
	"strings"

	"github.com/needsbot/needsbot/dialog"
)

// PooledCode maps an answer code given to question of form id in version
// onto the newest version's code, so that answers of every version can be
// counted together. A code that stayed the same maps to itself; a newer
// choice whose `v1` column lists the code (e.g. operators' experience band
// lt5 = v1 lt2 and 2_5) takes it; a code with no counterpart is returned
// as is (reports show it under its own label).
func PooledCode(lib *dialog.Library, id, question string, version int, code string) string {
	latest := lib.Latest(id)
	if latest == nil || version >= latest.Version {
		return code
	}
	q := latest.Question(question)
	if q == nil || q.List == nil {
		return code
	}
	if _, ok := q.List.Choice(code); ok {
		return code
	}
	col := "v" + strconv.Itoa(version)
	for _, c := range q.List.Choices {
		for _, old := range strings.Fields(c.Filter[col]) {
			if old == code {
				return c.Name
			}
		}
	}
	return code
}

// MacroArea is the world region a response's citizenship is reported by:
// the macro column of the chosen choice of the form's origin questions
// (report: origin), the last answered one winning ("another country"
// then its region). "" when none was answered.
func MacroArea(f *dialog.Form, answers map[string]string) string { return f.Origin(answers) }
