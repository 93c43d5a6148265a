package dialog

import (
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// noteBeforeRef is NoteBefore as it was: a refresh of a copy of the state.
func noteBeforeRef(f *Form, s State, pos int) bool {
	if pos <= 0 || pos >= len(f.Questions) {
		return false
	}
	st := stepper{f: f, s: s.clone(), now: time.Unix(s.Updated, 0)}
	st.refresh()
	for i := pos - 1; i >= 0; i-- {
		q := f.Questions[i]
		if !q.Type.Shown() || !st.rel[i] {
			continue
		}
		return q.Type == TypeNote
	}
	return false
}

// NoteBefore, which copies the answers only when its refresh changes
// them, answers as a refresh of a copy did, and leaves the state as it
// was (and NotesBefore gives the notes a change of language shows): at every position of random walks of the shipped and test
// questionnaires, and of the same states with an answer for every
// question (which the refresh then drops or recomputes).
func TestNoteBeforeCopiesOnlyOnChange(t *testing.T) {
	files, _ := filepath.Glob("forms/*.yaml")
	good, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, good...)
	compared := 0
	for _, file := range files {
		f := mustParseFile(t, file)
		for seed := range uint64(8) {
			rng := rand.New(rand.NewPCG(seed, 7))
			x := newSession(t, f)
			x.do(Input{Kind: InStart, Context: map[string]string{"invite": "AbCdEfGhIjKlMnOpQrStUv", "municipality": "058091"}})
			x.do(Input{Kind: InSetLanguage, Lang: "it"})
			for step := 0; step < 150; step++ {
				stuffed := x.s.clone()
				for _, q := range f.Questions {
					if _, ok := stuffed.Answers[q.Name]; !ok {
						stuffed.Answers[q.Name] = "7"
					}
				}
				for _, s := range []State{x.s, stuffed} {
					before := maps.Clone(s.Answers)
					for pos := range f.Questions {
						compared++
						if got, want := NoteBefore(f, s, pos), noteBeforeRef(f, s, pos); got != want {
							t.Fatalf("%s pos %d (%s): %v, a refreshed copy says %v", file, pos, f.Questions[pos].Name, got, want)
						}
					}
					if !maps.Equal(s.Answers, before) {
						t.Fatalf("%s: NoteBefore changed the answers", file)
					}
				}
				if x.s.Phase != PhaseAsking {
					break
				}
				// NotesBefore gives the notes a change of language shows
				// above the current question (the card as first shown).
				_, replies := Step(f, x.s, Input{Kind: InSetLanguage, Lang: x.s.Lang}, time.Unix(x.s.Updated, 0))
				var notes []Reply
				for _, r := range replies {
					if r.Kind == ReplySay && r.Question != "" {
						notes = append(notes, r)
					}
				}
				if got := NotesBefore(f, x.s, x.s.Pos); !reflect.DeepEqual(got, notes) {
					t.Fatalf("%s pos %d: NotesBefore %+v, a change of language shows %+v", file, x.s.Pos, got, notes)
				}
				q := f.Questions[x.s.Pos]
				switch {
				case len(x.buttons) > 0 && q.Type == TypeSelectMultiple:
					x.tap(x.buttons[rng.IntN(len(x.buttons))].Option)
					if rng.IntN(2) == 0 {
						x.done()
					}
				case len(x.buttons) > 0:
					b := x.buttons[rng.IntN(len(x.buttons))]
					switch b.Kind {
					case BtnBack:
						x.do(Input{Kind: InBack, Button: true, Pos: x.pos, Seq: x.seq})
					case BtnSkip:
						x.skip()
					default:
						x.tap(b.Option)
					}
				default:
					x.text([]string{"7", "1990", "ciao", "-3"}[rng.IntN(4)])
				}
			}
		}
	}
	t.Logf("%d comparisons", compared)
}

// StepOwned changes the caller's answers in place only at or after the
// state's position: a step that changes a row before it (here the full
// pass over a state of another version, dropping an answer whose row is
// not relevant) copies them first, as Step does.
func TestStepOwnedCopiesBeforeChangingEarlierRows(t *testing.T) {
	f, s := halfway(t, 15)
	stale := -1
	for i, q := range f.Questions[:s.Pos] {
		if _, had := s.Answers[q.Name]; !had && q.Type != TypeHidden && q.Relevant != nil {
			stale = i
			break
		}
	}
	if stale < 0 {
		t.Fatal("no row before the position without an answer and with a relevance")
	}
	name := f.Questions[stale].Name
	s.Answers[name] = "x"
	s.FormVersion++ // another version: the full pass
	q := f.Questions[s.Pos]
	in := Input{Kind: InChoose, Option: q.List.Choices[0].Name, Button: true, Pos: s.Pos, Seq: s.Seq}
	want, _ := Step(f, deepCopy(s), in, t0)
	if _, kept := want.Answers[name]; kept {
		t.Fatalf("the full pass kept the answer of %s: the test needs another row", name)
	}
	given := deepCopy(s)
	got, _ := StepOwned(f, given, in, t0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StepOwned gave %+v, Step %+v", got, want)
	}
	if i, ok := changedBefore(f, s, given); ok {
		t.Errorf("StepOwned changed the caller's answer of row %d (%s), before the position %d", i, f.Questions[i].Name, s.Pos)
	}
}
