package xlsform

import (
	"archive/zip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/internal/golden"
)

// outcome renders what importing a workbook gives: the form and its
// languages, or the refusal, and every problem with sheet, row and column.
func outcome(t *testing.T, path string) string {
	t.Helper()
	wb, err := Open(path)
	if err != nil {
		return "cannot open: " + err.Error() + "\n"
	}
	wb.File = filepath.Base(path)
	res, err := Import(wb)
	var b strings.Builder
	var re *RefusedError
	switch {
	case errors.As(err, &re):
		b.WriteString("refused\n")
		for _, p := range re.Problems {
			b.WriteString(p.String() + "\n")
		}
	case err != nil:
		t.Fatal(err)
	default:
		fmt.Fprintf(&b, "imported %s v%d: %d questions, languages %s\n", res.FormID, res.Form.Version, len(res.Form.Questions), strings.Join(res.Languages(), " "))
		for _, p := range res.Notes {
			b.WriteString(p.String() + "\n")
		}
	}
	return b.String()
}

// TestFixturesGolden imports pyxform's own fixtures (markdown and .xlsx, BSD
// licence beside them) and needsbot's, and compares the outcome — imported,
// or refused with the precise list of problems — with a golden file.
func TestFixturesGolden(t *testing.T) {
	var paths []string
	for _, pat := range []string{"testdata/pyxform/*.md", "testdata/pyxform/*.xlsx", "testdata/own/*.md", "testdata/own/csvform"} {
		m, _ := filepath.Glob(pat)
		paths = append(paths, m...)
	}
	if len(paths) < 8 {
		t.Fatalf("only %d fixtures", len(paths))
	}
	imported, refused := 0, 0
	for _, p := range paths {
		got := outcome(t, p)
		if strings.HasPrefix(got, "imported") {
			imported++
		} else {
			refused++
		}
		golden.Check(t, p+".golden", []byte(got))
	}
	if imported == 0 || refused == 0 {
		t.Errorf("%d imported, %d refused: the fixtures should exercise both", imported, refused)
	}
}

// TestImportedMessages checks the message files of an imported form: ids
// derived as locales/README.md says, & and < escaped for Telegram, and the
// choices of a select_one_from_file CSV.
func TestImportedMessages(t *testing.T) {
	wb, err := Open("testdata/own/needs.md")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(wb)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, id, want string }{
		{"en", "f.needs_small.title", "Small needs check"},
		{"it", "q.needs_small.age", "Quanti anni hai?"},
		{"it", "q.needs_small.age.constraint", "Solo adulti"},
		{"en", "q.needs_small.needs.hint", "Up to 3"},
		{"en", "g.needs_small.about", "About you"},
		{"it", "c.needs_small.needs.health", "Salute"},
		{"en", "c.needs_small.district.d2", "District 2"},
		{"en", "q.needs_small.comments", "Anything else? &amp; &lt;thanks>"},
	} {
		if got := res.Messages[c.lang][c.id]; got != c.want {
			t.Errorf("%s %s = %q, want %q", c.lang, c.id, got, c.want)
		}
	}
	q := res.Form.Question("needs")
	if q == nil || q.List == nil || len(q.List.Choices) != 4 || q.MaxSelected != 3 || !q.List.Choices[3].Exclusive {
		t.Errorf("needs from needs.csv: %+v", q)
	}
	if d := res.Form.Question("district"); d == nil || d.ChoiceFilter == nil {
		t.Error("district lost its choice_filter")
	}
	en := string(res.TOML("en"))
	it := string(res.TOML("it"))
	if !strings.Contains(en, "description = ") || strings.Contains(it, "description") {
		t.Errorf("descriptions belong in the source language only:\n%s\n%s", en, it)
	}
}

// TestReaders: the same small form as a zip of CSV sheets and as markdown
// with an escaped bar gives the same YAML; export names languages
// "Italiano (it)".
func TestReaders(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "f.zip")
	zf, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for name, body := range map[string]string{
		"f/survey.csv":   "type,name,label::English (en)\ntext,q,A | B\n",
		"f/settings.csv": "form_id,version\nzipped,2\n",
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	md := "| survey |\n| | type | name | label::English (en) |\n| | text | q | A \\| B |\n| settings |\n| | form_id | version |\n| | zipped | 2 |\n"
	mdPath := filepath.Join(dir, "f.md")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	var yamls []string
	for _, p := range []string{zpath, mdPath} {
		wb, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Import(wb)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := res.Messages["en"]["q.zipped.q"]; got != "A | B" {
			t.Errorf("%s: label %q", p, got)
		}
		yamls = append(yamls, string(res.YAML))
	}
	if yamls[0] != yamls[1] {
		t.Errorf("zip and markdown differ:\n%s\n%s", yamls[0], yamls[1])
	}
	if got := LanguageColumn("it"); got != "Italiano (it)" {
		t.Errorf("LanguageColumn(it) = %q", got)
	}
}
