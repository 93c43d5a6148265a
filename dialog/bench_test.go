package dialog

import (
	"bytes"
	"reflect"
	"testing"
)

// halfway walks the shipped immigrants' questionnaire, answering the first
// option of every question, until n questions are answered.
func halfway(b testing.TB, n int) (*Form, State) {
	f := mustParseFile(b, "forms/immigrati.yaml")
	x := newSession(b, f)
	x.do(Input{Kind: InStart, Context: map[string]string{"invite": "AbCdEfGhIjKlMnOpQrStUv", "municipality": "058091"}})
	x.do(Input{Kind: InSetLanguage, Lang: "it"})
	for answered := 0; answered < n && x.s.Phase == PhaseAsking; answered++ {
		q := x.f.Questions[x.s.Pos]
		switch q.Type {
		case TypeSelectMultiple:
			x.tap(x.buttons[0].Option)
			x.done()
		case TypeText, TypeInteger, TypeDecimal:
			x.text("7")
		default:
			opt := x.buttons[0].Option
			if q.Name == "eta" {
				opt = "25_34"
			}
			x.tap(opt)
		}
	}
	if x.s.Phase != PhaseAsking {
		b.Fatalf("walk ended early: %+v", x.s)
	}
	return f, x.s
}

// BenchmarkStep measures one tap on a single-choice question half-way
// through the immigrants' questionnaire.
func BenchmarkStep(b *testing.B) {
	f, s := halfway(b, 15)
	q := f.Questions[s.Pos]
	var opt string
	kind := InChoose
	if q.List != nil {
		opt = q.List.Choices[0].Name
		if q.Type == TypeSelectMultiple {
			kind = InToggle
		}
	}
	in := Input{Kind: kind, Option: opt, Button: true, Pos: s.Pos, Seq: s.Seq}
	b.ReportAllocs()
	for b.Loop() {
		next, out := Step(f, s, in, t0)
		if len(out) == 0 || next.Version == s.Version {
			b.Fatal("step did nothing")
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	_, s := halfway(b, 15)
	enc, err := Encode(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(enc)), "bytes")
}

func BenchmarkDecode(b *testing.B) {
	_, s := halfway(b, 15)
	enc, _ := Encode(s)
	b.ReportMetric(float64(len(enc)), "bytes")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHalfwayEncodedSize keeps a half-finished interview under 1 KiB.
func TestHalfwayEncodedSize(t *testing.T) {
	_, s := halfway(t, 15)
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a half-finished interview (15 answers) encodes to %d bytes", len(enc))
	if len(enc) >= 1024 {
		t.Errorf("half-finished interview encodes to %d bytes, want < 1024", len(enc))
	}
}

// A tap half-way through the form (BenchmarkStep's) makes at most 10
// allocations: the step's replies are one allocation for the answer and
// the next question (they were appended into a slice grown twice: 11).
func TestStepAllocations(t *testing.T) {
	f, s := halfway(t, 15)
	q := f.Questions[s.Pos]
	in := Input{Kind: InChoose, Option: q.List.Choices[0].Name, Button: true, Pos: s.Pos, Seq: s.Seq}
	if q.Type == TypeSelectMultiple {
		in.Kind = InToggle
	}
	if n := testing.AllocsPerRun(20, func() { Step(f, s, in, t0) }); n > 10 {
		t.Errorf("a tap half-way makes %v allocations, want at most 10", n)
	}
}

// TestDecodeOwnedCopiesNothing: a record handed over (DecodeOwned, as a
// turn decodes what its store read) is decoded without the copy of the
// record Decode makes for the state's strings (one allocation of its size:
// ~700 bytes half-way), to the same state.
func TestDecodeOwnedCopiesNothing(t *testing.T) {
	_, s := halfway(t, 15)
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Decode(enc)
	got, err := DecodeOwned(bytes.Clone(enc))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeOwned = %+v, %v; want %+v", got, err, want)
	}
	copied := testing.AllocsPerRun(50, func() { _, _ = Decode(enc) })
	owned := testing.AllocsPerRun(50, func() { _, _ = DecodeOwned(enc) })
	if owned != copied-1 {
		t.Errorf("DecodeOwned makes %v allocations, Decode %v: want one fewer", owned, copied)
	}
}
