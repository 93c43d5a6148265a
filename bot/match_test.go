package bot

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"  Da 25 a 34 ANNI. ": "da 25 a 34 anni",
		"Perù":                "peru",
		"Ｍａｒｏｃｃｏ":             "marocco",
		"٣":                   "3",
		"۳)":                  "3",
		"३":                   "3",
		"৩":                   "3",
		"３":                   "3",
		"نَعَم":               "نعم",
		"Ça va":               "ca va",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatchLabel(t *testing.T) {
	ages := []string{"Meno di 18 anni", "Da 18 a 24 anni", "Da 25 a 34 anni", "Da 35 a 44 anni", "65 anni o più", "◀ Indietro"}
	countries := []string{"Romania", "Marocco", "Albania", "Perù", "Un altro Paese", "Preferisco non rispondere", "◀ Indietro"}
	arabic := []string{"أقل من 18 سنة", "من 18 إلى 24 سنة", "من 25 إلى 34 سنة", "◀ رجوع"}
	chinese := []string{"罗马尼亚", "摩洛哥", "阿尔巴尼亚", "◀ 返回"}
	for _, tc := range []struct {
		name   string
		text   string
		labels []string
		nopts  int
		want   int
	}{
		{"exact label", "Da 25 a 34 anni", ages, 5, 2},
		{"case and spacing", "  da 25 A 34   ANNI ", ages, 5, 2},
		{"number", "3", ages, 5, 2},
		{"number with a dot", "3.", ages, 5, 2},
		{"Arabic-Indic digit", "٣", ages, 5, 2},
		{"Persian digit", "۳", ages, 5, 2},
		{"Devanagari digit", "३", ages, 5, 2},
		{"Bengali digit", "৩", ages, 5, 2},
		{"full-width digit", "３", ages, 5, 2},
		{"number out of the list", "9", ages, 5, -1},
		{"a navigation key has no number", "6", ages, 5, -1},
		{"unique prefix", "da 35", ages, 5, 3},
		{"ambiguous prefix", "da ", ages, 5, -1},
		{"accents forgiven", "peru", countries, 6, 3},
		{"prefix of a long label", "preferisco", countries, 6, 5},
		{"typo in a long label", "Marrocco", countries, 6, 1},
		{"typo in a long label 2", "preferisco non rispondre", countries, 6, 5},
		{"too far", "Mexico", countries, 6, -1},
		{"navigation by name", "indietro", countries, 6, 6},
		{"Arabic label", "من 25 إلى 34 سنة", arabic, 3, 2},
		{"Arabic number", "٢", arabic, 3, 1},
		{"Arabic back", "رجوع", arabic, 3, 3},
		{"Chinese label", "摩洛哥", chinese, 3, 1},
		{"Chinese full-width number", "３", chinese, 3, 2},
		{"junk", "ciao", ages, 5, -1},
		{"empty", " 🙂 ", ages, 5, -1},
	} {
		if got := matchLabel(tc.text, tc.labels, tc.nopts); got != tc.want {
			t.Errorf("%s: matchLabel(%q) = %d, want %d", tc.name, tc.text, got, tc.want)
		}
	}
}

