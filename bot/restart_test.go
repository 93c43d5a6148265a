package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
)

// After a finished interview /restart does not reuse the stored start
// context (an invite revoked, expired or used up since would otherwise
// still admit new answers): without a default municipality it asks for the
// link again, which is resolved — and counted — when opened.
func TestRestartAfterCompletionNeedsTheLinkAgain(t *testing.T) {
	r := newRig(t)
	r.core.DefaultContext = nil
	r.rewire()
	u := r.srv.User(920)
	u.Send("hi")
	done := dialog.State{Form: "immigrati", FormVersion: 1, Version: 7, Phase: dialog.PhaseDone, Lang: "it",
		Outcome: dialog.OutcomeCompleted,
		Context: map[string]string{interview.CtxMunicipality: "1", interview.CtxInvite: "single-use-token", interview.CtxOperator: "3"}}
	if f := r.core.Forms.Latest("immigrati"); f != nil {
		done.FormVersion = f.Version
	}
	blob, err := dialog.Encode(done)
	if err != nil {
		t.Fatal(err)
	}
	r.sessions.states[920] = interview.Loaded{Blob: blob, Version: 7}
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
