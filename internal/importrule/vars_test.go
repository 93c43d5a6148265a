package importrule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Exported package variables allowed as exceptions: none left (the last,
// locales.Supported and locales.StaffLanguages, became functions returning
// fresh copies like bot.Commands and results.Periods). An entry here must
// say why the variable cannot be a function.
var mutableExports = map[string]string{}

// TestNoExportedMutableVars: an exported package-level variable may only be
// a sentinel error (errors.New); anything else any importer could change.
func TestNoExportedMutableVars(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || i < len(vs.Values) && isErrorsNew(vs.Values[i]) {
						continue
					}
					key := f.Name.Name + "." + name.Name
					found[key] = true
					if _, ok := mutableExports[key]; !ok {
						rel, _ := filepath.Rel(root, path)
						t.Errorf("%s:%d: exported package variable %s: make it a function returning a fresh value, or unexported",
							rel, fset.Position(name.Pos()).Line, key)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for key := range mutableExports {
		if !found[key] {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		t.Errorf("%s is no longer an exported variable: remove it from mutableExports", key)
	}
}

func isErrorsNew(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "errors" && sel.Sel.Name == "New"
}