// TestTypedChoice checks the whole path on the real questionnaire and
// catalog: what the respondent types becomes the tap it names.
func TestTypedChoice(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Latest("immigrati")
	now := func() time.Time { return now0 }
	for _, tc := range []struct {
		lang, text string
		kind       dialog.InputKind
		option     string
	}{
		{"it", "Da 25 a 34 anni", dialog.InChoose, "25_34"},
		{"it", "da 25 a 34", dialog.InChoose, "25_34"},
		// The age list is a list of bands (min, max): a number is an
		// age, in any script, not the option's place.
		{"it", "30", dialog.InChoose, "25_34"},
		{"ur", "۳۰", dialog.InChoose, "25_34"},
		{"fa", "۳۰", dialog.InChoose, "25_34"},
		{"ar", "٣٠", dialog.InChoose, "25_34"},
		{"bn", "৩০", dialog.InChoose, "25_34"},
		{"hi", "३०", dialog.InChoose, "25_34"},
		{"zh-Hans", "３０", dialog.InChoose, "25_34"},
		{"it", " 34 ", dialog.InChoose, "25_34"},
		{"it", "35", dialog.InChoose, "35_44"},
		{"it", "18", dialog.InChoose, "18_24"},
		{"it", "17", dialog.InChoose, "under18"},
		{"it", "10", dialog.InChoose, "under18"},
		{"it", "64", dialog.InChoose, "55_64"},
		{"it", "65", dialog.InChoose, "65_plus"},
		{"it", "90", dialog.InChoose, "65_plus"},
		{"en", "25 to 34", dialog.InChoose, "25_34"},
		{"it", "indietro", dialog.InBack, ""},
	} {
		s, _ := dialog.Step(f, dialog.State{Lang: tc.lang}, dialog.Input{Kind: dialog.InStart}, now0)
		s, _ = dialog.Step(f, s, dialog.Input{Kind: dialog.InChoose, Option: "yes", Button: true, Pos: s.Pos, Seq: s.Seq}, now0)
		in, ok := r.typedChoice(tc.lang, f, s, tc.text, now)
		if !ok || in.Kind != tc.kind || in.Option != tc.option {
			t.Errorf("%s %q: %+v %v, want kind %d option %q", tc.lang, tc.text, in, ok, tc.kind, tc.option)
			continue
		}
		next, _ := dialog.Step(f, s, in, now0)
		if tc.kind == dialog.InChoose && tc.option != "under18" && next.Answers["eta"] != tc.option { // under 18 ends, below
			t.Errorf("%s %q: not accepted by the engine: %v", tc.lang, tc.text, next.Answers)
		}
	}
	// Nothing matches: the engine re-asks (not a match).
	s, _ := dialog.Step(f, dialog.State{Lang: "it"}, dialog.Input{Kind: dialog.InStart}, now0)
	if _, ok := r.typedChoice("it", f, s, "ciao", now); ok {
		t.Error("junk matched an option")
	}
	// A number in no band is not understood (the normal re-prompt).
	s, _ = dialog.Step(f, s, dialog.Input{Kind: dialog.InChoose, Option: "yes", Button: true, Pos: s.Pos, Seq: s.Seq}, now0)
	// A single digit is a key's place by habit, not an age: asked again
	// rather than taken for under 18 (which ends the interview); 121 is no age.
	for _, text := range []string{"-3", "2.5e3x", "24.5", "3", "۳", "9", "121"} {
		if in, ok := r.typedChoice("it", f, s, text, now); ok {
			t.Errorf("%q at the age question: %+v, want not understood", text, in)
		}
	}
	// Under 18 typed as a number ends the interview as the key does.
	in, ok := r.typedChoice("it", f, s, "16", now)
	if !ok || in.Option != "under18" {
		t.Fatalf("16: %+v %v", in, ok)
	}
	if s, _ = dialog.Step(f, s, in, now0); s.Phase != dialog.PhaseDone || s.Outcome != dialog.OutcomeIneligible {
		t.Errorf("16: phase %v outcome %q, want the end (ineligible)", s.Phase, s.Outcome)
	}
}

// stepTo answers f's questions from answers until the question called
// name is asked (a choice each, as taps).
func stepTo(t *testing.T, f *dialog.Form, lang, name string, answers map[string]string) dialog.State {
	t.Helper()
	s, _ := dialog.Step(f, dialog.State{Lang: lang}, dialog.Input{Kind: dialog.InStart}, now0)
	for range 20 {
		if s.Phase != dialog.PhaseAsking {
			break
		}
		q := f.Questions[s.Pos]
		if q.Name == name {
			return s
		}
		a, ok := answers[q.Name]
		if !ok {
			t.Fatalf("%s v%d: no answer for %s on the way to %s", f.ID, f.Version, q.Name, name)
		}
		s, _ = dialog.Step(f, s, dialog.Input{Kind: dialog.InChoose, Option: a, Button: true, Pos: s.Pos, Seq: s.Seq}, now0)
	}
	t.Fatalf("%s v%d: %s not reached (phase %v)", f.ID, f.Version, name, s.Phase)
	return s
}

