package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/internal/golden"
)

// TestGoldenTranscripts runs every testdata/transcripts/*.script through
// `needsbot simulate --script` and compares the transcript with the
// .golden file beside it. The script's file name starts with the form id;
// a first line "#! FLAGS" adds simulate flags (e.g. "#! --lang ar"). A
// script without its golden fails (no skip: a lost golden would otherwise
// hide every regression of its walk); -update writes it.
// Run `make update` (or `go test ./cmd/needsbot -run Golden -update`)
// after an intended change.
func TestGoldenTranscripts(t *testing.T) {
	t.Parallel()
	scripts, err := filepath.Glob("testdata/transcripts/*.script")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".script")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
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
			golden.Check(t, strings.TrimSuffix(script, ".script")+".golden", out.Bytes())
		})
	}
}
