package dialog

import (
	"slices"
	"testing"
)

// says returns the message ids of the notes in rs, in order, and whether
// they all come before the question asked.
func says(rs []Reply) (ids []string, before bool) {
	before = true
	asked := false
	for _, r := range rs {
		switch r.Kind {
		case ReplyAsk:
			asked = true
		case ReplySay:
			ids = append(ids, r.Msg)
			before = before && !asked
		}
	}
	return ids, before
}

// Back to a question shows the notes that came right before it, above it
// as on the way there (session 6, issue 19): Back from the first question
// returns to the consent question with the welcome above it, so what the
// person agrees to is readable again. Before, Back asked the consent
// question alone.
func TestBackShowsTheNotesBeforeTheQuestion(t *testing.T) {
	x := toAge(t)
	x.do(Input{Kind: InBack})
	x.wantAt("ok")
	if ids, before := says(x.last); !slices.Equal(ids, []string{"q.tipi.hello"}) || !before {
		t.Fatalf("Back to the consent question: notes %v (before the question: %v), want the welcome above it: %+v", ids, before, x.last)
	}
	// The same card as the first time: the welcome and the question.
	x.tap("yes")
	x.wantAt("age")
	// Back to a question with no note before it shows none.
	x.text("30")
	x.wantAt("height")
	x.do(Input{Kind: InBack})
	x.wantAt("age")
	if ids, _ := says(x.last); len(ids) != 0 {
		t.Errorf("Back to a question without a note before it showed %v", ids)
	}
}

// The notes before a question are those the way forward shows: the
// relevant ones between it and the shown question before it, in order,
// not a note left out by its relevance nor one before an earlier question.
func TestBackShowsOnlyTheRelevantNotesRightBefore(t *testing.T) {
	f := mustParse(t, `
form: notes
version: 1
default_language: en
survey:
  - type: note
    name: welcome
  - type: select_one yn
    name: a
  - type: note
    name: about_b
  - type: note
    name: only_if_no
    relevant: "${a} = 'no'"
  - type: calculate
    name: c
    calculation: "1"
  - type: note
    name: more_about_b
  - type: select_one yn
    name: b
  - type: select_one yn
    name: c2
choices:
  yn: ["yes", "no"]
`)
	x := newSession(t, f)
	x.do(Input{Kind: InStart})
	x.do(Input{Kind: InSetLanguage, Lang: "en"})
	x.wantAt("a")
	x.tap("yes")
	x.wantAt("b")
	forward, _ := says(x.last)
	x.tap("yes")
	x.wantAt("c2")
	x.do(Input{Kind: InBack})
	x.wantAt("b")
	ids, before := says(x.last)
	if want := []string{"q.notes.about_b", "q.notes.more_about_b"}; !slices.Equal(ids, want) || !before || !slices.Equal(ids, forward) {
		t.Fatalf("Back to b: notes %v (before the question: %v), want %v as on the way there (%v)", ids, before, want, forward)
	}
	// Back again: the welcome before a, and only it.
	x.do(Input{Kind: InBack})
	x.wantAt("a")
	if ids, _ := says(x.last); !slices.Equal(ids, []string{"q.notes.welcome"}) {
		t.Fatalf("Back to a: notes %v", ids)
	}
	// With a = no the note relevant on it is shown forward and back.
	x.tap("no")
	x.wantAt("b")
	forward, _ = says(x.last)
	x.tap("yes")
	x.do(Input{Kind: InBack})
	x.wantAt("b")
	if ids, _ := says(x.last); !slices.Equal(ids, forward) || len(ids) != 3 {
		t.Fatalf("Back to b after a = no: notes %v, forward %v", ids, forward)
	}
}

// A change of language at a question shows the notes before it again, in
// the new language (session 6): at the consent question, the welcome and
// notice the person perhaps could not read. Before, only "language
// changed" and the question.
func TestLanguageChangeShowsTheNotesBeforeTheQuestion(t *testing.T) {
	x := newSession(t, tipi(t))
	x.do(Input{Kind: InStart, Context: map[string]string{"municipality": "058091"}})
	x.do(Input{Kind: InSetLanguage, Lang: "it"})
	x.wantAt("ok")
	out := x.do(Input{Kind: InSetLanguage, Lang: "en"})
	x.wantAt("ok")
	if ids, before := says(out); !slices.Equal(ids, []string{MsgLangChanged, "q.tipi.hello"}) || !before {
		t.Fatalf("language changed at the consent question: notes %v (before the question: %v), want the change and the welcome: %+v", ids, before, out)
	}
	// At a question without a note before it: only the change.
	x.tap("yes")
	x.wantAt("age")
	out = x.do(Input{Kind: InSetLanguage, Lang: "it"})
	if ids, _ := says(out); !slices.Equal(ids, []string{MsgLangChanged}) {
		t.Fatalf("language changed at age: notes %v", ids)
	}
}

// Coming back to the interview at a question with notes before it shows
// them again above it (session 6, issue 19): /start, or a repeat for
// someone who returns (Input.Resume: a pause, a reminder, a redelivery),
// at the consent question shows the welcome and the information notice
// with "Do you agree?". Before, the question came alone. A plain repeat
// (a stale or garbled tap on the live card) stays the question alone, and
// a question without notes before it gets none.
func TestResumeShowsTheNotesBeforeTheQuestion(t *testing.T) {
	x := newSession(t, tipi(t))
	x.do(Input{Kind: InStart, Context: map[string]string{"municipality": "058091"}})
	x.do(Input{Kind: InSetLanguage, Lang: "en"})
	x.wantAt("ok")
	seq := x.s.Seq
	for _, in := range []Input{{Kind: InStart}, {Kind: InRepeat, Resume: true}} {
		out := x.do(in)
		x.wantAt("ok")
		if ids, before := says(out); !slices.Equal(ids, []string{"q.tipi.hello"}) || !before {
			t.Fatalf("%+v at the consent question: notes %v (before the question: %v), want the welcome above it: %+v", in, ids, before, out)
		}
		if x.s.Seq != seq {
			t.Fatalf("%+v made a new showing (seq %d, was %d): the buttons on screen went stale", in, x.s.Seq, seq)
		}
	}
	if ids, _ := says(x.do(Input{Kind: InRepeat})); len(ids) != 0 {
		t.Fatalf("a plain repeat showed %v", ids)
	}
	// Stale tap on the consent card: the notice and the question alone.
	if ids, _ := says(x.do(Input{Kind: InChoose, Option: "yes", Button: true, Pos: x.pos, Seq: x.seq + 1})); len(ids) != 0 {
		t.Fatalf("a stale tap showed notes %v", ids)
	}
	// A question without notes before it: none on resume.
	x.tap("yes")
	x.wantAt("age")
	if ids, _ := says(x.do(Input{Kind: InStart})); len(ids) != 0 {
		t.Fatalf("/start at age showed %v", ids)
	}
	// A resumed step that answers moves on as ever: the next question's
	// own notes only (none before height).
	x.do(Input{Kind: InText, Text: "30", Resume: true})
	x.wantAt("height")
	if ids, _ := says(x.last); len(ids) != 0 {
		t.Fatalf("answering after a pause showed %v", ids)
	}
}
