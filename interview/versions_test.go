package interview

import (
	"os"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

// An interview started on version 1 of a questionnaire keeps running on
// version 1 after version 2 is deployed; new interviews get version 2.
func TestInterviewKeepsItsQuestionnaireVersion(t *testing.T) {
	src, err := os.ReadFile("../dialog/forms/immigrati.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v1, err := dialog.Parse("immigrati.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := dialog.Parse("immigrati.v2.yaml", []byte(strings.Replace(string(src), "version: 1", "version: 2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := dialog.NewLibrary(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Forms: lib})
	if f := c.formFor(dialog.State{Form: "immigrati", FormVersion: 1}); f != v1 {
		t.Fatalf("running interview moved to version %d", f.Version)
	}
	if f := c.formFor(dialog.State{}); f != v2 {
		t.Fatalf("new interview on version %d, want 2", f.Version)
	}
	// A version no longer shipped falls back to the newest rather than
	// stranding the respondent.
	if f := c.formFor(dialog.State{Form: "immigrati", FormVersion: 9}); f != v2 {
		t.Fatalf("unknown version: got %d", f.Version)
	}
}
