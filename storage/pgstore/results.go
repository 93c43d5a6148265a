package pgstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	// Results count by calendar day in Italian time: the zone must exist
	// even on a machine without a zoneinfo database.
	_ "time/tzdata"
)

// ResultsZone is the time zone whose calendar days results count by (the
// rollup's days, the start of "the last 7 days").
const ResultsZone = "Europe/Rome"

// ResultsLocation returns the location of ResultsZone.
func ResultsLocation() *time.Location {
	loc, err := time.LoadLocation(ResultsZone)
	if err != nil {
		// time/tzdata is linked in: this cannot happen.
		panic(fmt.Sprintf("pgstore: %s: %v", ResultsZone, err))
	}
	return loc
}

// ResultsScope selects the responses (and abandoned interviews) that the
// results count and exports contain.
type ResultsScope struct {
	Form         string // questionnaire id (every version)
	Municipality int64  // municipality id; 0 for every municipality
	Service      string // service code ("" = any); across municipalities when Municipality is 0
	Language     string // interview language ("" = any)
	// Since, when not zero, keeps what was completed (or abandoned) at or
	// after it. For counts it must be a midnight in ResultsZone, so that
	// the daily rollup and the responses agree.
	Since time.Time
	// Until, when not zero, keeps what was completed (or abandoned)
	// before it: results publish whole days only, up to the end of
	// yesterday (docs/disclosure-control.md). For counts it must be a
	// midnight in ResultsZone too.
	Until time.Time
}

func (s ResultsScope) check(aligned bool) error {
	if s.Form == "" {
		return fmt.Errorf("%w: no questionnaire", ErrInvalid)
	}
	if s.Municipality < 0 {
		return fmt.Errorf("%w: municipality %d", ErrInvalid, s.Municipality)
	}
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"since", s.Since}, {"until", s.Until}} {
		if !aligned || b.t.IsZero() {
			continue
		}
		t := b.t.In(ResultsLocation())
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			return fmt.Errorf("%w: %s %s is not a midnight in %s", ErrInvalid, b.name, b.t, ResultsZone)
		}
	}
	return nil
}

// sinceDay is the calendar day Since falls on in ResultsZone.
func (s ResultsScope) sinceDay() time.Time { return calendarDay(s.Since) }

// untilDay is the calendar day Until falls on in ResultsZone.
func (s ResultsScope) untilDay() time.Time { return calendarDay(s.Until) }

