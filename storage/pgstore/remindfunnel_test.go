package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestReminderFunnelTotals seeds completed and abandoned interviews with
// every combination of the reminder flags (migration 00013) and checks the
// reminder funnel's counts and record-key sums per scope.
func TestReminderFunnelTotals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, _ := e.municipality(t, "058091", "anagrafe")
	prato, _ := e.municipality(t, "100005", "anagrafe")
	day0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	type seed struct {
		completed, reminded, resumed bool
		muni                         int64
		n                            int
	}
	seeds := []seed{
		{completed: true, muni: prato, n: 7},
		{completed: true, reminded: true, muni: prato, n: 2},
		{completed: true, reminded: true, resumed: true, muni: prato, n: 5},
		{completed: true, reminded: true, resumed: true, muni: roma, n: 3},
		{reminded: true, muni: prato, n: 4},
		{reminded: true, resumed: true, muni: prato, n: 6},
		{reminded: true, muni: roma, n: 1},
		{muni: roma, n: 9},
	}
	i := 0
	for _, s := range seeds {
		for range s.n {
			i++
			at := day0.Add(time.Duration(i) * time.Hour)
			if s.completed {
				c := e.completed(t, fmt.Sprint("rf", i), fmt.Sprint("p-rf", i))
				c.MunicipalityID, c.ServiceID = s.muni, nil
				c.Reminded, c.Resumed = s.reminded, s.resumed
				c.Response.Started, c.Response.Completed = at.Add(-time.Hour), at
				if err := e.db.SaveResponse(ctx, c); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := e.db.SaveAbandoned(ctx, pgstore.Abandoned{ID: fmt.Sprint("rfa", i), Form: "immigrants", FormVersion: 2,
				MunicipalityID: s.muni, Language: "it", LastQuestion: "needs", StartedAt: at.Add(-time.Hour), AbandonedAt: at,
				Reminded: s.reminded, Resumed: s.resumed}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name                                          string
		scope                                         pgstore.ResultsScope
		completed, abandoned, reminded, resumed, both int64
	}{
		{"all", pgstore.ResultsScope{Form: "immigrants"}, 17, 20, 21, 14, 8},
		{"prato", pgstore.ResultsScope{Form: "immigrants", Municipality: prato}, 14, 10, 17, 11, 5},
		{"roma", pgstore.ResultsScope{Form: "immigrants", Municipality: roma}, 3, 10, 4, 3, 3},
		{"other form", pgstore.ResultsScope{Form: "nothing"}, 0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tot, err := e.db.ResultsTotals(ctx, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{tot.Completed, tot.Abandoned, tot.Reminded, tot.Resumed, tot.ResumedCompleted}
			want := []int64{tc.completed, tc.abandoned, tc.reminded, tc.resumed, tc.both}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("completed, abandoned, reminded, resumed, resumed+completed = %v, want %v", got, want)
			}
			keys := func(where string) int64 {
				var k int64
				args := []any{tc.scope.Form}
				mw := ""
				if tc.scope.Municipality != 0 {
					mw = " AND municipality_id = $2"
					args = append(args, tc.scope.Municipality)
				}
				q := "SELECT coalesce(sum(rkey), 0)::bigint FROM (SELECT rkey, reminded, resumed, true AS c FROM responses WHERE form = $1" + mw +
					" UNION ALL SELECT rkey, reminded, resumed, false FROM abandoned WHERE form = $1" + mw + ") x WHERE " + where
				if err := e.pool.QueryRow(ctx, q, args...).Scan(&k); err != nil {
					t.Fatal(err)
				}
				return k
			}
			if k := keys("reminded"); tot.RemindedKey != k {
				t.Errorf("reminded key sum %d, want %d", tot.RemindedKey, k)
			}
			if k := keys("reminded AND resumed"); tot.ResumedKey != k {
				t.Errorf("resumed key sum %d, want %d", tot.ResumedKey, k)
			}
			if k := keys("reminded AND resumed AND c"); tot.ResumedCompletedKey != k {
				t.Errorf("resumed+completed key sum %d, want %d", tot.ResumedCompletedKey, k)
			}
		})
	}
}
