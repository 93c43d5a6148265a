package interview

import (
	"os"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
)

// The default form of a bare /start, unset, is the first respondents'
// form the snapshot in force does not retire; a configured one stays.
func TestDefaultFormFollowsSnapshot(t *testing.T) {
	src, err := os.ReadFile("testdata/mini.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := dialog.Parse("a.yaml", []byte(strings.Replace(string(src), "form: mini", "form: amini", 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := dialog.Parse("b.yaml", []byte(strings.Replace(string(src), "form: mini", "form: bmini", 1)))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := dialog.NewLibrary(a, b)
	if err != nil {
		t.Fatal(err)
	}
	snap := formlib.Fixed(lib, nil)
	c := New(Config{Library: snap})
	if got := c.DefaultForm(); got != a {
		t.Fatalf("default %v, want amini", got.ID)
	}
	retired := *snap
	retired.Retired = map[string]bool{"amini": true}
	c = New(Config{Library: &retired})
	if got := c.DefaultForm(); got != b {
		t.Fatalf("default with amini retired: %v, want bmini", got.ID)
	}
	c = New(Config{Library: &retired, DefaultForm: "amini"})
	if got := c.DefaultForm(); got != a {
		t.Fatalf("configured default: %v", got.ID)
	}
}
