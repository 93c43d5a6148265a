// Package golden is the one -update switch of the project's golden files
// and reference images, shared by every package that has them (as goflow's
// test package): a test package that imports golden accepts
// `go test -update`, and `make update` passes -update to exactly those
// packages.
//
// Its one flag is registered when the package is loaded, the only way a
// test binary can accept it; that unexported flag is the package's only
// state.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and reference images (then review the diff)")

// Update reports whether the test binary runs with -update: tests rewrite
// their goldens instead of comparing.
func Update() bool { return *update }

// Check compares got with the golden file at path. With -update it writes
// got there instead (creating the directory). A missing file or a
// difference fails the test and names the first differing line.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (run with -update if the change is intended):\n%s", path, FirstDiff(string(want), string(got)))
	}
}

// FirstDiff describes the first line where want and got differ, or "".
func FirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n   got: " + b
		}
	}
	return ""
}
