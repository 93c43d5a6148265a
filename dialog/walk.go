package dialog

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// A Picker answers one question of a walk: the choice names to give
// (one for a select_one, any number for a select_multiple), a typed value
// for other types, or skip. offered are the choices the question shows.
type Picker func(q *Question, offered []string) (answer []string, skip bool)

// WalkResult is what one walk through a form saw.
type WalkResult struct {
	// Screens counts the question screens shown: each question asked once
	// (re-asks after a refused answer do not count again). Notes are not
	// counted; the consent question is.
	Screens  int
	Asked    []string // question names in the order asked
	Response *Response
}

// Walk runs a whole interview of f through Step, in lang, with the start
// context ctx, answering every question with pick. It fails when the
// interview does not end within a bound or an answer is refused twice.
func Walk(f *Form, lang string, ctx map[string]string, pick Picker) (WalkResult, error) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	s := State{Lang: lang}
	var res WalkResult
	seen := map[int]bool{}
	s, out := Step(f, s, Input{Kind: InStart, Context: ctx}, now)
	refused := 0
	for step := 0; step < 10*len(f.Questions)+10; step++ {
		var ask *Reply
		for i := range out {
			switch out[i].Kind {
			case ReplyAsk:
				ask = &out[i]
			case ReplyComplete:
				res.Response = out[i].Response
			}
		}
		if ask == nil {
			// Notes are acknowledged by moving on; nothing left to ask.
			if s.Phase == PhaseAsking {
				return res, fmt.Errorf("walk stuck at position %d with no question asked", s.Pos)
			}
			return res, nil
		}
		q := f.Question(ask.Question)
		if q == nil {
			return res, fmt.Errorf("asked unknown question %q", ask.Question)
		}
		if !seen[q.Index] {
			seen[q.Index] = true
			res.Screens++
			res.Asked = append(res.Asked, q.Name)
			refused = 0
		} else if ask.Error != "" {
			if refused++; refused > 2 {
				return res, fmt.Errorf("%s: answer refused: %s", q.Name, ask.Error)
			}
		}
		var offered []string
		var ack bool
		for _, b := range ask.Buttons {
			switch b.Kind {
			case BtnChoose, BtnToggle:
				offered = append(offered, b.Option)
			case BtnAck:
				ack = true
			}
		}
		pos, seq := ask.Pos, ask.Seq
		do := func(in Input) {
			in.Pos, in.Seq, in.Button = pos, seq, in.Kind != InText
			var o []Reply
			s, o = Step(f, s, in, now)
			out = append(out, o...)
			now = now.Add(20 * time.Second)
		}
		out = nil
		if ack {
			do(Input{Kind: InChoose, Option: "ok"})
			continue
		}
		answer, skip := pick(q, offered)
		switch {
		case skip && !q.Required:
			do(Input{Kind: InSkip})
		case q.Type == TypeSelectMultiple:
			if ask.Error != "" && len(answer) > 1 {
				// Refused (a constraint the picker did not know): one
				// choice satisfies every constraint of the usual shapes.
				answer = answer[:1]
			}
			want := map[string]bool{}
			for _, a := range answer {
				want[a] = true
			}
			for _, b := range ask.Buttons {
				if b.Kind == BtnToggle && b.Checked && !want[b.Option] {
					do(Input{Kind: InToggle, Option: b.Option})
				}
			}
			for _, a := range answer {
				checked := false
				for _, b := range ask.Buttons {
					checked = checked || b.Kind == BtnToggle && b.Option == a && b.Checked
				}
				if !checked {
					do(Input{Kind: InToggle, Option: a})
				}
			}
			do(Input{Kind: InDone})
		case q.Type == TypeSelectOne || q.Type == TypeRange && len(offered) > 0:
			if len(answer) == 0 {
				return res, fmt.Errorf("%s: no answer picked for a required question", q.Name)
			}
			do(Input{Kind: InChoose, Option: answer[0]})
		default:
			do(Input{Kind: InText, Text: strings.Join(answer, " ")})
		}
	}
	return res, fmt.Errorf("walk did not end after %d steps", 10*len(f.Questions)+10)
}

// RandomPicker answers at random, as an eligible respondent who consents:
// about one optional question in skipRate is skipped; multi-selects tick
// 1 to MaxSelected choices (an exclusive one alone, now and then).
func RandomPicker(f *Form, rng *rand.Rand, skipRate int) Picker {
	return func(q *Question, offered []string) ([]string, bool) {
		if !q.Required && skipRate > 0 && rng.IntN(skipRate) == 0 {
			return nil, true
		}
		var ok []string
		for _, o := range offered {
			switch {
			case q.Name == f.Consent && o != "yes":
			case f.Eligible != nil && q.Name == "eta" && o == "under18":
			default:
				ok = append(ok, o)
			}
		}
		switch q.Type {
		case TypeSelectOne:
			return []string{ok[rng.IntN(len(ok))]}, false
		case TypeSelectMultiple:
			var excl, plain []string
			for _, o := range ok {
				if c, _ := q.List.Choice(o); c.Exclusive {
					excl = append(excl, o)
				} else {
					plain = append(plain, o)
				}
			}
			if len(plain) == 0 || len(excl) > 0 && rng.IntN(6) == 0 {
				return []string{excl[rng.IntN(len(excl))]}, false
			}
			max := len(plain)
			if q.MaxSelected > 0 && q.MaxSelected < max {
				max = q.MaxSelected
			}
			rng.Shuffle(len(plain), func(i, j int) { plain[i], plain[j] = plain[j], plain[i] })
			return plain[:1+rng.IntN(max)], false
		case TypeRange:
			return []string{ok[rng.IntN(len(ok))]}, false
		case TypeInteger, TypeDecimal:
			return []string{"1"}, false
		}
		return []string{"walk"}, false
	}
}

// ScriptPicker answers from a map of question name to answer (choice
// names separated by spaces, or a typed value); a question missing from
// the map is skipped.
func ScriptPicker(answers map[string]string) Picker {
	return func(q *Question, _ []string) ([]string, bool) {
		a, ok := answers[q.Name]
		if !ok {
			return nil, true
		}
		if q.Type == TypeSelectMultiple {
			return strings.Fields(a), false
		}
		return []string{a}, false
	}
}

// ScreenStats summarises the screen counts of many walks.
type ScreenStats struct {
	Walks                 int
	Min, Median, P90, Max int
}

// Stats computes the median, 90th percentile (nearest rank) and extremes.
func Stats(counts []int) ScreenStats {
	if len(counts) == 0 {
		return ScreenStats{}
	}
	c := append([]int(nil), counts...)
	sort.Ints(c)
	rank := func(p float64) int {
		i := int(p*float64(len(c))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return c[i]
	}
	return ScreenStats{Walks: len(c), Min: c[0], Median: rank(0.5), P90: rank(0.9), Max: c[len(c)-1]}
}
