package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/needsbot/needsbot/storage/storagetest"
)

// answerRows lists the answers and choices as rows, in a stable order, and
// the rollup, through whatever answers and answer_choices are (tables
// before 00014, views after).
func answerRows(t *testing.T, db *sql.DB) (answers, choices, rollup []string) {
	t.Helper()
	for _, q := range []struct {
		into *[]string
		sql  string
	}{
		{&answers, `SELECT response_id || '|' || question || '|' || value || '|' || coalesce(value_num::text, '-') FROM answers ORDER BY 1`},
		{&choices, `SELECT response_id || '|' || question || '|' || choice FROM answer_choices ORDER BY 1`},
		{&rollup, `SELECT concat_ws('|', form, dim, dim_value, municipality_id, day, question, choice, n, k) FROM results_rollup ORDER BY 1`},
	} {
		rows, err := db.Query(q.sql)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			*q.into = append(*q.into, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return answers, choices, rollup
}

// Migration 00014 moves the answers stored as rows into the arrays of
// their responses: the same answers and choices read back through the
// views, the rollup job counts a response saved before the migration as
// the old job would have, and the down migration gives the rows back.
func TestMigrationAnswersIntoResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	p, err := newProvider(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO responses (id, form, form_version, municipality_id, language, consent_version, started_at, completed_at)
		 SELECT 'r' || i, 'immigrati', 1, id, CASE WHEN i % 2 = 0 THEN 'it' ELSE 'ar' END, 'v1',
		        now() - interval '3 days', now() - interval '2 days' FROM municipalities, generate_series(1, 3) i
		 WHERE istat_code = '058091'`,
		`INSERT INTO answers (response_id, question, value, value_num) VALUES
		 ('r1', 'age', '34', 34), ('r1', 'needs', 'work health', NULL), ('r1', 'comment', 'ciao', NULL),
		 ('r2', 'age', '2.5', 2.5), ('r2', 'needs', 'school', NULL),
		 ('r3', 'comment', 'nessuno', NULL)`,
		`INSERT INTO answer_choices (response_id, question, choice) VALUES
		 ('r1', 'needs', 'work'), ('r1', 'needs', 'health'), ('r2', 'needs', 'school')`,
		// r1 and r2 were counted (by the job), r3 waits.
		`INSERT INTO results_rollup_pending VALUES ('r1'), ('r2')`,
		`SELECT results_rollup_catch_up(100)`,
		`INSERT INTO results_rollup_pending VALUES ('r3')`,
	} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	wantA, wantC, _ := answerRows(t, sqlDB)
	if _, err := p.UpTo(ctx, 14); err != nil {
		t.Fatal(err)
	}
	gotA, gotC, _ := answerRows(t, sqlDB)
	if !slices.Equal(gotA, wantA) || !slices.Equal(gotC, wantC) {
		t.Fatalf("after 00014:\nanswers %q\nwant    %q\nchoices %q\nwant    %q", gotA, wantA, gotC, wantC)
	}
	var qs, cs string
	if err := sqlDB.QueryRowContext(ctx, `SELECT array_to_string(answer_questions, ','), array_to_string(choices, ',')
		FROM responses WHERE id = 'r1'`).Scan(&qs, &cs); err != nil {
		t.Fatal(err)
	}
	if qs != "age,comment,needs" || cs != "health,work" {
		t.Fatalf("r1's arrays: %q, %q", qs, cs)
	}
	// The job counts r3 from its arrays; the rollup equals a rebuild.
	if _, err := sqlDB.ExecContext(ctx, `SELECT results_rollup_catch_up(100)`); err != nil {
		t.Fatal(err)
	}
	_, _, rollup := answerRows(t, sqlDB)
	rollupDiff := func() int {
		var diff int
		if err := sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM (
			(SELECT * FROM results_rollup_all() EXCEPT SELECT form, dim, dim_value, municipality_id, day, question, choice, n, k FROM results_rollup)
			UNION ALL
			(SELECT form, dim, dim_value, municipality_id, day, question, choice, n, k FROM results_rollup EXCEPT SELECT * FROM results_rollup_all())) x`).Scan(&diff); err != nil {
			t.Fatal(err)
		}
		return diff
	}
	if diff := rollupDiff(); diff != 0 || len(rollup) == 0 {
		t.Fatalf("rollup after 00014 and the job: %d rows differ from a rebuild (%d rows)", diff, len(rollup))
	}
	// 00015 adds the interview counts (question and choice '') of what
	// was counted, one pending response more, which the job then adds.
	if _, err := sqlDB.ExecContext(ctx, `INSERT INTO results_rollup_pending VALUES ('r2')`); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.ExecContext(ctx, `SELECT results_rollup_response('r2', -1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 15); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.ExecContext(ctx, `SELECT results_rollup_catch_up(100)`); err != nil {
		t.Fatal(err)
	}
	var interviews int
	if err := sqlDB.QueryRowContext(ctx, `SELECT sum(n) FROM results_rollup WHERE question = '' AND dim = '-'`).Scan(&interviews); err != nil || interviews != 3 {
		t.Fatalf("interviews counted in the rollup after 00015: %d (%v), want 3", interviews, err)
	}
	if diff := rollupDiff(); diff != 0 {
		t.Fatalf("rollup after 00015 and the job: %d rows differ from a rebuild", diff)
	}

	// Manual changes through the views keep the old tables' rules.
	for _, q := range []struct {
		sql  string
		code string // SQLSTATE wanted, "" for success
	}{
		{`UPDATE answers SET value = '35', value_num = 35 WHERE response_id = 'r1' AND question = 'age'`, ""},
		{`INSERT INTO answers (response_id, question, value) VALUES ('r3', 'age', '50')`, ""},
		{`INSERT INTO answers (response_id, question, value) VALUES ('r3', 'age', '51')`, "23505"},
		{`INSERT INTO answers (response_id, question, value) VALUES ('nobody', 'age', '51')`, "23503"},
		{`INSERT INTO answer_choices (response_id, question, choice) VALUES ('r3', 'needs', 'work')`, "23503"},
		{`INSERT INTO answer_choices (response_id, question, choice) VALUES ('r1', 'needs', 'work')`, "23505"},
		{`DELETE FROM answer_choices WHERE response_id = 'r1' AND choice = 'health'`, ""},
		{`DELETE FROM answers WHERE response_id = 'r2' AND question = 'needs'`, ""},
	} {
		_, err := sqlDB.ExecContext(ctx, q.sql)
		var pe *pgconn.PgError
		switch {
		case q.code == "" && err != nil:
			t.Fatalf("%s: %v", q.sql, err)
		case q.code != "" && (!errors.As(err, &pe) || pe.Code != q.code):
			t.Fatalf("%s: %v, want SQLSTATE %s", q.sql, err, q.code)
		}
	}
	gotA, gotC, _ = answerRows(t, sqlDB)
	wantA = []string{"r1|age|35|35", "r1|comment|ciao|-", "r1|needs|work health|-", "r2|age|2.5|2.5", "r3|age|50|-", "r3|comment|nessuno|-"}
	wantC = []string{"r1|needs|work"}
	if !slices.Equal(gotA, wantA) || !slices.Equal(gotC, wantC) {
		t.Fatalf("after manual changes:\nanswers %q\nwant    %q\nchoices %q\nwant    %q", gotA, wantA, gotC, wantC)
	}

	// And back.
	if _, err := p.DownTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
	downA, downC, _ := answerRows(t, sqlDB)
	if !slices.Equal(downA, wantA) || !slices.Equal(downC, wantC) {
		t.Fatalf("after 00014 down:\nanswers %q\nwant    %q\nchoices %q\nwant    %q", downA, wantA, downC, wantC)
	}
	var kind string
	if err := sqlDB.QueryRowContext(ctx, `SELECT relkind::text FROM pg_class WHERE relname = 'answers' AND relnamespace = 'public'::regnamespace`).Scan(&kind); err != nil || kind != "r" {
		t.Fatalf("answers after down: relkind %q (%v), want a table", kind, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
}
