package pgstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// varied returns n responses of the test questionnaire spread over the
// three municipalities, their services (or none), languages and the days
// around day0 (some just before and after midnight in Rome).
func (e *env) varied(t testing.TB, prefix string, n int, day0 time.Time) []pgstore.Completed {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	munis := []string{"058091", "015146", "100005"}
	services := []string{"anagrafe", "servizi_sociali", "corso_italiano"}
	langs := []string{"it", "ar", "en", "zh-Hans"}
	needs := []string{"language", "work", "housing", "documents", "health"}
	rome := pgstore.ResultsLocation()
	var out []pgstore.Completed
	for i := range n {
		c := e.completed(t, fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("p-%s-%d", prefix, i%7))
		m, s := e.municipality(t, munis[rng.IntN(3)], services[rng.IntN(3)])
		c.MunicipalityID, c.ServiceID = m, s
		if rng.IntN(5) == 0 {
			c.ServiceID = nil
		}
		c.Response.Language = langs[rng.IntN(len(langs))]
		// Around midnight in Rome on one of 10 days.
		d := day0.AddDate(0, 0, rng.IntN(10)).In(rome)
		at := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, rome).Add(time.Duration(rng.IntN(120)-60) * time.Minute)
		c.Response.Started, c.Response.Completed = at.Add(-time.Duration(3+rng.IntN(20))*time.Minute), at
		k := 1 + rng.IntN(3)
		picked := slices.Clone(needs)
		rng.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
		c.Response.Answers = map[string]string{"consent": "yes", "needs": strings.Join(picked[:k], " "),
			"country": []string{"cn", "ma", "ro"}[rng.IntN(3)], "age": fmt.Sprint(20 + rng.IntN(40)), "comment": "=1+1"}
		if rng.IntN(6) == 0 {
			delete(c.Response.Answers, "needs") // not asked
		}
		out = append(out, c)
	}
	return out
}

