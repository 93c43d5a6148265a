package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

// After a finished interview /restart does not reuse the stored start
// context (an invite revoked, expired or used up since would otherwise
// still admit new answers): without a default municipality it asks for the
// link again, which is resolved — and counted — when opened.
func TestRestartAfterCompletionNeedsTheLinkAgain(t *testing.T) {
	r := newRig(t)
	r.handler.cfg.DefaultContext = nil
	u := r.srv.User(920)
	u.Send("hi")
	done := dialog.State{Form: "immigrati", FormVersion: 1, Version: 7, Phase: dialog.PhaseDone, Lang: "it",
		Outcome: dialog.OutcomeCompleted,
		Context: map[string]string{CtxMunicipality: "1", CtxInvite: "single-use-token", CtxOperator: "3"}}
	if f := r.handler.cfg.Forms.Latest("immigrati"); f != nil {
		done.FormVersion = f.Version
	}
	blob, err := dialog.Encode(done)
	if err != nil {
		t.Fatal(err)
	}
	r.sessions.states[920] = Loaded{Blob: blob, Version: 7}
	if _, err := r.intake.Submit(context.Background(), textUpdate(1, 920, "/restart"), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.Last().Text, "apri di nuovo il tuo link") {
		t.Fatalf("/restart after completion answered %q", u.Last().Text)
	}
	st, err := dialog.Decode(r.sessions.states[920].Blob)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != dialog.PhaseDone || r.sessions.states[920].Version != 7 {
		t.Fatalf("a new interview began from the stored context: phase %v, version %d", st.Phase, r.sessions.states[920].Version)
	}
}

// What is stored of a finished interview: no answers, navigation, invite,
// operator or times.
func TestStoredFinishedStateIsMinimal(t *testing.T) {
	s := dialog.State{Form: "f", FormVersion: 2, Version: 9, Phase: dialog.PhaseDone, Lang: "ar", Langs: []string{"it", "ar"},
		Pos: 12, Back: []int{1, 2}, Answers: map[string]string{"permesso": "asilo"}, Pending: "x",
		Context: map[string]string{CtxMunicipality: "4", CtxService: "5", CtxInvite: "tok", CtxOperator: "6"},
		Consent: true, Started: 1700000000, Updated: 1700000600, Reached: "q9", Outcome: dialog.OutcomeCompleted}
	got := stored(s)
	want := dialog.State{Form: "f", FormVersion: 2, Version: 9, Phase: dialog.PhaseDone, Lang: "ar",
		Context: map[string]string{CtxMunicipality: "4", CtxService: "5"}, Outcome: dialog.OutcomeCompleted}
	blobGot, _ := dialog.Encode(got)
	blobWant, _ := dialog.Encode(want)
	if string(blobGot) != string(blobWant) {
		t.Fatalf("stored %s, want %s", blobGot, blobWant)
	}
	running := s
	running.Phase = dialog.PhaseAsking
	if b1, b2 := mustEncode(t, stored(running)), mustEncode(t, running); b1 != b2 {
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
