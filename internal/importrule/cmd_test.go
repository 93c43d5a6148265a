package importrule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlStatement matches a string literal holding an SQL statement: the
// uppercase keywords this repository writes SQL with (SELECT … FROM,
// INSERT INTO, UPDATE … SET, DELETE FROM). Prose such as "select a form"
// is lowercase and does not match.
var sqlStatement = regexp.MustCompile(`\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b`)

// Exceptions to the cmd rules, as "file: kind" → reason. Keep it short;
// an entry that no longer occurs fails the test, so the list only shrinks.
var cmdExceptions = map[string]string{}

// TestCmdOnlyWires: cmd/ wires packages together and runs them; it holds no
// SQL and no long-running loops of its own. In every non-test .go file under
// cmd/:
//
//   - no string literal holds an SQL statement (sqlStatement): queries
//     belong to storage/pgstore;
//   - no `for` statement lacks a condition (`for {`), and no `for range`
//     ranges over a ticker's or timer's channel (`range x.C`) or over
//     time.Tick: a loop that lives as long as the process belongs to the
//     package owning the work, as a Run(ctx) method (storage/durable,
//     schedule, redisstore.Outbox);
//   - no function literal started as a goroutine — the operand of a `go`
//     statement or the argument of a call to a method named Go
//     (sync.WaitGroup.Go, errgroup.Group.Go) — contains a `for` statement:
//     cmd may start a package's Run in a goroutine, not run a loop there.
//
// Loops over a finite list (flags, settings, rows of a command's output)
// outside goroutines are wiring and allowed.
func TestCmdOnlyWires(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	fset := token.NewFileSet()
	report := func(rel string, pos token.Pos, kind, msg string) {
		key := rel + ": " + kind
		found[key] = true
		if _, ok := cmdExceptions[key]; !ok {
			t.Errorf("%s:%d: %s", rel, fset.Position(pos).Line, msg)
		}
	}
	err = filepath.WalkDir(filepath.Join(root, "cmd"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, bad := range cmdViolations(f) {
			report(rel, bad.pos, bad.kind, bad.msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range cmdExceptions {
		if !found[key] {
			t.Errorf("%s no longer occurs: remove it from cmdExceptions", key)
		}
	}
}

type violation struct {
	pos       token.Pos
	kind, msg string
}

// cmdViolations returns what TestCmdOnlyWires forbids in f.
func cmdViolations(f *ast.File) []violation {
	var out []violation
	var goroutines []ast.Node // function literals started as goroutines
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if s, err := strconv.Unquote(n.Value); err == nil && sqlStatement.MatchString(s) {
					out = append(out, violation{n.Pos(), "sql", "SQL in cmd: move the query to storage/pgstore"})
				}
			}
		case *ast.ForStmt:
			if n.Cond == nil {
				out = append(out, violation{n.Pos(), "loop", "`for {` in cmd: a long-running loop belongs to the package that owns the work, as Run(ctx)"})
			}
		case *ast.RangeStmt:
			if tickerChannel(n.X) {
				out = append(out, violation{n.Pos(), "loop", "a loop over a ticker in cmd: it belongs to the package that owns the work, as Run(ctx)"})
			}
		case *ast.GoStmt:
			if lit, ok := n.Call.Fun.(*ast.FuncLit); ok {
				goroutines = append(goroutines, lit)
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" {
				for _, a := range n.Args {
					if lit, ok := a.(*ast.FuncLit); ok {
						goroutines = append(goroutines, lit)
					}
				}
			}
		}
		return true
	})
	for _, g := range goroutines {
		ast.Inspect(g, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.ForStmt, *ast.RangeStmt:
				out = append(out, violation{n.Pos(), "goroutine loop", "a loop in a goroutine in cmd: move it into the package that owns the work and start its Run(ctx)"})
				return false
			}
			return true
		})
	}
	return out
}

// tickerChannel reports whether x is `something.C` or `time.Tick(…)`.
func tickerChannel(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.SelectorExpr:
		return x.Sel.Name == "C"
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
			pkg, ok := sel.X.(*ast.Ident)
			return ok && pkg.Name == "time" && sel.Sel.Name == "Tick"
		}
	}
	return false
}

// TestCmdRuleCatches: the rule finds each kind of breach in a sample, and
// passes wiring.
func TestCmdRuleCatches(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // kind; "" = allowed
	}{
		{"query", "var q = `SELECT count(*)\n FROM responses`", "sql"},
		{"insert", `var q = "INSERT INTO abandoned (id) VALUES ($1)"`, "sql"},
		{"update", `var q = "UPDATE responses SET respondent = NULL"`, "sql"},
		{"delete", `var q = "DELETE FROM staff WHERE id = $1"`, "sql"},
		{"prose", `var q = "select a questionnaire from the list, then update the form"`, ""},
		{"forever", "func f() { for { } }", "loop"},
		{"ticker", "func f(t *time.Ticker) { for range t.C { } }", "loop"},
		{"tick", "func f() { for range time.Tick(1) { } }", "loop"},
		{"go loop", "func f(xs []int) { go func() { for _, x := range xs { _ = x } }() }", "goroutine loop"},
		{"wg.Go loop", "func f(wg *sync.WaitGroup) { wg.Go(func() { for i := 0; i < 3; i++ { } }) }", "goroutine loop"},
		{"go Run", "func f(ctx context.Context, j job) { go func() { j.Run(ctx) }() }", ""},
		{"finite loop", "func f(xs []string) { for _, x := range xs { _ = x } }", ""},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), tc.name+".go", "package p\n"+tc.src, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := cmdViolations(f)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: flagged %+v, want allowed", tc.name, got)
		case tc.want != "" && (len(got) != 1 || got[0].kind != tc.want):
			t.Errorf("%s: got %+v, want one %q", tc.name, got, tc.want)
		}
	}
}
