package interview

import (
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

// What is stored of a finished interview: no answers, navigation, invite,
// operator or times.
func TestStoredFinishedStateIsMinimal(t *testing.T) {
	s := dialog.State{Form: "f", FormVersion: 2, Version: 9, Phase: dialog.PhaseDone, Lang: "ar", Langs: []string{"it", "ar"},
		Pos: 12, Back: []int{1, 2}, Answers: map[string]string{"permesso": "asilo"}, Pending: "x",
		Context: map[string]string{CtxMunicipality: "4", CtxService: "5", CtxInvite: "tok", CtxOperator: "6"},
		Consent: true, Started: 1700000000, Updated: 1700000600, Reached: "q9", Outcome: dialog.OutcomeCompleted}
	got := Stored(s)
	want := dialog.State{Form: "f", FormVersion: 2, Version: 9, Phase: dialog.PhaseDone, Lang: "ar",
		Context: map[string]string{CtxMunicipality: "4", CtxService: "5"}, Outcome: dialog.OutcomeCompleted}
	blobGot, _ := dialog.Encode(got)
	blobWant, _ := dialog.Encode(want)
	if string(blobGot) != string(blobWant) {
		t.Fatalf("stored %s, want %s", blobGot, blobWant)
	}
	running := s
	running.Phase = dialog.PhaseAsking
	if b1, b2 := mustEncode(t, Stored(running)), mustEncode(t, running); b1 != b2 {
		t.Fatal("a running interview is not stored whole")
	}
}

func mustEncode(t *testing.T, s dialog.State) string {
	t.Helper()
	b, err := dialog.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