func calendarDay(t time.Time) time.Time {
	t = t.In(ResultsLocation())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// where builds the WHERE clause of a scope over a table aliased alias
// whose time column is timeCol; only the conditions in use appear, so
// that every combination gets its own, good, plan.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

func scopeWhere(s ResultsScope, alias, timeCol string) *where {
	w := &where{}
	w.add(alias+".form = $?", s.Form)
	if s.Municipality != 0 {
		w.add(alias+".municipality_id = $?", s.Municipality)
	}
	if s.Service != "" {
		w.add(alias+".service_id IN (SELECT id FROM services WHERE code = $?)", s.Service)
	}
	if s.Language != "" {
		w.add(alias+".language = $?", s.Language)
	}
	if !s.Since.IsZero() {
		w.add(alias+"."+timeCol+" >= $?", s.Since)
	}
	if !s.Until.IsZero() {
		w.add(alias+"."+timeCol+" < $?", s.Until)
	}
	return w
}

// Totals are the response-level counts of a scope. Every count comes with
// the sum of the record keys (rkey) of the rows it counts, for the
// cell-key perturbation (results.Protect).
type Totals struct {
	Completed    int64
	CompletedKey int64
	// Languages counts completed interviews by the language they were
	// completed in; LanguageKeys sums their record keys.
	Languages    map[string]int64
	LanguageKeys map[string]int64
	// MedianSeconds is the median duration of the completed interviews
	// (the mean of the two middle ones for an even count); 0 when none.
	MedianSeconds float64
	Abandoned     int64
	AbandonedKey  int64
	// Funnel counts abandoned interviews by the last question reached.
	Funnel     map[string]int64
	FunnelKeys map[string]int64
	// The reminder funnel (completed and abandoned interviews together):
	// Reminded counts those whose reminder was sent, Resumed those whose
	// respondent came back after it, ResumedCompleted those of them that
	// were completed; each with the sum of its record keys.
	Reminded, RemindedKey                 int64
	Resumed, ResumedKey                   int64
	ResumedCompleted, ResumedCompletedKey int64
}

// ResultsTotals counts a scope's completed interviews (by language, with
// their median duration) and abandoned ones (by last question), in one
// round trip.
func (d *DB) ResultsTotals(ctx context.Context, s ResultsScope) (Totals, error) {
	if err := s.check(true); err != nil {
		return Totals{}, fmt.Errorf("pgstore: results totals: %w", err)
	}
	t := Totals{Languages: map[string]int64{}, LanguageKeys: map[string]int64{}, Funnel: map[string]int64{},
		FunnelKeys: map[string]int64{}}
	rw := scopeWhere(s, "r", "completed_at")
	aw := scopeWhere(s, "a", "abandoned_at")
	b := &pgx.Batch{}
	// One scan gives the languages and the median: counts per language
	// and duration (a few thousand rows), the median computed from that
	// histogram. Hashing is several times faster than the sort that
	// percentile_cont needs.
	b.Queue("SELECT r.language, r.duration_s, count(*), sum(r.rkey)::bigint FROM responses r WHERE "+rw.sql()+" GROUP BY 1, 2", rw.args...)
	b.Queue("SELECT a.last_question, count(*), sum(a.rkey)::bigint FROM abandoned a WHERE "+aw.sql()+" GROUP BY 1", aw.args...)
	// The reminder funnel: only interviews that were reminded.
	b.Queue("SELECT true, r.resumed, count(*), sum(r.rkey)::bigint FROM responses r WHERE r.reminded AND "+rw.sql()+" GROUP BY 2", rw.args...)
	b.Queue("SELECT false, a.resumed, count(*), sum(a.rkey)::bigint FROM abandoned a WHERE a.reminded AND "+aw.sql()+" GROUP BY 2", aw.args...)
	br := d.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return Totals{}, classify("results totals", err)
	}
	var h histogram
	var lang string
	var dur, n, k int64
	if _, err := pgx.ForEachRow(rows, []any{&lang, &dur, &n, &k}, func() error {
		t.Languages[lang] += n
		t.LanguageKeys[lang] += k
		h.add(dur, n)
		return nil
	}); err != nil {
		return Totals{}, classify("results totals", err)
	}
	t.MedianSeconds = h.median()
	if err := scanCounts(br, t.Funnel, t.FunnelKeys); err != nil {
		return Totals{}, classify("results totals", err)
	}
	for range 2 {
		rows, err := br.Query()
		if err != nil {
			return Totals{}, classify("results totals", err)
		}
		var completed, resumed bool
		if _, err := pgx.ForEachRow(rows, []any{&completed, &resumed, &n, &k}, func() error {
			t.Reminded += n
			t.RemindedKey += k
			if resumed {
				t.Resumed += n
				t.ResumedKey += k
				if completed {
					t.ResumedCompleted += n
					t.ResumedCompletedKey += k
				}
			}
			return nil
		}); err != nil {
			return Totals{}, classify("results totals", err)
		}
	}
	for l, n := range t.Languages {
		t.Completed += n
		t.CompletedKey += t.LanguageKeys[l]
	}
	for q, n := range t.Funnel {
		t.Abandoned += n
		t.AbandonedKey += t.FunnelKeys[q]
	}
	return t, nil
}

// DayCount is how many interviews of a scope completed on a calendar day
// (in ResultsZone; Day is that date at midnight UTC).
type DayCount struct {
	Day time.Time
	N   int64
}