// checkRollup fails unless the rollup, caught up, equals a recount of the
// answers.
func (e *env) checkRollup(t testing.TB, when string) {
	t.Helper()
	if _, err := e.db.CatchUpRollups(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT * FROM results_rollup EXCEPT SELECT * FROM results_rollup_all()) x`,
		`SELECT count(*) FROM (SELECT * FROM results_rollup_all() EXCEPT SELECT * FROM results_rollup) x`,
	} {
		if n := e.count(t, q); n != 0 {
			t.Fatalf("%s: rollup and answers differ by %d rows (%s)", when, n, q)
		}
	}
}

func TestRollupFollowsWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rs := e.varied(t, "r", 60, day0)
	for _, c := range rs[:30] {
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	e.checkRollup(t, "after SaveResponse")
	// A replay changes nothing.
	if err := e.db.SaveResponse(ctx, rs[0]); err != nil {
		t.Fatal(err)
	}
	e.checkRollup(t, "after a replay")
	if _, err := e.db.CopyResponses(ctx, rs[30:45], true); err != nil {
		t.Fatal(err)
	}
	e.checkRollup(t, "after CopyResponses")
	if _, err := e.db.CopyResponses(ctx, rs[45:], false); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM (SELECT * FROM results_rollup_all() EXCEPT SELECT * FROM results_rollup) x`); n == 0 {
		t.Fatal("CopyResponses without rollup updated the rollup")
	}
	if err := e.db.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	e.checkRollup(t, "after RebuildRollups")
	if n, err := e.db.Erase(ctx, "p-r-3"); err != nil || n == 0 {
		t.Fatalf("erase: %d %v", n, err)
	}
	e.checkRollup(t, "after Erase")
	if _, err := e.pool.Exec(ctx, `UPDATE responses SET municipality_id = (SELECT id FROM municipalities WHERE istat_code = '100005'),
		service_id = NULL, language = 'uk', completed_at = completed_at + interval '3 days' WHERE id IN ('r-001', 'r-002', 'r-040')`); err != nil {
		t.Fatal(err)
	}
	e.checkRollup(t, "after a change of scope")
	if _, err := e.pool.Exec(ctx, `DELETE FROM responses`); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM results_rollup`); n != 0 {
		t.Fatalf("%d rollup rows left with no responses", n)
	}
}

// TestRollupPendingNotOnHotPath: SaveResponse writes no rollup row (the
// job does); a pending response that is erased or changes scope before the
// job runs is counted as it is when the job runs, or not at all; a job
// that runs twice adds nothing twice; another replica's job skips while
// one holds the lock.
func TestRollupPendingNotOnHotPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := e.varied(t, "h", 20, time.Date(2025, 4, 1, 12, 0, 0, 0, time.UTC))
	for _, c := range rs {
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM results_rollup`); n != 0 {
		t.Fatalf("SaveResponse wrote %d rollup rows", n)
	}
	if n := e.count(t, `SELECT count(*) FROM results_rollup_pending`); n != 20 {
		t.Fatalf("%d pending, want 20", n)
	}
	// Pending and erased; pending and moved.
	if n, err := e.db.Erase(ctx, "p-h-3"); err != nil || n == 0 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE responses SET language = 'uk', completed_at = completed_at + interval '2 days' WHERE id = 'h-005'`); err != nil {
		t.Fatal(err)
	}
	// A job that cannot take the lock does nothing (another replica runs it).
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgstore.RollupLockID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.db.CatchUpRollups(ctx, false); err != nil || n != 0 {
		t.Fatalf("catch-up under another's lock: %d, %v", n, err)
	}
	tx.Rollback(ctx)
	left := e.count(t, `SELECT count(*) FROM results_rollup_pending`)
	if stored := e.count(t, `SELECT count(*) FROM responses WHERE id LIKE 'h-%'`); left != stored || left >= 20 {
		t.Fatalf("%d pending for %d stored responses after an erasure", left, stored)
	}
	n, err := e.db.CatchUpRollups(ctx, false)
	if err != nil || n != left {
		t.Fatalf("catch-up counted %d, %v; want the %d left", n, err, left)
	}
	e.checkRollup(t, "after the job")
	if n, _ := e.db.CatchUpRollups(ctx, false); n != 0 {
		t.Fatalf("second run counted %d", n)
	}
	// Counted, then erased and moved: subtracted exactly.
	if n, err := e.db.Erase(ctx, "p-h-6"); err != nil || n == 0 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE responses SET service_id = NULL WHERE id = 'h-008' AND service_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	e.checkRollup(t, "after erasure and a change of counted responses")
}

func TestRollupConcurrentWriters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := e.varied(t, "c", 80, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	errs := make(chan error, len(rs))
	for _, c := range rs {
		go func() { errs <- e.db.SaveResponse(ctx, c) }()
	}
	for range rs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.checkRollup(t, "after concurrent saves")
}

// scopeSQL is an independent rendering of a scope as SQL over responses r,
// for checking the package's counts.
func scopeSQL(s pgstore.ResultsScope, timeCol string) (string, []any) {
	conds := []string{"r.form = $1"}
	args := []any{s.Form}
	if s.Municipality != 0 {
		args = append(args, s.Municipality)
		conds = append(conds, fmt.Sprintf("r.municipality_id = $%d", len(args)))
	}
	if s.Service != "" {
		args = append(args, s.Service)
		conds = append(conds, fmt.Sprintf("r.service_id IN (SELECT id FROM services WHERE code = $%d)", len(args)))
	}
	if s.Language != "" {
		args = append(args, s.Language)
		conds = append(conds, fmt.Sprintf("r.language = $%d", len(args)))
	}
	if !s.Since.IsZero() {
		args = append(args, s.Since)
		conds = append(conds, fmt.Sprintf("r.%s >= $%d", timeCol, len(args)))
	}
	if !s.Until.IsZero() {
		args = append(args, s.Until)
		conds = append(conds, fmt.Sprintf("r.%s < $%d", timeCol, len(args)))
	}
	return strings.Join(conds, " AND "), args
}

func TestResultsCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rs := e.varied(t, "k", 150, day0)
	if _, err := e.db.CopyResponses(ctx, rs, true); err != nil {
		t.Fatal(err)
	}
	roma, _ := e.municipality(t, "058091", "anagrafe")
	prato, _ := e.municipality(t, "100005", "anagrafe")
	for i := range 25 {
		m := []int64{roma, prato}[i%2]
		q := []string{"consent", "needs", "age"}[i%3]
		at := day0.AddDate(0, 0, i%10)
		if err := e.db.SaveAbandoned(ctx, pgstore.Abandoned{ID: fmt.Sprint("a", i), Form: "immigrants", FormVersion: 2,
			MunicipalityID: m, Language: []string{"it", "ar"}[i%2], LastQuestion: q, StartedAt: at.Add(-time.Hour), AbandonedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	rome := pgstore.ResultsLocation()
	mid := time.Date(2025, 3, 5, 0, 0, 0, 0, rome)
	end := time.Date(2025, 3, 8, 0, 0, 0, 0, rome)
	scopes := []pgstore.ResultsScope{
		{Form: "immigrants", Until: end},
		{Form: "immigrants", Municipality: prato, Since: mid, Until: end},
		{Form: "immigrants", Language: "ar", Service: "anagrafe", Since: mid, Until: end}, // counted from the answers
		{Form: "immigrants"},
		{Form: "immigrants", Municipality: roma},
		{Form: "immigrants", Since: mid},
		{Form: "immigrants", Municipality: prato, Since: mid},
		{Form: "immigrants", Service: "anagrafe"},
		{Form: "immigrants", Service: "anagrafe", Municipality: roma, Since: mid},
		{Form: "immigrants", Language: "ar"},
		{Form: "immigrants", Language: "ar", Municipality: prato, Since: mid},
		{Form: "immigrants", Language: "ar", Service: "corso_italiano"}, // counted from the answers
		{Form: "immigrants", Language: "zh-Hans", Service: "anagrafe", Municipality: roma, Since: mid},
		{Form: "nothing"},
	}
	for _, s := range scopes {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			tot, err := e.db.ResultsTotals(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			w, args := scopeSQL(s, "completed_at")
			if want := e.count(t, "SELECT count(*) FROM responses r WHERE "+w, args...); tot.Completed != int64(want) {
				t.Errorf("completed %d, want %d", tot.Completed, want)
			}
			if want := e.count(t, "SELECT coalesce(sum(r.rkey), 0) FROM responses r WHERE "+w, args...); tot.CompletedKey != int64(want) {
				t.Errorf("completed key sum %d, want %d", tot.CompletedKey, want)
			}
			rows, _ := e.pool.Query(ctx, "SELECT r.language, count(*) FROM responses r WHERE "+w+" GROUP BY 1", args...)
			langs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
				L string
				N int64
			}])
			if err != nil {
				t.Fatal(err)
			}
			if len(langs) != len(tot.Languages) {
				t.Errorf("languages %v, want %v", tot.Languages, langs)
			}
			for _, l := range langs {
				if tot.Languages[l.L] != l.N {
					t.Errorf("language %s: %d, want %d", l.L, tot.Languages[l.L], l.N)
				}
			}
			// The median, from the durations themselves.
			rows, _ = e.pool.Query(ctx, "SELECT r.duration_s FROM responses r WHERE "+w+" ORDER BY 1", args...)
			ds, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				t.Fatal(err)
			}
			var median float64
			if n := len(ds); n > 0 {
				median = float64(ds[n/2])
				if n%2 == 0 {
					median = float64(ds[n/2-1]+ds[n/2]) / 2
				}
			}
			if tot.MedianSeconds != median {
				t.Errorf("median %v, want %v", tot.MedianSeconds, median)
			}
			aw, aargs := scopeSQL(s, "abandoned_at")
			aw = strings.ReplaceAll(aw, "r.", "a.")
			if want := e.count(t, "SELECT count(*) FROM abandoned a WHERE "+aw, aargs...); tot.Abandoned != int64(want) {
				t.Errorf("abandoned %d, want %d", tot.Abandoned, want)
			}
			if want := e.count(t, "SELECT coalesce(sum(a.rkey), 0) FROM abandoned a WHERE "+aw, aargs...); tot.AbandonedKey != int64(want) {
				t.Errorf("abandoned key sum %d, want %d", tot.AbandonedKey, want)
			}
			for q, n := range tot.Funnel {
				if want := e.count(t, "SELECT count(*) FROM abandoned a WHERE "+aw+fmt.Sprintf(" AND a.last_question = $%d", len(aargs)+1),
					append(aargs, q)...); n != int64(want) {
					t.Errorf("funnel %s: %d, want %d", q, n, want)
				}
			}

			// The release days (from the rollup's interview counts since
			// 00015, from the responses for a service and a language).
			days, err := e.db.ResultsDays(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			ds0 := s
			ds0.Since = time.Time{}
			dw, dargs := scopeSQL(ds0, "completed_at")
			rows, _ = e.pool.Query(ctx, "SELECT (r.completed_at AT TIME ZONE 'Europe/Rome')::date, count(*) FROM responses r WHERE "+dw+" GROUP BY 1 ORDER BY 1", dargs...)
			wantDays, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgstore.DayCount])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(days, wantDays, func(a, b pgstore.DayCount) bool { return a.Day.Equal(b.Day) && a.N == b.N }) {
				t.Errorf("days %v, want %v", days, wantDays)
			}

			for _, per := range []bool{false, true} {
				cs, err := e.db.ResultsChoices(ctx, s, []string{"needs", "country"}, per)
				if err != nil {
					t.Fatal(err)
				}
				mcol := "0::bigint"
				if per {
					mcol = "r.municipality_id"
				}
				want := map[pgstore.ChoiceCount]bool{}
				rows, _ := e.pool.Query(ctx, "SELECT "+mcol+", c.question, c.choice, count(*), sum(r.rkey)::bigint FROM answer_choices c JOIN responses r ON r.id = c.response_id WHERE "+w+
					" AND c.question IN ('needs', 'country') GROUP BY 1, 2, 3 UNION ALL SELECT "+mcol+", a.question, '', count(*), sum(r.rkey)::bigint FROM answers a JOIN responses r ON r.id = a.response_id WHERE "+w+
					" AND a.question IN ('needs', 'country') GROUP BY 1, 2", args...)
				wantRows, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgstore.ChoiceCount])
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range wantRows {
					want[r] = true
				}
				if len(cs) != len(want) {
					t.Errorf("per municipality %v: %d counts, want %d:\n%v\n%v", per, len(cs), len(want), cs, wantRows)
				}
				for _, c := range cs {
					if !want[c] {
						t.Errorf("per municipality %v: unexpected %+v", per, c)
					}
				}
			}
		})
	}
	if _, err := e.db.ResultsTotals(ctx, pgstore.ResultsScope{Form: "immigrants", Since: mid.Add(time.Hour)}); !errors.Is(err, pgstore.ErrInvalid) {
		t.Errorf("a since that is not a midnight in Rome: %v, want ErrInvalid", err)
	}

	bm, err := e.db.ResultsByMunicipality(ctx, pgstore.ResultsScope{Form: "immigrants", Since: mid})
	if err != nil {
		t.Fatal(err)
	}
	if len(bm) != 3 {
		t.Fatalf("by municipality: %+v", bm)
	}
	for _, m := range bm {
		s := pgstore.ResultsScope{Form: "immigrants", Municipality: m.ID, Since: mid}
		tot, err := e.db.ResultsTotals(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if m.Completed != tot.Completed || m.Abandoned != tot.Abandoned || m.MedianSeconds != tot.MedianSeconds {
			t.Errorf("%s: %+v, totals %+v", m.Name, m, tot)
		}
	}
}

func TestExportResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := e.varied(t, "x", 40, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	for _, c := range rs {
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	byID := map[string]pgstore.Completed{}
	for _, c := range rs {
		byID[c.ID] = c
	}
	s := pgstore.ResultsScope{Form: "immigrants", Since: time.Date(2025, 3, 4, 7, 30, 0, 0, time.UTC)}
	var last pgstore.ExportRow
	n, err := e.db.ExportResponses(ctx, s, func(r *pgstore.ExportRow) error {
		c, ok := byID[r.ID]
		if !ok {
			t.Fatalf("unknown row %q", r.ID)
		}
		if r.Completed.Before(s.Since) {
			t.Errorf("%s completed %s, before %s", r.ID, r.Completed, s.Since)
		}
		if !maps2Equal(r.Answers, c.Response.Answers) || r.Language != c.Response.Language || r.FormVersion != 2 {
			t.Errorf("%s: %+v, stored %+v", r.ID, r, c.Response)
		}
		if r.DurationS != int(c.Response.Duration().Seconds()) || r.ISTAT == "" || r.Municipality == "" {
			t.Errorf("%s: metadata %+v", r.ID, r)
		}
		if last.ID != "" && r.ISTAT == last.ISTAT && r.Completed.Before(last.Completed) {
			t.Errorf("rows not in completion order: %s after %s", r.Completed, last.Completed)
		}
		last = *r
		last.Answers = nil
		return nil
	})
	w, args := scopeSQL(s, "completed_at")
	if want := e.count(t, "SELECT count(*) FROM responses r WHERE "+w, args...); err != nil || n != want || n == 0 {
		t.Fatalf("exported %d rows (%v), want %d", n, err, want)
	}
	if c, err := e.db.CountResponses(ctx, s); err != nil || c != n {
		t.Fatalf("CountResponses = %d %v, want %d", c, err, n)
	}
	stop := errors.New("stop")
	calls := 0
	if _, err := e.db.ExportResponses(ctx, s, func(*pgstore.ExportRow) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("an error from fn: %v after %d calls", err, calls)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestReportingViews: the BI views are default-deny (a role sees a
// municipality only when reporting.access names it: a reader of
// needsbot_reader, a role granted SELECT directly, a superuser alike);
// readers get aggregated counts only, perturbed exactly as reporting.protect
// says, and cannot read the row-level views; the analyst role gets rows
// without response ids, with days and macro-areas, without free text.
func TestReportingViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := e.varied(t, "v", 60, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	for _, c := range rs {
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	qs := []pgstore.ReportingQuestion{{Form: "immigrants", Question: "needs", Position: 3, Type: "select_multiple", List: "aree"},
		{Form: "immigrants", Question: "country", Position: 4, Type: "select_one", List: "countries"}}
	ls := []pgstore.ReportingLabel{{Form: "immigrants", Question: "needs", Choice: "work", Lang: "it", Label: "Lavoro"},
		{Form: "immigrants", Question: "needs", Choice: "work", Lang: "en", Label: "Work"}}
	gs := []pgstore.ReportingGroup{{Form: "immigrants", Question: "country", Choice: "cn", Group: "asia"},
		{Form: "immigrants", Question: "country", Choice: "ma", Group: "africa_nord"},
		{Form: "immigrants", Question: "country", Choice: "ro", Group: "europa_ue"}}
	for range 2 { // again: replaced, not duplicated
		if err := e.db.SyncReporting(ctx, qs, ls, gs); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM reporting.labels"); n != 2 {
		t.Fatalf("%d labels", n)
	}
	if n := e.count(t, "SELECT count(*) FROM reporting.choice_groups"); n != 3 {
		t.Fatalf("%d choice groups", n)
	}
	newRole := func(in string) string {
		role := "needsbot_test_bi_" + storagetest.Random()
		if _, err := e.pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN "+in); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			e.pool.Exec(ctx, "DROP OWNED BY "+role)
			e.pool.Exec(ctx, "DROP ROLE "+role)
		})
		return role
	}
	reader, analyst, direct := newRole("IN ROLE needsbot_reader"), newRole("IN ROLE needsbot_analyst"), newRole("")
	// A BI role granted SELECT directly, not through needsbot_reader: it
	// saw every municipality on f4ec990.
	if _, err := e.pool.Exec(ctx, "GRANT USAGE ON SCHEMA reporting TO "+direct+"; GRANT SELECT ON reporting.choice_counts, reporting.interview_counts, reporting.parameters TO "+direct); err != nil {
		t.Fatal(err)
	}
	prato, _ := e.municipality(t, "100005", "anagrafe")
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	as := func(role, q string, args ...any) (int, error) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+role); err != nil {
			return 0, err
		}
		var n int
		err = tx.QueryRow(ctx, q, args...).Scan(&n)
		return n, err
	}
	for _, role := range []string{reader, direct} {
		for _, v := range []string{"reporting.choice_counts", "reporting.interview_counts"} {
			if n, err := as(role, "SELECT count(*) FROM "+v); err != nil || n != 0 {
				t.Errorf("before any grant %s sees %d rows of %s (%v)", role, n, v, err)
			}
		}
	}
	if n := e.count(t, "SELECT count(*) FROM reporting.interview_counts"); n != 0 {
		t.Errorf("a superuser named nowhere in reporting.access sees %d rows", n)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_responses"); err != nil || n != 0 {
		t.Errorf("before any grant the analyst sees %d responses (%v)", n, err)
	}
	for _, role := range []string{reader, analyst} {
		if _, err := e.pool.Exec(ctx, "INSERT INTO reporting.access (role_name, municipality_id) VALUES ($1, $2)", role, prato); err != nil {
			t.Fatal(err)
		}
	}

	// The BI views read the rollup as the job left it (every minute; they
	// show complete months only).
	if _, err := e.db.CatchUpRollups(ctx, false); err != nil {
		t.Fatal(err)
	}
	// The reader: aggregates of Prato only, perturbed as reporting.protect says.
	want := e.count(t, `SELECT count(*) FROM (SELECT 1 FROM answer_choices c JOIN responses r ON r.id = c.response_id
		WHERE r.municipality_id = $1 GROUP BY date_trunc('month', r.completed_at AT TIME ZONE 'Europe/Rome'), c.question, c.choice) x`, prato)
	if n, err := as(reader, "SELECT count(*) FROM reporting.choice_counts WHERE breakdown = 'all'"); err != nil || n != want || n == 0 {
		t.Fatalf("the reader sees %d choice counts (%v), want Prato's %d", n, err, want)
	}
	if n, err := as(reader, "SELECT count(*) FROM reporting.choice_counts WHERE municipality_id <> $1", prato); err != nil || n != 0 {
		t.Fatalf("the reader sees %d counts of other municipalities (%v)", n, err)
	}
	if n := e.count(t, "SELECT count(*) FROM reporting.choice_counts"); n != 0 {
		t.Errorf("a superuser named nowhere in reporting.access sees %d choice counts", n)
	}
	var same, cells, exactSmall int
	if _, err := e.pool.Exec(ctx, "INSERT INTO reporting.access (role_name, municipality_id) VALUES (current_user, $1)", prato); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE v.responses IS NOT DISTINCT FROM reporting.protect(x.n, x.k)),
			count(*), count(*) FILTER (WHERE v.responses = x.n AND x.n < 5)
		FROM reporting.choice_counts v JOIN (
			SELECT date_trunc('month', r.completed_at AT TIME ZONE 'Europe/Rome')::date AS month, c.question, c.choice,
			       count(*) AS n, sum(r.rkey)::bigint AS k
			FROM answer_choices c JOIN responses r ON r.id = c.response_id WHERE r.municipality_id = $1 GROUP BY 1, 2, 3) x
			USING (month, question, choice)
		WHERE v.breakdown = 'all'`, prato).Scan(&same, &cells, &exactSmall); err != nil {
		t.Fatal(err)
	}
	if cells == 0 || same != cells || exactSmall != 0 {
		t.Errorf("%d of %d choice counts are the protected ones; %d small counts shown as they are", same, cells, exactSmall)
	}
	if n, err := as(reader, "SELECT count(*) FROM reporting.choice_counts WHERE responses % 5 <> 0 OR responses < 5 OR answered % 5 <> 0"); err != nil || n != 0 {
		t.Errorf("%d counts not perturbed (%v)", n, err)
	}
	if n, err := as(reader, "SELECT count(*) FROM reporting.interview_counts WHERE breakdown = 'all' AND completed IS NOT NULL"); err != nil || n == 0 {
		t.Errorf("interview counts: %d (%v)", n, err)
	}
	if n, err := as(reader, "SELECT coalesce(sum(responses), 0)::int FROM reporting.area_counts WHERE area = 'work'"); err != nil || n%5 != 0 {
		t.Errorf("area counts: %d (%v)", n, err)
	}
	for _, q := range []string{"SELECT count(*) FROM responses", "SELECT count(*) FROM answers", "SELECT count(*) FROM results_rollup",
		"SELECT count(*) FROM reporting.access", "SELECT count(*) FROM reporting.analyst_responses",
		"SELECT count(*) FROM reporting.analyst_answers", "SELECT count(*) FROM reporting.analyst_answer_choices",
		"SELECT count(*) FROM reporting.analyst_abandoned"} {
		if _, err := as(reader, q); err == nil {
			t.Errorf("the reader can run %s", q)
		}
	}

	// The analyst: rows, de-identified.
	wantR := e.count(t, "SELECT count(*) FROM responses WHERE municipality_id = $1", prato)
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_responses"); err != nil || n != wantR || n == 0 {
		t.Fatalf("the analyst sees %d responses (%v), want Prato's %d", n, err, wantR)
	}
	if n := e.count(t, "SELECT count(*) FROM reporting.analyst_responses a JOIN responses r ON r.id = a.response_ref::text"); n != 0 {
		t.Errorf("%d response refs are response ids", n)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_answers WHERE question = 'comment'"); err != nil || n != 0 {
		t.Errorf("free text in analyst_answers: %d (%v)", n, err)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_answers WHERE question = 'country' AND value NOT IN ('asia', 'africa_nord', 'europa_ue')"); err != nil || n != 0 {
		t.Errorf("countries not as macro-areas: %d (%v)", n, err)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_answer_choices WHERE question = 'country' AND choice IN ('cn', 'ma', 'ro')"); err != nil || n != 0 {
		t.Errorf("countries in analyst_answer_choices: %d (%v)", n, err)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_answers WHERE question = 'age'"); err != nil || n == 0 {
		t.Errorf("numbers missing from analyst_answers: %d (%v)", n, err)
	}
	if n, err := as(analyst, "SELECT count(*) FROM reporting.analyst_answer_choices WHERE label_it = 'Lavoro'"); err != nil || n == 0 {
		t.Errorf("labelled choices: %d %v", n, err)
	}
	for _, q := range []string{"SELECT count(*) FROM responses", "SELECT count(*) FROM reporting.access"} {
		if _, err := as(analyst, q); err == nil {
			t.Errorf("the analyst can run %s", q)
		}
	}
	rows, _ := e.pool.Query(ctx, `SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns
		WHERE table_schema = 'reporting' AND table_name LIKE 'analyst%'`)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(cols) == 0 {
		t.Fatal(cols, err)
	}
	for _, c := range cols {
		for _, bad := range []string{"response_id", "respondent", "pseudonym", "invite", "operator", "timestamp", "rkey", "started", "_at"} {
			if strings.Contains(c, bad) {
				t.Errorf("analyst view column %s", c)
			}
		}
	}
}

