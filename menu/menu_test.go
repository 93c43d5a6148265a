package menu

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot"
)

// No route is a prefix of another, so an Option has one route at most.
func TestRoutesUnique(t *testing.T) {
	rs := Routes()
	for i, a := range rs {
		if a.Route == "" || a.Need.Level() == 0 || a.What == "" {
			t.Errorf("route %q: empty route, role or description", a.Route)
		}
		for j, b := range rs {
			if i != j && strings.HasPrefix(string(b.Route), string(a.Route)) {
				t.Errorf("route %q is a prefix of route %q", a.Route, b.Route)
			}
		}
	}
}

// Every route of the table is found again from data made for it.
func TestRoutesReachable(t *testing.T) {
	for _, e := range Routes() {
		data, err := Data(e.Route, "x.1")
		if err != nil {
			t.Fatalf("%q: %v", e.Route, err)
		}
		cb, err := bot.DecodeCallback(data)
		if err != nil || cb.Kind != bot.CbStaff {
			t.Fatalf("%q: %q decodes to %+v, %v", e.Route, data, cb, err)
		}
		got, payload, ok := Lookup(cb.Option)
		if !ok || got.Route != e.Route || payload != "x.1" {
			t.Errorf("%q: Lookup(%q) = %q, %q, %v", e.Route, cb.Option, got.Route, payload, ok)
		}
	}
	if _, _, ok := Lookup("Q1"); ok {
		t.Error("an unknown route was found")
	}
}

func TestDataFits64Bytes(t *testing.T) {
	if _, err := Data(Invite, strings.Repeat("x", 64)); err != ErrTooLong {
		t.Fatalf("over 64 bytes: %v", err)
	}
}

type draft struct {
	A  Opt
	B  int64
	F  bool
	Tx string
}

func (d draft) encode() string {
	var e Enc
	return e.Opt(d.A).Int(d.B).Flag(d.F).Text(d.Tx).String()
}

func parse(s string) (draft, error) {
	dec := NewDec(s, 4)
	d := draft{A: dec.Opt(), B: dec.Int(), F: dec.Flag(), Tx: dec.Text()}
	if err := dec.Err(); err != nil || d.encode() != s {
		return d, ErrData
	}
	return d, nil
}

func TestCodecRoundTrip(t *testing.T) {
	for _, d := range []draft{{}, {A: Some(0)}, {A: Some(35), B: 36, F: true, Tx: "a.b c"}} {
		got, err := parse(d.encode())
		if err != nil || got != d {
			t.Errorf("%+v → %q → %+v, %v", d, d.encode(), got, err)
		}
	}
	// Unset and zero are different answers (no -1 sentinel).
	if (draft{}).encode() == (draft{A: Some(0)}).encode() {
		t.Error("unset and 0 encode alike")
	}
	for _, bad := range []string{"", "..", "-1.0..", "0.01..", "0.0.2.", "0.z!..", "0.0.1"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzCodec(f *testing.F) {
	for _, s := range []string{"..0.", "0.1.1.x", "z.zz..a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parse(s); err == nil && d.encode() != s {
			t.Fatalf("%q → %q", s, d.encode())
		}
	})
}

// A three-step wizard: a preset step, a choice, a typed step.
type wd struct {
	Preset, Choice Opt
	Text           string
}

func (d wd) enc() string {
	var e Enc
	return e.Opt(d.Preset).Opt(d.Choice).Text(d.Text).String()
}

