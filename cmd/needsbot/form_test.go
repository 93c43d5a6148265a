package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/locales"
)

func needsbot(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestLintFileChecksOnlyItsMessages: `needsbot lint FILE` on a valid
// shipped form exits 0 (on f4ec990 it reported 142 false stale messages).
func TestLintFileChecksOnlyItsMessages(t *testing.T) {
	for _, f := range []string{"../../dialog/forms/immigrati.yaml", "../../dialog/forms/operatori.yaml", "../../dialog/forms"} {
		if code, out, errOut := needsbot(t, nil, "lint", f); code != 0 {
			t.Errorf("lint %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
}

// TestFormImportLintSimulate imports needsbot's markdown fixture into a
// forms directory, lints it, walks it with simulate in Italian, then adds
// a stale message and a broken translation that lint must report.
func TestFormImportLintSimulate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := needsbot(t, nil, "form", "import", "../../dialog/xlsform/testdata/own/needs.md", "--out", dir)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"needs_small.yaml", "needs_small.en.toml", "needs_small.it.toml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if code, out, errOut := needsbot(t, nil, "lint", dir); code != 0 {
		t.Fatalf("lint: exit %d\n%s%s", code, out, errOut)
	}
	script := filepath.Join(dir, "walk.script")
	if err := os.WriteFile(script, []byte("1\n30\n1\n1\n1\ndone\n4\nciao\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = needsbot(t, nil, "simulate", "--forms", dir, "--form", "needs_small", "--lang", "it", "--script", script)
	if code != 0 {
		t.Fatalf("simulate: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Accetti di rispondere?", "Quartiere 1", "Di cosa hai più bisogno?", "needs = housing", "wellbeing = 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	extra := "\n[\"q.needs_small.gone\"]\ndescription = \"x\"\nother = \"Gone\"\n"
	en := filepath.Join(dir, "needs_small.en.toml")
	src, _ := os.ReadFile(en)
	if err := os.WriteFile(en, append(src, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = needsbot(t, nil, "lint", dir)
	if code != 1 || !strings.Contains(out, `stale message "q.needs_small.gone"`) || strings.Contains(out, "immigrati") {
		t.Errorf("lint of a stale forms-dir message: exit %d\n%s", code, out)
	}
	if err := os.Remove(filepath.Join(dir, "needs_small.it.toml")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = needsbot(t, nil, "lint", dir)
	if want := filepath.Join(dir, "needs_small.it.toml") + `: missing message "q.needs_small.age"`; code != 1 || !strings.Contains(out, want) {
		t.Errorf("lint without the Italian file: exit %d, want %q in\n%s", code, out, want)
	}
}

// TestFormImportRefusal: a workbook with unsupported rows exits 1 and
// lists them with sheet, row and column.
func TestFormImportRefusal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, _ := needsbot(t, nil, "form", "import", "../../dialog/xlsform/testdata/pyxform/or_other.xlsx", "--out", dir)
	if code != 1 || !strings.Contains(out, "survey, row 2, column type: or_other is not supported") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("a refused import wrote %v", m)
	}
}

// TestFormExportImportCLI exports a shipped form through the binary's
// command, imports the workbook and lints the result.
func TestFormExportImportCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	x := filepath.Join(dir, "immigrati.xlsx")
	if code, out, errOut := needsbot(t, nil, "form", "export", "immigrati", "--out", x); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	forms := filepath.Join(dir, "forms")
	if code, out, errOut := needsbot(t, nil, "form", "import", x, "--out", forms); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	tomls, _ := filepath.Glob(filepath.Join(forms, "immigrati.*.toml"))
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cat.Languages()); len(tomls) != n {
		t.Errorf("%d message files, want one per language (%d): %v", len(tomls), n, tomls)
	}
	if code, out, errOut := needsbot(t, nil, "lint", forms); code != 0 {
		t.Errorf("lint: exit %d\n%s%s", code, out, errOut)
	}
}
