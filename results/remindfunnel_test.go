package results

import (
	"strings"
	"testing"

	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestReminderFunnel: the reminder funnel's numbers come from the seeded
// totals, each protected on its own cell key (rounded to the base, "<5"
// below the threshold), and are shown in /results' funnel in every staff
// language.
func TestReminderFunnel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.service(t, 5)
	form := w.lib.Latest("immigrati")
	f := Filter{Form: "immigrati", Municipality: w.munis["100005"]}
	const up, down = int64(1), int64(4_000_000_000) // keys that round remainders up / down
	tests := []struct {
		name string
		tot  pgstore.Totals
		// want: started, reminded, resumed, resumed+completed, completed
		// (-1 = shown as "<5").
		want [5]int64
	}{
		{"rounded", pgstore.Totals{Completed: 41, CompletedKey: down, Abandoned: 23, AbandonedKey: down,
			Reminded: 37, RemindedKey: up, Resumed: 21, ResumedKey: down, ResumedCompleted: 12, ResumedCompletedKey: up},
			[5]int64{60, 40, 20, 15, 40}},
		{"small", pgstore.Totals{Completed: 8, CompletedKey: up, Abandoned: 3, AbandonedKey: up,
			Reminded: 6, RemindedKey: down, Resumed: 3, ResumedKey: down, ResumedCompleted: 1, ResumedCompletedKey: down},
			[5]int64{15, 5, -1, -1, 10}},
		{"none reminded", pgstore.Totals{Completed: 10, CompletedKey: down, Abandoned: 10, AbandonedKey: down},
			[5]int64{20, -1, -1, -1, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := buildReport(form, f, tc.tot, nil, 5)
			r := rep.Reminders
			for i, c := range []Count{r.Started, r.Reminded, r.Resumed, r.ResumedCompleted, r.Completed} {
				want := tc.want[i]
				if want < 0 {
					if c.Visible() || c.N != 0 {
						t.Errorf("count %d shown as %d, want hidden", i, c.N)
					}
				} else if !c.Visible() || c.N != want {
					t.Errorf("count %d = %+v, want %d", i, c, want)
				}
			}
			d, _ := s.describe(ctx, "en", f)
			for _, lang := range locales.StaffLanguages() {
				text := s.funnelText(lang, form, rep, d)
				line := s.remindersText(lang, r)
				if !strings.Contains(text, line) {
					t.Fatalf("%s: reminder funnel missing:\n%s", lang, text)
				}
				if strings.Contains(line, "{{") || strings.Contains(line, "r.funnel.reminders") {
					t.Fatalf("%s: unrendered line %q", lang, line)
				}
			}
			if tc.name == "rounded" {
				if line := s.remindersText("en", r); !strings.Contains(line, "60 started after consent · 40 reminded · 20 came back after the reminder, 15 of them completed · 40 completed") {
					t.Errorf("English line: %q", line)
				}
				if line := s.remindersText("it", r); !strings.Contains(line, "60 iniziate dopo il consenso · 40 con promemoria · 20 riprese dopo il promemoria, di cui 15 completate · 40 completate") {
					t.Errorf("Italian line: %q", line)
				}
			}
			if tc.name == "small" && !strings.Contains(s.remindersText("en", r), "&lt;5 came back") && !strings.Contains(s.remindersText("en", r), "<5 came back") {
				t.Errorf("small count not shown as <5: %q", s.remindersText("en", r))
			}
		})
	}
}