// ResultsDays counts a scope's completed interviews per calendar day, in
// day order, over its whole history before Until (Since is ignored): what
// the release batches of results are cut from. The counts come from the
// rollup (caught up first), or from the responses for a service and a
// language together.
func (d *DB) ResultsDays(ctx context.Context, s ResultsScope) ([]DayCount, error) {
	s.Since = time.Time{}
	if err := s.check(true); err != nil {
		return nil, fmt.Errorf("pgstore: results days: %w", err)
	}
	var q string
	var args []any
	if s.Service != "" && s.Language != "" {
		// Not in the rollup: counted from the responses (a narrow scope).
		w := scopeWhere(s, "r", "completed_at")
		q, args = "SELECT (r.completed_at AT TIME ZONE '"+ResultsZone+"')::date, count(*) FROM responses r WHERE "+
			w.sql()+" GROUP BY 1 ORDER BY 1", w.args
	} else {
		// The rollup's interview counts (question and choice '',
		// migration 00015), caught up first as for ResultsChoices.
		if _, err := d.CatchUpRollups(ctx, true); err != nil {
			return nil, err
		}
		w := rollupWhere(s)
		w.conds = append(w.conds, "t.question = '' AND t.choice = ''")
		q, args = "SELECT t.day, sum(t.n)::bigint FROM results_rollup t WHERE "+w.sql()+" GROUP BY 1 ORDER BY 1", w.args
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, classify("results days", err)
	}
	var out []DayCount
	var c DayCount
	if _, err := pgx.ForEachRow(rows, []any{&c.Day, &c.N}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, classify("results days", err)
	}
	return out, nil
}

func scanCounts(br pgx.BatchResults, into, keys map[string]int64) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var c string
	var n, k int64
	_, err = pgx.ForEachRow(rows, []any{&c, &n, &k}, func() error {
		into[c] = n
		keys[c] = k
		return nil
	})
	return err
}

// ChoiceCount is how many responses chose Choice at Question; Choice ""
// counts the responses that answered Question at all. Municipality is set
// when counts are per municipality. Key is the sum of the record keys of
// the responses counted (for results.Protect).
type ChoiceCount struct {
	Municipality int64
	Question     string
	Choice       string
	N            int64
	Key          int64
}

