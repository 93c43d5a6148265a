package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func resultsCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func cliCount(t *testing.T, dsn, q string, args ...any) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestSeedAndExportCommands: needsbot seed fills a database, needsbot
// export writes it back as CSV (to a file) and XLSX (to stdout), and both
// agree with the database; bad flags are usage errors.
func TestSeedAndExportCommands(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	env := map[string]string{"NEEDSBOT_DATABASE_URL": dsn}
	code, out, errs := resultsCLI(t, env, "seed", "--responses", "300", "--municipality", "100005", "--days", "30")
	if code != 0 || !strings.Contains(out, "seeded 300 interviews") {
		t.Fatalf("seed: %d %q %q", code, out, errs)
	}
	completed := cliCount(t, dsn, "SELECT count(*) FROM responses")
	if abandoned := cliCount(t, dsn, "SELECT count(*) FROM abandoned"); completed+abandoned != 300 || completed < 200 {
		t.Fatalf("seeded %d completed and %d abandoned", completed, abandoned)
	}
	if n := cliCount(t, dsn, "SELECT count(*) FROM responses WHERE municipality_id <> (SELECT id FROM municipalities WHERE istat_code = '100005')"); n != 0 {
		t.Fatalf("%d responses outside Prato", n)
	}
	if n := cliCount(t, dsn, "SELECT count(*) FROM responses WHERE respondent IS NOT NULL OR id NOT LIKE 'seed-%'"); n != 0 {
		t.Fatalf("%d seeded responses with a pseudonym or an unmarked id", n)
	}
	if n := cliCount(t, dsn, `SELECT count(*) FROM (SELECT * FROM results_rollup EXCEPT SELECT * FROM results_rollup_all()
		UNION ALL SELECT * FROM results_rollup_all() EXCEPT SELECT * FROM results_rollup) x`); n != 0 {
		t.Fatalf("rollup off by %d rows after seeding", n)
	}

	path := filepath.Join(t.TempDir(), "prato.csv")
	code, _, errs = resultsCLI(t, env, "export", "--format", "csv", "--municipality", "100005", "--since", "2000-01-01", "--out", path, "--lang", "en",
		"--row-level", "--purpose", "test of the row-level export")
	if code != 0 {
		t.Fatalf("export csv: %d %s", code, errs)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	imm := cliCount(t, dsn, "SELECT count(*) FROM responses WHERE form = 'immigrati'")
	if len(recs)-1 != imm || !strings.Contains(errs, "exported "+strconv.Itoa(imm)+" responses") {
		t.Fatalf("CSV has %d rows, want %d (%s)", len(recs)-1, imm, errs)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the export file is %v, want readable by its owner only", st.Mode().Perm())
	}

	code, out, errs = resultsCLI(t, env, "export", "--format", "xlsx", "--form", "operatori")
	if code != 0 {
		t.Fatalf("export xlsx: %d %s", code, errs)
	}
	x, err := excelize.OpenReader(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	// The operators' answers: totals only.
	if sheets := x.GetSheetList(); !slices.Equal(sheets, []string{results.SheetAggregate}) || !strings.Contains(errs, "(aggregate)") {
		t.Fatalf("operators' export: sheets %v, %s", sheets, errs)
	}
	x.Close()
	if n := cliCount(t, dsn, "SELECT count(*) FROM audit_log WHERE action = 'results.export' AND actor_id IS NULL AND detail->>'via' = 'cli'"); n != 1 {
		t.Fatalf("%d exports audited", n)
	}
	if n := cliCount(t, dsn, `SELECT count(*) FROM audit_log WHERE action = 'results.export.row_level' AND actor_id IS NULL
		AND detail->>'via' = 'cli' AND detail->>'purpose' = 'test of the row-level export' AND detail->>'host_user' <> ''
		AND (detail->>'rows')::int = `+strconv.Itoa(imm)); n != 1 {
		t.Fatalf("%d row-level exports audited with host user, purpose and rows", n)
	}
	// Without --row-level the CSV is the de-identified zip.
	zpath := filepath.Join(t.TempDir(), "prato.zip")
	if code, _, errs := resultsCLI(t, env, "export", "--format", "csv", "--out", zpath); code != 0 || !strings.Contains(errs, "(de-identified)") {
		t.Fatalf("de-identified export: %d %s", code, errs)
	}
	if zr, err := zip.OpenReader(zpath); err != nil || len(zr.File) != 2 || zr.File[0].Name != results.FileResponses {
		t.Fatalf("de-identified CSV export is not the zip of two files: %v", err)
	} else {
		zr.Close()
	}

	for _, bad := range [][]string{
		{"export"},
		{"export", "--format", "pdf"},
		{"export", "--format", "csv", "--lang", "fr"},
		{"export", "--format", "csv", "--since", "yesterday"},
		{"export", "--format", "csv", "--form", "nope"},
		{"export", "--format", "csv", "--row-level"},
		{"export", "--format", "csv", "--row-level", "--purpose", "x", "--form", "operatori"},
		{"seed"},
		{"seed", "--responses", "-1"},
	} {
		if code, _, _ := resultsCLI(t, env, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if code, _, errs := resultsCLI(t, env, "export", "--format", "csv", "--municipality", "999999"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("unknown municipality: %d %s", code, errs)
	}
}

// seed --walks walks a few interviews and clones them in SQL up to
// --responses: distinct ids, the walked answers, times in the window, and
// a rollup equal to a rebuild (through the job with --rollup-per-batch).
func TestSeedWalksClones(t *testing.T) {
	t.Parallel()
	for _, perBatch := range []bool{false, true} {
		dsn := storagetest.Postgres(t)
		env := map[string]string{"NEEDSBOT_DATABASE_URL": dsn}
		args := []string{"seed", "--responses", "700", "--walks", "100", "--municipality", "100005", "--days", "30"}
		if perBatch {
			args = append(args, "--rollup-per-batch")
		}
		code, out, errs := resultsCLI(t, env, args...)
		if code != 0 || !strings.Contains(out, "seeded 700 interviews") {
			t.Fatalf("seed %v: %d %q %q", args, code, out, errs)
		}
		completed := cliCount(t, dsn, "SELECT count(*) FROM responses")
		abandoned := cliCount(t, dsn, "SELECT count(*) FROM abandoned")
		if completed+abandoned != 700 || completed < 450 {
			t.Fatalf("%d completed and %d abandoned, want 700 in all", completed, abandoned)
		}
		if n := cliCount(t, dsn, "SELECT count(*) FROM responses WHERE id LIKE 'seed-c%'"); n < 400 {
			t.Fatalf("only %d cloned responses", n)
		}
		if n := cliCount(t, dsn, `SELECT count(*) FROM responses WHERE respondent IS NOT NULL OR id NOT LIKE 'seed-%'
			OR completed_at > now() OR completed_at < now() - interval '31 days' OR cardinality(answer_questions) = 0`); n != 0 {
			t.Fatalf("%d seeded responses with a pseudonym, an unmarked id, a time out of the window or no answers", n)
		}
		if n := cliCount(t, dsn, "SELECT count(DISTINCT rkey) FROM responses"); n < completed*9/10 {
			t.Fatalf("%d distinct record keys for %d responses: clones must get their own", n, completed)
		}
		if n := cliCount(t, dsn, `SELECT count(*) FROM (SELECT * FROM results_rollup EXCEPT SELECT * FROM results_rollup_all()
			UNION ALL SELECT * FROM results_rollup_all() EXCEPT SELECT * FROM results_rollup) x`); n != 0 {
			t.Fatalf("rollup off by %d rows after seeding (per batch %v)", n, perBatch)
		}
		if n := cliCount(t, dsn, "SELECT count(*) FROM results_rollup_pending"); n != 0 {
			t.Fatalf("%d responses left pending", n)
		}
	}
}
