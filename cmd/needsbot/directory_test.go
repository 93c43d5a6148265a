package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestDirectoryCommand(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NEEDSBOT_DATABASE_URL": dsn}
	dir := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"directory"}, args...), func(k string) string { return env[k] }, nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	// A broken file: every problem with its line, nothing imported.
	code, out, errs := dir("import", "testdata/directory/broken.csv", "--municipality", "058091")
	for _, want := range []string{
		"testdata/directory/broken.csv:3: missing name",
		"testdata/directory/broken.csv:4: bad coordinates 43.7, 200",
		`testdata/directory/broken.csv:4: unknown language code "klingon"`,
		`testdata/directory/broken.csv:4: unknown area code "castelli"`,
		"nothing imported",
	} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("broken import = %d, stderr lacks %q:\n%s%s", code, want, out, errs)
		}
	}
	if n := strings.Count(errs, "broken.csv:"); n != 4 {
		t.Errorf("%d problems, want 4:\n%s", n, errs)
	}
	var n int
	if err := dbCount(ctx, dsn, `SELECT count(*) FROM directory_entries`, &n); err != nil || n != 0 {
		t.Fatalf("%d entries after a broken import (%v)", n, err)
	}
	// A good file, then exported the same.
	code, out, errs = dir("import", "testdata/directory/firenze.csv", "--municipality", "058091")
	if code != 0 || !strings.Contains(out, "3 services (3 added, 0 updated, 0 hidden)") {
		t.Fatalf("import = %d\n%s%s", code, out, errs)
	}
	exported := filepath.Join(t.TempDir(), "out.csv")
	if code, out, errs := dir("export", "--municipality", "058091", "--out", exported); code != 0 {
		t.Fatalf("export = %d\n%s%s", code, out, errs)
	}
	got, _ := os.ReadFile(exported)
	want, _ := os.ReadFile("testdata/directory/firenze.csv")
	if string(got) != string(want) {
		t.Errorf("export differs from the imported file:\n%s\nwant\n%s", got, want)
	}
	if code, out, _ := dir("export", "--municipality", "058091"); code != 0 || out != string(want) {
		t.Errorf("export to stdout = %d\n%s", code, out)
	}
	// Importing it again changes nothing but counts as updates.
	if code, out, _ := dir("import", "--municipality", "058091", "testdata/directory/firenze.csv"); code != 0 || !strings.Contains(out, "0 added, 3 updated, 0 hidden") {
		t.Errorf("re-import = %d %s", code, out)
	}
	if code, out, _ := dir("stats", "--municipality", "058091"); code != 0 || !strings.Contains(out, "none") {
		t.Errorf("stats = %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "testdata/directory/firenze.csv"}, "--municipality ISTAT is required"},
		{[]string{"import", "--municipality", "058091"}, "FILE.csv is required"},
		{[]string{"export", "--municipality", "999999"}, "no municipality with ISTAT code 999999"},
		{[]string{"frobnicate", "--municipality", "058091"}, "unknown action"},
		{nil, "usage: needsbot directory"},
	} {
		if code, out, errs := dir(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("directory %v = %d, want 2 with %q\n%s%s", tc.args, code, tc.want, out, errs)
		}
	}
}

// try's demo municipality gets clearly fictional entries, once; the
// migrations (what production runs) seed none.
func TestTryDemoDirectory(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	roma, err := db.MunicipalityID(ctx, "058091")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Directory(ctx, roma, true); len(got) != 0 {
		t.Fatalf("the migrations seed a directory: %+v", got)
	}
	for range 2 {
		if err := seedDemoDirectory(ctx, db, "058091"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Directory(ctx, roma, true)
	if err != nil || len(got) != len(demoDirectory()) {
		t.Fatalf("demo directory: %d entries, want %d (%v)", len(got), len(demoDirectory()), err)
	}
	vocab, err := directoryVocabulary("")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := directory.WriteCSV(&buf, got); err != nil {
		t.Fatal(err)
	}
	if _, err := directory.ParseCSV("demo.csv", &buf, vocab); err != nil {
		t.Errorf("the demo directory does not validate: %v", err)
	}
	for _, e := range got {
		if !strings.Contains(e.Name, "(demo)") || !strings.Contains(e.Address, "fittizio") {
			t.Errorf("not clearly fictional: %q at %q", e.Name, e.Address)
		}
	}
}