// The maintenance loop's rollup tick adds a batch at its first run, then
// only when enough responses wait (or minutes passed): a few pending ones
// stay pending, and /results still reads exact counts (it catches up).
func TestRollupTickBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	save := func(prefix string, n int) {
		t.Helper()
		cs := make([]pgstore.Completed, n)
		for i := range cs {
			cs[i] = e.completed(t, fmt.Sprintf("%s-%03d", prefix, i), "")
		}
		if _, err := e.db.CopyResponses(ctx, cs, true); err != nil {
			t.Fatal(err)
		}
	}
	save("first", 3)
	if n, err := e.db.RollupTick(ctx); err != nil || n != 3 {
		t.Fatalf("first tick counted %d (%v), want 3", n, err)
	}
	save("few", 5)
	if n, err := e.db.RollupTick(ctx); err != nil || n != 0 {
		t.Fatalf("tick with 5 pending counted %d (%v), want 0", n, err)
	}
	// Five minutes later the few are added.
	later := time.Now().Add(6 * time.Minute)
	e.db.Now = func() time.Time { return later }
	if n, err := e.db.RollupTick(ctx); err != nil || n != 5 {
		t.Fatalf("tick after 6 minutes counted %d (%v), want the 5 pending", n, err)
	}
	save("more", 3)
	if n, err := e.db.RollupTick(ctx); err != nil || n != 0 {
		t.Fatalf("tick right after counted %d (%v), want 0", n, err)
	}
	save("many", 250)
	if n, err := e.db.RollupTick(ctx); err != nil || n != 253 {
		t.Fatalf("tick with 253 pending counted %d (%v), want 253", n, err)
	}
	save("tail", 2)
	cs, err := e.db.ResultsChoices(ctx, pgstore.ResultsScope{Form: "immigrants"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if left := e.count(t, "SELECT count(*) FROM results_rollup_pending"); left != 0 {
		t.Fatalf("%d pending after a /results read", left)
	}
	e.checkRollup(t, "after the ticks and a read")
	if len(cs) == 0 {
		t.Fatal("nothing counted")
	}
}