// Numbers typed in Ethiopic (ti) or Chinese numerals are read as numbers
// wherever typed numbers are: an age at the age bands, years at the bands
// of years in Italy (v2, and v1 for interviews still on it), an option's
// place at a list without bands. The years' edges: 0 and "0,5" are less
// than a year, 10 is 6–10, 11 and 100 more than 10; a year of arrival
// ("2019"), a number between bands ("2.5") or below 0 is not understood
// (asked again).
func TestTypedNumerals(t *testing.T) {
	r, lib := testRenderer(t)
	now := func() time.Time { return now0 }
	way := map[string]string{"consenso": "yes", "eta": "25_34", "genere": "donna", "cittadinanza": "romania", "servizio": "anagrafe"}
	type typed struct{ lang, text, option string }
	for _, f := range []*dialog.Form{lib.Latest("immigrati"), lib.Get("immigrati", 1)} {
		check := func(at string, cases []typed) {
			t.Helper()
			for _, tc := range cases {
				s := stepTo(t, f, tc.lang, at, way)
				in, ok := r.typedChoice(tc.lang, f, s, tc.text, now)
				if tc.option == "" {
					if ok {
						t.Errorf("v%d %s %s %q: %+v, want not understood", f.Version, at, tc.lang, tc.text, in)
					}
					continue
				}
				if !ok || in.Kind != dialog.InChoose || in.Option != tc.option {
					t.Errorf("v%d %s %s %q: %+v %v, want %q", f.Version, at, tc.lang, tc.text, in, ok, tc.option)
					continue
				}
				if next, _ := dialog.Step(f, s, in, now0); tc.option != "under18" && next.Answers[at] != tc.option { // under 18 ends
					t.Errorf("v%d %s %s %q: not accepted by the engine: %v", f.Version, at, tc.lang, tc.text, next.Answers)
				}
			}
		}
		check("eta", []typed{
			{"ti", "፴", "25_34"}, {"ti", "፳፭", "25_34"}, {"ti", "፲፰", "18_24"}, {"ti", "፷፭", "65_plus"},
			{"zh-Hans", "三十", "25_34"}, {"zh-Hans", "二十五", "25_34"}, {"zh-Hans", "十七", "under18"},
			{"zh-Hans", "六十五", "65_plus"}, {"it", "30", "25_34"},
			// A single digit is asked again, in any numerals.
			{"ti", "፫", ""}, {"zh-Hans", "三", ""},
		})
		check("anni_italia", []typed{
			{"it", "0", "lt1"}, {"it", "0,5", "lt1"}, {"it", "1", "1_2"}, {"it", "2", "1_2"},
			{"it", "3", "3_5"}, {"ar", "٣", "3_5"}, {"fa", "۳", "3_5"}, {"bn", "৩", "3_5"}, {"ti", "፫", "3_5"},
			{"zh-Hans", "三", "3_5"}, {"zh-Hans", "３", "3_5"}, {"it", "5", "3_5"}, {"it", "6", "6_10"},
			{"it", "10", "6_10"}, {"ti", "፲", "6_10"}, {"it", "11", "gt10"}, {"zh-Hans", "十五", "gt10"},
			{"ti", "፳", "gt10"}, {"it", "100", "gt10"},
			{"it", "meno di 1 anno", "lt1"}, // the label still
			{"it", "2019", ""}, {"it", "2.5", ""}, {"it", "-1", ""}, {"it", "101", ""},
		})
	}
	// A list without bands: a numeral is the option's place, as a digit.
	f := lib.Latest("immigrati")
	for _, tc := range []typed{{"zh-Hans", "三", "altro"}, {"ti", "፪", "uomo"}, {"zh-Hans", "二", "uomo"}, {"ti", "፭", ""}} {
		s := stepTo(t, f, tc.lang, "genere", map[string]string{"consenso": "yes", "eta": "25_34"})
		in, ok := r.typedChoice(tc.lang, f, s, tc.text, now)
		if tc.option == "" {
			if ok {
				t.Errorf("genere %s %q: %+v, want not understood (4 options and the back key)", tc.lang, tc.text, in)
			}
			continue
		}
		if !ok || in.Option != tc.option {
			t.Errorf("genere %s %q: %+v %v, want %q", tc.lang, tc.text, in, ok, tc.option)
		}
	}
}
