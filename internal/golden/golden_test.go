package golden

import (
	"os"
	"path/filepath"
	"testing"
)

type recordTB struct {
	testing.TB
	failed string
}

func (r *recordTB) Helper()                   {}
func (r *recordTB) Errorf(f string, a ...any) { r.failed = f }
func (r *recordTB) Fatalf(f string, a ...any) { r.failed = f }

func TestCheck(t *testing.T) {
	if Update() {
		t.Skip("this test checks comparing, not rewriting")
	}
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recordTB{TB: t}
	Check(r, path, []byte("a\nb\n"))
	if r.failed != "" {
		t.Fatalf("equal content failed: %s", r.failed)
	}
	Check(r, path, []byte("a\nc\n"))
	if r.failed == "" {
		t.Fatal("a difference passed")
	}
	r = &recordTB{TB: t}
	Check(r, filepath.Join(t.TempDir(), "missing.golden"), []byte("x"))
	if r.failed == "" {
		t.Fatal("a missing golden passed")
	}
	if d := FirstDiff("a\nb\nc", "a\nB\nc"); d != "line 2:\n  want: b\n   got: B" {
		t.Fatalf("FirstDiff: %q", d)
	}
	if d := FirstDiff("a\n", "a\n"); d != "" {
		t.Fatalf("FirstDiff of equal texts: %q", d)
	}
}
