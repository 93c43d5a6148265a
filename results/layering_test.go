package results

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// results stands below staff (issue 12): it speaks of members and roles
// through package org and makes its buttons with package menu, so it
// never imports staff, and no non-test file names *pgstore.DB (it uses
// the narrow interfaces of store.go).
func TestResultsLayering(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/needsbot/needsbot/staff" {
				t.Errorf("%s imports staff", f)
			}
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "*pgstore.DB") {
			t.Errorf("%s names *pgstore.DB", f)
		}
	}
}