func testWizard(preset bool) *Wizard[wd] {
	return &Wizard[wd]{Route: Invite, Encode: wd.enc, Steps: []Step[wd]{{
		Name: "preset", Done: func(d wd) bool { return d.Preset.Set }, Clear: func(d wd) wd { d.Preset = Opt{}; return d },
		Preset: func(_ context.Context, d wd) (wd, bool, error) { d.Preset = Some(7); return d, preset, nil },
		Ask: func(context.Context, wd) (Prompt[wd], error) {
			return Prompt[wd]{Text: "P?", Choices: []Choice[wd]{{Label: "seven", Next: wd{Preset: Some(7)}}}}, nil
		},
	}, {
		Name: "choice", Done: func(d wd) bool { return d.Choice.Set }, Clear: func(d wd) wd { d.Choice = Opt{}; return d },
		Ask: func(_ context.Context, d wd) (Prompt[wd], error) {
			zero, one := d, d
			zero.Choice, one.Choice = Some(0), Some(1)
			return Prompt[wd]{Text: "C?", Choices: []Choice[wd]{{Label: "zero", Next: zero}, {Label: "one", Next: one}}}, nil
		},
	}, {
		Name: "text", Done: func(d wd) bool { return d.Text != "" }, Clear: func(d wd) wd { d.Text = ""; return d },
		Ask: func(context.Context, wd) (Prompt[wd], error) { return Prompt[wd]{Text: "T?"}, nil },
		Input: func(_ context.Context, d wd, text string) (wd, string, error) {
			if strings.Contains(text, ".") {
				return d, "no dots", nil
			}
			d.Text = text
			return d, "", nil
		},
	}}}
}

var labels = Labels{Back: "Back", Cancel: "Cancel", Reply: "Reply"}

func keyboard(t *testing.T, m bot.Message) [][]string {
	t.Helper()
	var rows [][]string
	for _, row := range m.Keyboard {
		var r []string
		for _, k := range row {
			cb, err := bot.DecodeCallback(k.Data)
			if err != nil {
				t.Fatal(err)
			}
			r = append(r, k.Text+"="+cb.Option)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestWizardStepsBackCancelTyped(t *testing.T) {
	ctx := context.Background()
	w := testWizard(true)
	d, at, err := w.Resolve(ctx, wd{})
	if err != nil || at != 1 || d.Preset != Some(7) {
		t.Fatalf("Resolve: %+v at %d, %v", d, at, err)
	}
	m, err := w.Screen(ctx, d, at, "Head", labels)
	if err != nil {
		t.Fatal(err)
	}
	// The preset step is passed over: no Back from the first question asked.
	if got, want := keyboard(t, m), [][]string{{"zero=I7.0.", "one=I7.1."}, {"Cancel=C"}}; !equal(got, want) {
		t.Fatalf("choice screen %v, want %v", got, want)
	}
	if m.Text != "Head\n\nC?" {
		t.Fatalf("text %q", m.Text)
	}
	d.Choice = Some(0)
	if _, at, _ = w.Resolve(ctx, d); at != 2 {
		t.Fatalf("at %d", at)
	}
	m, _ = w.Screen(ctx, d, 2, "", labels)
	// A typed step: its first button carries the draft itself; Back
	// forgets the choice.
	if got, want := keyboard(t, m), [][]string{{"Reply=I7.0."}, {"Back=I7..", "Cancel=C"}}; !equal(got, want) {
		t.Fatalf("typed screen %v, want %v", got, want)
	}
	next, at, problem, ok, err := w.Typed(ctx, d, "a.b")
	if !ok || err != nil || problem != "no dots" || at != 2 {
		t.Fatalf("bad text: %+v %d %q %v %v", next, at, problem, ok, err)
	}
	next, _, problem, ok, _ = w.Typed(ctx, d, "hello")
	if !ok || problem != "" || next.Text != "hello" {
		t.Fatalf("text: %+v %q %v", next, problem, ok)
	}
	if _, at, _ = w.Resolve(ctx, next); at != len(w.Steps) {
		t.Fatalf("complete draft at %d", at)
	}
	// Not a typed step: a reply is not the wizard's.
	if _, _, _, ok, _ := w.Typed(ctx, wd{Preset: Some(7)}, "x"); ok {
		t.Fatal("a choice step took typed input")
	}
	// Without the preset, Back from the choice returns to the first step.
	w = testWizard(false)
	if prev, ok, _ := w.Back(ctx, wd{Preset: Some(7)}, 1); !ok || prev.Preset.Set {
		t.Fatalf("Back: %+v %v", prev, ok)
	}
}

func equal(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "|") != strings.Join(b[i], "|") {
			return false
		}
	}
	return true
}
