package results

import (
	"slices"
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

func parseForm(t *testing.T, src string) *dialog.Form {
	t.Helper()
	f, err := dialog.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReportFollowsDeclarations: a form with names results has never
// seen gets its priorities, needs and areas chart from what it declares.
func TestReportFollowsDeclarations(t *testing.T) {
	people := parseForm(t, `form: people
version: 1
pairs_with: desk
survey:
  - {type: select_multiple topics, name: wanted, report: priorities areas}
  - {type: select_multiple topics, name: asked}
  - {type: select_multiple where, name: heard, report: descriptive}
choices:
  topics:
    - {name: flat, area: housing}
    - {name: job, area: work}
    - {name: misc, other: yes}
    - {name: nada, exclusive: yes}
  where: ["radio", "friends"]
`)
	desk := parseForm(t, `form: desk
version: 1
audience: staff
survey:
  - {type: select_multiple asks, name: requests, report: areas}
choices:
  asks:
    - {name: a_work, area: work}
    - {name: a_flat, area: housing}
`)
	if p := priorityQuestion(people); p != "wanted" {
		t.Errorf("priority question %q", p)
	}
	var needs []string
	for _, q := range needQuestions(people) {
		needs = append(needs, q.Name)
	}
	if !slices.Equal(needs, []string{"asked", "heard"}) {
		t.Errorf("need questions %v", needs)
	}
	pc := map[string]cell{"": {n: 40}, "flat": {n: 30}, "job": {n: 10}}
	dc := map[string]cell{"": {n: 20}, "a_work": {n: 15}, "a_flat": {n: 5}}
	a := buildAreas(people, desk, pc, dc, 0)
	if !slices.Equal(a.Codes, []string{"work", "housing"}) {
		t.Fatalf("codes %v", a.Codes)
	}
	if a.Forms != [2]string{"people", "desk"} || a.Labels[0] != "c.people.topics.job" || a.Labels[1] != "c.people.topics.flat" {
		t.Errorf("forms %v labels %v", a.Forms, a.Labels)
	}
	if a.Immigrants.Question != "wanted" || a.Operators.Question != "requests" {
		t.Errorf("questions %q %q", a.Immigrants.Question, a.Operators.Question)
	}
	want := map[string][2]int64{"work": {10, 15}, "housing": {30, 5}}
	for i, code := range a.Codes {
		if got := [2]int64{a.Immigrants.Items[i].Count.N, a.Operators.Items[i].Count.N}; got != want[code] {
			t.Errorf("%s: %v, want %v", code, got, want[code])
		}
	}
}
