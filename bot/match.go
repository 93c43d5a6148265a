package bot

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/needsbot/needsbot/dialog"
)

// Typed answers on choice questions. A respondent who types instead of
// tapping is understood when the text names one option: its label in the
// respondent's language (case, accents, punctuation and spacing forgiven),
// a unique prefix of it, a close spelling of a long label, or its number in
// the list (digits of any script, Ethiopic and Chinese numerals); at a list of bands (choices with min and
// max: ages), a number picks the band that contains it. Matching works on the rendered labels,
// so it happens here, before dialog.Step.

// fold is the normal form texts are compared in: digits of any script as
// ASCII, compatibility forms (full-width letters) unified, combining marks
// (accents, Arabic vowel signs) dropped, case folded, anything but letters
// and digits a single space.
func fold(s string) string {
	s = dialog.NormalizeDigits(s)
	s = norm.NFKD.String(s)
	s = cases.Fold().String(s)
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mc, r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// matchLabel returns the index of the label text names, or -1. numbered
// says how many leading labels are numbered options (the list's options;
// navigation keys follow and can only be named, not numbered).
func matchLabel(text string, labels []string, numbered int) int {
	t := fold(text)
	if t == "" {
		return -1
	}
	folded := make([]string, len(labels))
	for i, l := range labels {
		folded[i] = fold(l)
	}
	// The exact label.
	if i := unique(folded, func(l string) bool { return l == t }); i >= 0 {
		return i
	}
	// Its number in the list ("3", "٣", "3.", "፫", "三").
	n, err := strconv.Atoi(t)
	if err != nil {
		if v, ok := dialog.ParseNumeral(text); ok && v > 0 && v <= int64(numbered) {
			n, err = int(v), nil
		}
	}
	if err == nil {
		if n >= 1 && n <= numbered {
			return n - 1
		}
		return -1
	}
	tr := []rune(t)
	// A unique prefix (at least 3 letters: "marocc", "25 a 34"), or the
	// label's words in order at the start ("da 25").
	if len(tr) >= 3 {
		if i := unique(folded, func(l string) bool { return strings.HasPrefix(l, t) }); i >= 0 {
			return i
		}
	}
	// A close spelling of a label of 5 letters or more: at most one edit
	// per 5 letters, and clearly closer than any other label.
	best, second, at := 1<<30, 1<<30, -1
	for i, l := range folded {
		lr := []rune(l)
		if len(lr) < 5 {
			continue
		}
		d := distance(tr, lr)
		if d > len(lr)/5 {
			continue
		}
		switch {
		case d < best:
			best, second, at = d, best, i
		case d < second:
			second = d
		}
	}
	if at >= 0 && second > best {
		return at
	}
	return -1
}

// unique returns the index of the only label that ok accepts, or -1.
func unique(labels []string, ok func(string) bool) int {
	at := -1
	for i, l := range labels {
		if l != "" && ok(l) {
			if at >= 0 {
				return -1
			}
			at = i
		}
	}
	return at
}

// distance is the Levenshtein distance between a and b.
func distance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typedChoice turns text typed at a choice question into the input a tap
// on the option (or navigation key) it names would have made. ok is false
// when the question takes typed answers itself or nothing matches: the
// engine then explains which buttons to tap.
func (r *Renderer) typedChoice(lang string, f *dialog.Form, s dialog.State, text string, now func() time.Time) (dialog.Input, bool) {
	if s.Phase != dialog.PhaseAsking || s.Pos < 0 || s.Pos >= len(f.Questions) {
		return dialog.Input{}, false
	}
	switch f.Questions[s.Pos].Type {
	case dialog.TypeSelectOne, dialog.TypeSelectMultiple:
	default:
		return dialog.Input{}, false
	}
	// The buttons on screen, as the engine shows them now (Step is pure).
	_, replies := dialog.Step(f, s, dialog.Input{Kind: dialog.InRepeat}, now())
	var ask *dialog.Reply
	for i := range replies {
		if replies[i].Kind == dialog.ReplyAsk {
			ask = &replies[i]
		}
	}
	if ask == nil {
		return dialog.Input{}, false
	}
	var opts, nav []dialog.Button
	for _, b := range ask.Buttons {
		switch b.Kind {
		case dialog.BtnChoose, dialog.BtnToggle:
			opts = append(opts, b)
		case dialog.BtnBack, dialog.BtnSkip, dialog.BtnDone:
			nav = append(nav, b)
		}
	}
	// A number typed at a list of bands (ages: "30", "۳۰") picks the band
	// that contains it, not the option at that place; a number in no
	// band is not understood.
	if q := f.Questions[s.Pos]; q.List.Banded() {
		if v, ok := dialog.ParseNumber(text, true); ok {
			x, _ := strconv.ParseFloat(v, 64)
			for _, b := range opts {
				c, ok := q.List.Choice(b.Option)
				if lo, hi, banded := c.Bounds(); ok && banded && lo <= x && x <= hi {
					return pressed(b, ask), true
				}
			}
			return dialog.Input{}, false
		}
	}
	all := append(opts, nav...)
	labels := make([]string, len(all))
	for i, b := range all {
		if b.Literal != "" {
			labels[i] = b.Literal
		} else {
			labels[i] = r.Plain(lang, b.Label, nil)
		}
	}
	i := matchLabel(text, labels, len(opts))
	if i < 0 {
		return dialog.Input{}, false
	}
	return pressed(all[i], ask), true
}

// pressed is the input a tap on b, shown with ask, makes.
func pressed(b dialog.Button, ask *dialog.Reply) dialog.Input {
	in := dialog.Input{Option: b.Option, Pos: ask.Pos, Seq: ask.Seq}
	switch b.Kind {
	case dialog.BtnChoose:
		in.Kind = dialog.InChoose
	case dialog.BtnToggle:
		in.Kind = dialog.InToggle
	case dialog.BtnBack:
		in.Kind = dialog.InBack
	case dialog.BtnSkip:
		in.Kind = dialog.InSkip
	case dialog.BtnDone:
		in.Kind = dialog.InDone
	}
	return in
}