// ResultsChoices counts the choices of the select questions named (every
// select question when none is named) over a scope, per municipality when
// perMunicipality is set. Counts come from the daily rollup, except when
// both a service and a language are chosen, which are counted from the
// answers themselves (a narrow scope). Results are sorted by municipality,
// question and choice.
func (d *DB) ResultsChoices(ctx context.Context, s ResultsScope, questions []string, perMunicipality bool) ([]ChoiceCount, error) {
	if err := s.check(true); err != nil {
		return nil, fmt.Errorf("pgstore: results choices: %w", err)
	}
	// The rollup counts what the job has added: add the tail first.
	if _, err := d.CatchUpRollups(ctx, true); err != nil {
		return nil, err
	}
	var q string
	var args []any
	narrow := false
	mcol := "0::bigint"
	if s.Service != "" && s.Language != "" {
		w := scopeWhere(s, "r", "completed_at")
		if perMunicipality {
			mcol = "r.municipality_id"
		}
		// The questions are filtered after the unnest (outer query).
		outer := &where{args: w.args}
		outer.conds = []string{"true"}
		if len(questions) > 0 {
			outer.add("x.question = ANY($?)", questions)
		}
		// Choice '' counts the answers, as the rollup does (one answer
		// per response and question).
		q = `SELECT x.m, x.question, x.choice, count(*), sum(x.rkey)::bigint
FROM (SELECT ` + mcol + ` AS m, r.rkey, unnest(r.choice_questions || r.answer_questions) AS question,
             unnest(r.choices || array_fill(''::text, ARRAY[cardinality(r.answer_questions)])) AS choice
      FROM responses r WHERE ` + w.sql() + `) x
WHERE ` + outer.sql() + ` GROUP BY 1, 2, 3`
		args = outer.args
		narrow = true
	} else {
		w := rollupWhere(s)
		if len(questions) > 0 {
			w.add("t.question = ANY($?)", questions)
		} else {
			w.conds = append(w.conds, "t.question <> ''") // not the interview counts
		}
		if perMunicipality {
			mcol = "t.municipality_id"
		}
		q = "SELECT " + mcol + ", t.question, t.choice, sum(t.n)::bigint, sum(t.k)::bigint FROM results_rollup t WHERE " + w.sql() + " GROUP BY 1, 2, 3"
		args = w.args
	}
	var out []ChoiceCount
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if narrow {
			// The planner, which cannot see how long the arrays are,
			// sorts a few hundred thousand (question, choice) rows to
			// group them into a few hundred: a hash is several times
			// faster (docs/performance.md).
			if _, err := tx.Exec(ctx, "SET LOCAL enable_sort = off"); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var c ChoiceCount
		_, err = pgx.ForEachRow(rows, []any{&c.Municipality, &c.Question, &c.Choice, &c.N, &c.Key}, func() error {
			out = append(out, c)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, classify("results choices", err)
	}
	slices.SortFunc(out, func(a, b ChoiceCount) int {
		if a.Municipality != b.Municipality {
			return int(a.Municipality - b.Municipality)
		}
		if c := strings.Compare(a.Question, b.Question); c != 0 {
			return c
		}
		return strings.Compare(a.Choice, b.Choice)
	})
	return out, nil
}

// MunicipalityTotals are one municipality's counts in a comparison.
type MunicipalityTotals struct {
	ID            int64
	ISTAT, Name   string
	Completed     int64
	Abandoned     int64
	MedianSeconds float64
	// The sums of the record keys of the completed and abandoned
	// interviews counted (for results.Protect).
	CompletedKey, AbandonedKey int64
}

// ResultsByMunicipality counts a scope per municipality (the scope's
// municipality, or every one that has completed or abandoned interviews
// in it), sorted by name.
func (d *DB) ResultsByMunicipality(ctx context.Context, s ResultsScope) ([]MunicipalityTotals, error) {
	if err := s.check(true); err != nil {
		return nil, fmt.Errorf("pgstore: results by municipality: %w", err)
	}
	rw := scopeWhere(s, "r", "completed_at")
	aw := scopeWhere(s, "a", "abandoned_at")
	// The abandoned query's placeholders follow the responses' ones.
	shifted := make([]string, len(aw.conds))
	for i, c := range aw.conds {
		shifted[i] = shiftPlaceholders(c, len(rw.args))
	}
	// Per municipality and duration (a histogram, as in ResultsTotals),
	// then the abandoned ones: the "d" column tells the rows apart.
	q := `
SELECT r.municipality_id, 'c', r.duration_s, count(*), sum(r.rkey)::bigint FROM responses r WHERE ` + rw.sql() + ` GROUP BY 1, 3
UNION ALL
SELECT a.municipality_id, 'a', 0, count(*), sum(a.rkey)::bigint FROM abandoned a WHERE ` + strings.Join(shifted, " AND ") + ` GROUP BY 1`
	rows, err := d.pool.Query(ctx, q, append(rw.args, aw.args...)...)
	if err != nil {
		return nil, classify("results by municipality", err)
	}
	type acc struct {
		completed, abandoned int64
		ckey, akey           int64
		h                    histogram
	}
	by := map[int64]*acc{}
	var id, dur, n, k int64
	var kind string
	_, err = pgx.ForEachRow(rows, []any{&id, &kind, &dur, &n, &k}, func() error {
		a := by[id]
		if a == nil {
			a = &acc{}
			by[id] = a
		}
		if kind == "c" {
			a.completed += n
			a.ckey += k
			a.h.add(dur, n)
		} else {
			a.abandoned += n
			a.akey += k
		}
		return nil
	})
	if err != nil {
		return nil, classify("results by municipality", err)
	}
	ms, err := d.Municipalities(ctx)
	if err != nil {
		return nil, err
	}
	var out []MunicipalityTotals
	for _, m := range ms { // by name
		if a := by[m.ID]; a != nil {
			out = append(out, MunicipalityTotals{ID: m.ID, ISTAT: m.ISTAT, Name: m.Name, Completed: a.completed,
				Abandoned: a.abandoned, MedianSeconds: a.h.median(), CompletedKey: a.ckey, AbandonedKey: a.akey})
		}
	}
	return out, nil
}

// histogram counts durations, for an exact median without a sort in the
// database.
type histogram struct {
	bins  map[int64]int64
	total int64
}

func (h *histogram) add(v, n int64) {
	if h.bins == nil {
		h.bins = map[int64]int64{}
	}
	h.bins[v] += n
	h.total += n
}

// median is the middle value (the mean of the two middle ones for an even
// count), as percentile_cont(0.5) computes it; 0 for none.
func (h *histogram) median() float64 {
	if h.total == 0 {
		return 0
	}
	vs := slices.Sorted(maps.Keys(h.bins))
	// The values at 0-based positions lo and hi of the sorted list.
	lo, hi := (h.total-1)/2, h.total/2
	var seen int64
	var a, b int64
	gotA := false
	for _, v := range vs {
		seen += h.bins[v]
		if !gotA && seen > lo {
			a, gotA = v, true
		}
		if seen > hi {
			b = v
			break
		}
	}
	return float64(a+b) / 2
}

// shiftPlaceholders renumbers $1, $2… in cond by adding by.
func shiftPlaceholders(cond string, by int) string {
	var b strings.Builder
	for i := 0; i < len(cond); i++ {
		if cond[i] != '$' {
			b.WriteByte(cond[i])
			continue
		}
		j := i + 1
		for j < len(cond) && cond[j] >= '0' && cond[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(cond[i+1 : j])
		b.WriteString("$" + strconv.Itoa(n+by))
		i = j - 1
	}
	return b.String()
}

// ResultsServices lists the services staff can filter results by: a
// municipality's, or for 0 one per code across municipalities (the one
// with the smallest id: a filter by service code spans municipalities), by
// code.
func (d *DB) ResultsServices(ctx context.Context, municipality int64) ([]Service, error) {
	q := "SELECT DISTINCT ON (code) id, municipality_id, code, name FROM services ORDER BY code, id"
	var args []any
	if municipality != 0 {
		q = "SELECT id, municipality_id, code, name FROM services WHERE municipality_id = $1 ORDER BY code, id"
		args = append(args, municipality)
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, classify("results services", err)
	}
	var out []Service
	var s Service
	_, err = pgx.ForEachRow(rows, []any{&s.ID, &s.MunicipalityID, &s.Code, &s.Name}, func() error {
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, classify("results services", err)
	}
	return out, nil
}

// rollupWhere selects the rows of results_rollup t that count scope s
// (not both a service and a language: the rollup has either).
func rollupWhere(s ResultsScope) *where {
	w := &where{}
	w.add("t.form = $?", s.Form)
	switch {
	case s.Service != "":
		// The municipality condition below keeps the service ids of
		// other municipalities out.
		w.add("t.dim = 's' AND t.dim_value IN (SELECT id::text FROM services WHERE code = $?)", s.Service)
	case s.Language != "":
		w.add("t.dim = 'l' AND t.dim_value = $?", s.Language)
	default:
		w.conds = append(w.conds, "t.dim = '-' AND t.dim_value = ''")
	}
	if s.Municipality != 0 {
		w.add("t.municipality_id = $?", s.Municipality)
	}
	if !s.Since.IsZero() {
		w.add("t.day >= $?::date", s.sinceDay())
	}
	if !s.Until.IsZero() {
		w.add("t.day < $?::date", s.untilDay())
	}
	return w
}

// RebuildRollups recomputes the results rollup from the stored answers
// (after a manual change of answer_choices, say). Readers see the old
// counts until it commits.
func (d *DB) RebuildRollups(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		// Writers wait: a response saved meanwhile is counted once.
		if _, err := tx.Exec(ctx, "LOCK TABLE responses IN SHARE MODE"); err != nil {
			return err
		}
		// Everything stored is counted below, pending responses too.
		if _, err := tx.Exec(ctx, "TRUNCATE results_rollup, results_rollup_pending"); err != nil {
			return err
		}
		// A month at a time (days in Rome time: months give disjoint
		// keys), so that each aggregate stays in memory.
		var first, last *time.Time
		if err := tx.QueryRow(ctx, "SELECT min(completed_at), max(completed_at) FROM responses").Scan(&first, &last); err != nil || first == nil {
			return err
		}
		loc := ResultsLocation()
		f := first.In(loc)
		for m := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, loc); !m.After(*last); m = m.AddDate(0, 1, 0) {
			if _, err := tx.Exec(ctx, "INSERT INTO results_rollup SELECT * FROM results_rollup_period($1, $2)", m, m.AddDate(0, 1, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return classify("rebuild rollups", err)
	}
	return nil
}

// rollupLockID is the advisory lock (per database) of the rollup job.
const rollupLockID = migrationLockID + 2

// rollupBatch is how many pending responses one statement of the rollup
// job counts.
const rollupBatch = 2000

// The rollup job's pace (RollupTick): it adds the pending responses when
// at least rollupMinPending wait, or when this process last added them
// rollupMaxWait ago. Each batch costs about the same whatever its size
// (the upsert of one day's ~200 rollup rows per questionnaire and
// municipality dominates), so a batch of 250 costs a fifth per interview
// of a batch of 50 (docs/performance.md). /results loses nothing: it
// catches up before reading (CatchUpRollups with wait); the BI views show
// complete months only.
const (
	rollupMinPending = 250
	rollupMaxWait    = 5 * time.Minute
)

// RollupTick is the maintenance loop's call of the rollup job (every
// minute): CatchUpRollups without waiting for another replica, when
// enough responses are pending or the last catch-up of this process is
// old enough (see rollupMinPending); otherwise it does nothing and
// returns 0.
func (d *DB) RollupTick(ctx context.Context) (int, error) {
	d.rollupMu.Lock()
	recent := !d.rollupLast.IsZero() && d.Now().Sub(d.rollupLast) < rollupMaxWait
	d.rollupMu.Unlock()
	if recent {
		var n int
		if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM results_rollup_pending LIMIT $1) x", rollupMinPending).Scan(&n); err != nil {
			return 0, classify("rollup tick", err)
		}
		if n < rollupMinPending {
			return 0, nil
		}
	}
	n, err := d.CatchUpRollups(ctx, false)
	if err == nil {
		d.rollupMu.Lock()
		d.rollupLast = d.Now()
		d.rollupMu.Unlock()
	}
	return n, err
}

// CatchUpRollups adds the counts of the completed responses saved since
// the last run (results_rollup_pending) to the results rollup, a batch per
// transaction, and returns how many it counted. SaveResponse leaves the
// rollup alone (migration 00011): run this every minute or so (one replica
// at a time: with wait false it returns 0 at once when another holds the
// job's advisory lock) and, with wait true, before reading the rollup, so
// that what is read is exact.
func (d *DB) CatchUpRollups(ctx context.Context, wait bool) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if wait {
				if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", rollupLockID); err != nil {
					return err
				}
			} else {
				var got bool
				if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", rollupLockID).Scan(&got); err != nil || !got {
					return err
				}
			}
			return tx.QueryRow(ctx, "SELECT results_rollup_catch_up($1)", rollupBatch).Scan(&n)
		})
		if err != nil {
			return total, classify("catch up rollups", err)
		}
		total += n
		if n < rollupBatch {
			return total, nil
		}
	}
}

