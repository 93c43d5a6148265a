package dialog

import "testing"

// TestStepEvaluatesRelevanceIncrementally: over whole interviews of the
// shipped questionnaires, a step evaluates the relevance of the rows that
// read the answer it changed and of the rows it reads next, not of every
// row as a full pass does (session.do checks that the result is the full
// pass's, stepRef).
func TestStepEvaluatesRelevanceIncrementally(t *testing.T) {
	for _, file := range []string{"forms/immigrati.yaml", "forms/immigrati_v2.yaml", "forms/operatori_v2.yaml"} {
		f := mustParseFile(t, file)
		if !f.incremental {
			t.Fatalf("%s: no incremental relevance", file)
		}
		x := newSession(t, f)
		x.do(Input{Kind: InStart, Context: map[string]string{"invite": "AbCdEfGhIjKlMnOpQrStUv", "municipality": "058091"}})
		x.do(Input{Kind: InSetLanguage, Lang: "it"})
		inc, full, steps := 0, 0, 0
		for x.s.Phase == PhaseAsking && steps < 200 {
			q := f.Questions[x.s.Pos]
			var in Input
			switch {
			case q.Type == TypeSelectMultiple && x.s.Pending == "":
				in = Input{Kind: InToggle, Option: x.buttons[0].Option, Button: true, Pos: x.pos, Seq: x.seq}
			case q.Type == TypeSelectMultiple:
				in = Input{Kind: InDone, Button: true, Pos: x.pos, Seq: x.seq}
			case len(x.buttons) > 0 && x.buttons[0].Kind != BtnBack && x.buttons[0].Kind != BtnSkip:
				opt := x.buttons[0].Option
				if q.Name == "eta" {
					opt = "25_34"
				}
				in = Input{Kind: InChoose, Option: opt, Button: true, Pos: x.pos, Seq: x.seq}
			default:
				in = Input{Kind: InText, Text: "7"}
			}
			// As Step and stepRef, counting.
			st := stepper{f: f, now: x.now, old: x.s, s: x.s.clone(), incr: incremental(f, x.s)}
			st.run(in)
			ref := stepper{f: f, now: x.now, old: x.s, s: x.s.clone()}
			ref.run(in)
			inc, full = inc+int(st.evals), full+int(ref.evals)
			x.do(in)
			steps++
		}
		if x.s.Phase != PhaseDone {
			t.Fatalf("%s: the walk did not end in %d steps", file, steps)
		}
		t.Logf("%s: %d steps, %d relevance evaluations (a full pass per step: %d)", file, steps, inc, full)
		if inc*3 > full {
			t.Errorf("%s: %d relevance evaluations in %d steps, a full pass per step makes %d: want at most a third", file, inc, steps, full)
		}
	}
}
