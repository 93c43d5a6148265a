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

// After the end, what a person writes or sends is answered with the
// command that works for them, the same in every case: /restart (it starts
// again, or asks for the link where one is needed). A finished interview:
// "already answered, /restart to answer again", to /start too. One that
// ended early (no, under 18): "tapped by mistake? /restart", and /start
// without a link asks for the link, as /restart does — not "ask at the
// desk for a link" (b.no_invite), which is for someone who never had one.
// Before: /start after any end answered b.no_invite without a default
// municipality, and text after an early end "you have already answered".
func TestAfterTheEndNamesRestart(t *testing.T) {
	for _, tc := range []struct {
		outcome     string
		withDefault bool
		text        string
		want        string // message id of the reply
	}{
		{dialog.OutcomeCompleted, false, "ciao", dialog.MsgDoneAlready},
		{dialog.OutcomeCompleted, false, "/start", dialog.MsgDoneAlready},
		{dialog.OutcomeCompleted, false, "/restart", MsgRestartLink},
		{dialog.OutcomeDeclined, false, "ciao", dialog.MsgStartAgain},
		{dialog.OutcomeDeclined, false, "/start", MsgRestartLink},
		{dialog.OutcomeDeclined, false, "/restart", MsgRestartLink},
		{dialog.OutcomeIneligible, false, "ciao", dialog.MsgStartAgain},
		{dialog.OutcomeIneligible, false, "/start", MsgRestartLink},
		{dialog.OutcomeCompleted, true, "ciao", dialog.MsgDoneAlready},
		{dialog.OutcomeCompleted, true, "/start", dialog.MsgDoneAlready},
		{dialog.OutcomeCompleted, true, "/restart", dialog.MsgRestarted},
		{dialog.OutcomeDeclined, true, "ciao", dialog.MsgStartAgain},
		{dialog.OutcomeDeclined, true, "/restart", dialog.MsgRestarted},
		{dialog.OutcomeIneligible, true, "/restart", dialog.MsgRestarted},
	} {
		name := tc.outcome + " " + tc.text
		if tc.withDefault {
			name += " (default municipality)"
		}
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			if !tc.withDefault {
				r.core.DefaultContext = nil
				r.rewire()
			}
			u := r.srv.User(921)
			u.Send("hi")
			done := dialog.State{Form: "immigrati", Version: 7, Phase: dialog.PhaseDone, Lang: "it", Outcome: tc.outcome,
				Context: map[string]string{interview.CtxMunicipality: "1", interview.CtxInvite: "tok"}}
			done.FormVersion = r.core.Forms.Latest("immigrati").Version
			blob, err := dialog.Encode(done)
			if err != nil {
				t.Fatal(err)
			}
			r.sessions.states[921] = interview.Loaded{Blob: blob, Version: 7}
			u.Send(tc.text)
			if _, err := r.intake.Submit(context.Background(), textUpdate(1, 921, tc.text), false, 0); err != nil {
				t.Fatal(err)
			}
			want, _, _ := strings.Cut(r.handler.Renderer().Plain("it", tc.want, nil), "\n")
			found := false
			for _, m := range u.Messages() {
				if m.FromBot && strings.Contains(m.Text, want) {
					found = true
				}
				if m.FromBot && strings.Contains(m.Text, "/start") {
					t.Errorf("a reply names /start: %q", m.Text)
				}
			}
			if !found {
				t.Errorf("%s after %s: no %s (%q):\n%s", tc.text, tc.outcome, tc.want, want, u.Transcript())
			}
		})
	}
}