// ReportingQuestion describes a question for the BI views
// (reporting.questions).
type ReportingQuestion struct {
	Form, Question string
	Position       int
	Type           string // XLSForm type name
	List           string // choice list of select questions
	Section        string // the group it belongs to
}

// ReportingLabel is the label of a question (Choice "") or of one of its
// choices in a language (reporting.labels).
type ReportingLabel struct {
	Form, Question, Choice, Lang, Label string
}

// ReportingGroup puts a choice into a group the analysts' row-level BI
// views show instead of it (a country's macro-area: reporting.choice_groups).
type ReportingGroup struct {
	Form, Question, Choice, Group string
}

// SyncReporting replaces the questions, labels and choice groups the BI
// views join with. Replicas starting together take turns (an advisory
// lock).
func (d *DB) SyncReporting(ctx context.Context, questions []ReportingQuestion, labels []ReportingLabel, groups []ReportingGroup) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID+1); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM reporting.questions"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM reporting.labels"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM reporting.choice_groups"); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"reporting", "choice_groups"}, []string{"form", "question", "choice", "grp"},
			pgx.CopyFromSlice(len(groups), func(i int) ([]any, error) {
				g := groups[i]
				return []any{g.Form, g.Question, g.Choice, g.Group}, nil
			})); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"reporting", "questions"},
			[]string{"form", "question", "position", "type", "list", "section"},
			pgx.CopyFromSlice(len(questions), func(i int) ([]any, error) {
				q := questions[i]
				return []any{q.Form, q.Question, q.Position, q.Type, q.List, q.Section}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"reporting", "labels"},
			[]string{"form", "question", "choice", "lang", "label"},
			pgx.CopyFromSlice(len(labels), func(i int) ([]any, error) {
				l := labels[i]
				return []any{l.Form, l.Question, l.Choice, l.Lang, l.Label}, nil
			}))
		return err
	})
	if err != nil {
		return classify("sync reporting", err)
	}
	return nil
}

