package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenTranscripts runs every testdata/transcripts/*.script through
// `needsbot simulate --script` and compares the transcript with the
// .golden file beside it. The script's file name starts with the form id;
// a first line "#! FLAGS" adds simulate flags (e.g. "#! --lang ar"); a
// header line "# pending: REASON" skips a script that has no golden yet
// (v2 scripts in languages whose translations have not landed).
// Run `go test ./cmd/needsbot -run Golden -update` after an intended change.
func TestGoldenTranscripts(t *testing.T) {
	scripts, err := filepath.Glob("testdata/transcripts/*.script")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".script")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			form, _, _ := strings.Cut(name, "_")
			args := []string{"simulate", "--form", form, "--lang", "it", "--script", script}
			if first, _, _ := strings.Cut(string(src), "\n"); strings.HasPrefix(first, "#! ") {
				args = append(args, strings.Fields(strings.TrimPrefix(first, "#! "))...)
			}
			var out, errOut bytes.Buffer
			if code := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			golden := strings.TrimSuffix(script, ".script") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil && os.IsNotExist(err) && pending(src) != "" {
				// A script whose texts are still being translated: its
				// golden is written with -update once they land.
				t.Skipf("no golden yet: %s", pending(src))
			}
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("transcript differs from %s (run with -update if intended):\n%s", golden, firstDiff(string(want), out.String()))
			}
		})
	}
}

// pending returns the reason of a "# pending: …" line in a script's
// header comments, or "".
func pending(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "#") {
			return ""
		}
		if r, ok := strings.CutPrefix(line, "# pending:"); ok {
			return strings.TrimSpace(r)
		}
	}
	return ""
}

func firstDiff(want, got string) string {
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
			return "line " + itoa(i+1) + ":\n  want: " + a + "\n   got: " + b
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
