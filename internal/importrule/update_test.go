package importrule

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOneUpdateFlag: -update is internal/golden's flag. A test package that
// declares its own would accept it alone, and `make update` passes -update
// only to the packages that import internal/golden: its goldens would
// silently never be rewritten.
func TestOneUpdateFlag(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`flag\.(Bool|BoolVar)\([^)]*"update"`)
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
		rel, _ := filepath.Rel(root, path)
		if !strings.HasSuffix(path, ".go") || filepath.Dir(rel) == filepath.Join("internal", "golden") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if decl.Match(src) {
			t.Errorf("%s declares its own -update flag: use internal/golden (golden.Update, golden.Check)", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