// CopyResponses stores many completed interviews at once with COPY, in one
// transaction, for seeding benchmark and demo databases. Answers are
// normalised as SaveResponse does; unlike SaveResponse an id that exists
// already fails the whole batch. With rollup true the responses wait for
// CatchUpRollups like SaveResponse's; with rollup false they are not
// noted for the rollup at all (a bulk load): call RebuildRollups after the
// last batch. It returns how many responses it stored.
func (d *DB) CopyResponses(ctx context.Context, cs []Completed, rollup bool) (int, error) {
	for i := range cs {
		if err := cs[i].validate(); err != nil {
			return 0, fmt.Errorf("pgstore: copy responses: %w: %w", ErrInvalid, err)
		}
	}
	arrays := make([]answerArrays, len(cs))
	nums := make([][]pgtype.Numeric, len(cs))
	for i := range cs {
		arrays[i] = cs[i].arrays()
		nums[i] = make([]pgtype.Numeric, len(arrays[i].nums))
		for j, v := range arrays[i].nums {
			if v != nil {
				if err := nums[i][j].Scan(*v); err != nil {
					return 0, fmt.Errorf("pgstore: copy responses: %w: %w", ErrInvalid, err)
				}
			}
		}
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"responses"},
			[]string{"id", "form", "form_version", "municipality_id", "service_id", "invite_id", "operator_id",
				"respondent", "language", "languages", "consent_version", "started_at", "completed_at",
				"answer_questions", "answer_values", "answer_nums", "choice_questions", "choices"},
			pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
				c := &cs[i]
				r := &c.Response
				langs := r.Languages
				if langs == nil {
					langs = []string{}
				}
				return []any{c.ID, r.Form, r.FormVersion, c.MunicipalityID, c.ServiceID, inviteID(c.Invite),
					c.OperatorID, nullIfEmpty(c.Pseudonym), r.Language, langs, c.ConsentVersion, r.Started, r.Completed,
					arrays[i].questions, arrays[i].values, nums[i], arrays[i].choiceQ, arrays[i].choices}, nil
			}))
		if err != nil || !rollup {
			return err
		}
		// Counted by the next CatchUpRollups, as SaveResponse's are.
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"results_rollup_pending"}, []string{"response_id"},
			pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) { return []any{cs[i].ID}, nil }))
		return err
	})
	if err != nil {
		return 0, classify("copy responses", err)
	}
	return len(cs), nil
}

