package forms

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// commonWords are choice names that are also everyday words of Go code
// and of other vocabularies (language codes, yes/no, "media"): a literal
// equal to one names nothing of a form. Need-area codes are a vocabulary
// the forms share with the service directory (column area), not names of
// a form, and are not checked either. Form ids, question and list names
// are always checked.
var commonWords = map[string]bool{"yes": true, "no": true, "other": true, "none": true, "dnk": true, "pnta": true,
	"si": true, "it": true, "en": true, "fr": true, "es": true, "pt": true, "ar": true, "ro": true, "sq": true,
	"uk": true, "ru": true, "bn": true, "ur": true, "pa": true, "hi": true, "tl": true, "zh_hans": true,
	"media": true, "altre": true, "altro": true, "mai": true}

// TestNoFormNamedInGo: no Go code outside dialog (and this folder) names a
// shipped form, question, group, list or distinctive choice in a string
// literal — what the forms mean is declared in them (audience, report
// sections, areas, exclusive…), so that /results, charts, exports,
// invites, referrals and lint work for any form. It reads the non-test
// Go sources of the module with go/parser (literals only, not comments).
func TestNoFormNamedInGo(t *testing.T) {
	lib, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]bool{}
	names := map[string]string{} // name → what it is
	areas := map[string]bool{}
	for _, a := range lib.AreaCodes() {
		areas[a] = true
	}
	for _, f := range lib.Forms() {
		forms[f.ID] = true
		names[f.ID] = "form"
		for _, q := range f.Questions {
			names[q.Name] = "question of " + f.ID
		}
		for _, l := range f.Lists {
			names[l.Name] = "list of " + f.ID
			for _, c := range l.Choices {
				if !commonWords[c.Name] && len(c.Name) > 3 && names[c.Name] == "" {
					names[c.Name] = "choice of " + f.ID + "." + l.Name
				}
			}
		}
	}
	for n := range names {
		if areas[n] || commonWords[n] && strings.HasPrefix(names[n], "choice") {
			delete(names, n)
		}
	}
	if len(areas) < 5 {
		t.Fatalf("areas %v: the shipped forms declare no need areas", areas)
	}
	root := filepath.Join("..", "..")
	var hits []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && (rel == "dialog" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if why := named(s, names, forms); why != "" {
				hits = append(hits, fset.Position(lit.Pos()).String()+": "+lit.Value+" names "+why)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(hits)
	for _, h := range hits {
		t.Error(h)
	}
	if len(names) < 100 {
		t.Fatalf("only %d names checked: the forms did not load as expected", len(names))
	}
}

// named reports what shipped thing literal s names: a whole literal equal
// to a name, or a message id or SQL fragment with a form id between dots
// or quotes ("c.<form>.…", "form = '<form>'").
func named(s string, names map[string]string, forms map[string]bool) string {
	if why := names[strings.TrimSpace(s)]; why != "" {
		return why
	}
	for f := range forms {
		for _, pat := range []string{"." + f + ".", "'" + f + "'", "." + f + "\"", "\"" + f + "\""} {
			if strings.Contains(s, pat) {
				return "form " + f
			}
		}
		if strings.HasSuffix(s, "."+f) {
			return "form " + f
		}
	}
	return ""
}

// TestNamedFindsNames: the checker itself finds what it must.
func TestNamedFindsNames(t *testing.T) {
	names := map[string]string{"immigrati": "form", "priorita": "question"}
	forms := map[string]bool{"immigrati": true}
	for s, want := range map[string]bool{"immigrati": true, "priorita": true, "c.immigrati.aree.": true,
		"SELECT 1 WHERE form = 'immigrati'": true, "r.form.immigrati": true, "sportello_immigrati": false, "priorities": false} {
		if got := named(s, names, forms) != ""; got != want {
			t.Errorf("named(%q) = %v, want %v", s, got, want)
		}
	}
}