// CopyAbandoned stores many abandoned interviews at once with COPY (for
// seeding); an id that exists already fails the batch.
func (d *DB) CopyAbandoned(ctx context.Context, as []Abandoned) (int, error) {
	_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"abandoned"},
		[]string{"id", "form", "form_version", "municipality_id", "service_id", "language", "last_question", "started_at", "abandoned_at"},
		pgx.CopyFromSlice(len(as), func(i int) ([]any, error) {
			a := &as[i]
			return []any{a.ID, a.Form, a.FormVersion, a.MunicipalityID, a.ServiceID, a.Language, a.LastQuestion, a.StartedAt, a.AbandonedAt}, nil
		}))
	if err != nil {
		return 0, classify("copy abandoned", err)
	}
	return len(as), nil
}

// inviteID is Completed.Invite as a bulk-loaded invite_id: only ids
// (bulk loads never carry tokens), NULL for none.
func inviteID(s string) any {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return nil
	}
	return id
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// VacuumAnalyze refreshes the planner's statistics and the visibility map
// of the tables results read, after a bulk load (CopyResponses): counts
// then come from index-only scans.
func (d *DB) VacuumAnalyze(ctx context.Context) error {
	for _, t := range []string{"responses", "abandoned", "results_rollup"} {
		if _, err := d.pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return classify("vacuum "+t, err)
		}
	}
	return nil
}
