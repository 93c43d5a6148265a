package results

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// SynthPlace is a municipality synthetic interviews happen in.
type SynthPlace struct {
	ID       int64
	Weight   float64 // relative share of the interviews (default 1)
	Services []pgstore.Service
}

// Synth makes synthetic but plausible interviews for benchmarks and demos:
// it walks the real questionnaires with dialog.Step, as a respondent
// tapping buttons would, so every interview is one the bot could have
// recorded (relevance, constraints, exclusive choices, required answers).
// Choices follow per-municipality preferences (a random ranking of each
// question's choices with Zipf-like weights), so results differ between
// places the way real ones do. A Synth is not safe for concurrent use:
// give each goroutine its own, with its own seed.
type Synth struct {
	Forms  *dialog.Library
	Places []SynthPlace
	Rand   *rand.Rand
	Now    time.Time
	Days   int // interviews start over the Days days before Now (default 180)
	// OperatorShare is the share of interviews of the operators'
	// questionnaire (default 0.08); AbandonShare the share of interviews
	// abandoned after consent (default 0.15).
	OperatorShare float64
	AbandonShare  float64

	prefs map[string][]float64 // place/form/question → weights by choice index
}

// Respondent languages and their weights, roughly the communities of
// QUESTIONNAIRES.md; operators answer in Italian or English.
var (
	synthLanguages = []string{"it", "ar", "en", "ro", "sq", "uk", "zh-Hans", "bn", "ur", "pa", "hi", "fr", "es", "pt", "ru", "tl"}
	synthLangW     = []float64{28, 10, 8, 8, 6, 5, 5, 5, 4, 4, 3, 4, 3, 2, 3, 2}
	synthComments  = []string{"Servono più mediatori culturali.", "Orari più lunghi allo sportello, per favore.",
		"Più informazioni in arabo.", "Grazie per l'aiuto.", "Tempi di attesa troppo lunghi per il permesso.",
		"Corsi di italiano la sera.", "More help to find a house.", "Il personale è stato gentile."}
)

// errWalk is a walk that did not end (a questionnaire the walker cannot
// complete).
var errWalk = errors.New("results: synthetic walk did not end")

// Next makes one interview: a completed one (with its response) or, with
// the abandon share, an abandoned one.
func (g *Synth) Next() (*pgstore.Completed, *pgstore.Abandoned, error) {
	if g.prefs == nil {
		g.prefs = map[string][]float64{}
	}
	days := g.Days
	if days <= 0 {
		days = 180
	}
	opShare, abShare := g.OperatorShare, g.AbandonShare
	if opShare == 0 {
		opShare = 0.08
	}
	if abShare == 0 {
		abShare = 0.15
	}
	// The first respondents' form, and with the operators' share the
	// first staff form (as each declares its audience).
	var respForm, staffForm string
	if ids := g.Forms.Respondents(); len(ids) > 0 {
		respForm = ids[0]
	}
	if ids := g.Forms.StaffForms(); len(ids) > 0 {
		staffForm = ids[0]
	}
	formID, lang := respForm, synthLanguages[g.weighted(synthLangW)]
	if g.Rand.Float64() < opShare && staffForm != "" {
		formID, lang = staffForm, "it"
		if g.Rand.Float64() < 0.15 {
			lang = "en"
		}
	}
	f := g.Forms.Latest(formID)
	if f == nil {
		return nil, nil, fmt.Errorf("results: synth: no questionnaire %s", formID)
	}
	pw := make([]float64, len(g.Places))
	for i, p := range g.Places {
		pw[i] = p.Weight
		if pw[i] <= 0 {
			pw[i] = 1
		}
	}
	place := g.Places[g.weighted(pw)]
	ctx := map[string]string{interview.CtxMunicipality: strconv.FormatInt(place.ID, 10)}
	var service *int64
	if len(place.Services) > 0 && g.Rand.Float64() < 0.9 {
		sv := place.Services[g.Rand.IntN(len(place.Services))]
		ctx[interview.CtxService] = strconv.FormatInt(sv.ID, 10)
		ctx[interview.CtxServiceCode] = sv.Code
		service = &sv.ID
	}
	// Started: over the period, at office hours in Italy.
	start := g.Now.Add(-time.Duration(g.Rand.Float64() * float64(time.Duration(days)*24*time.Hour)))
	start = start.Truncate(time.Hour).Add(time.Duration(g.Rand.IntN(3600)) * time.Second)
	abandonAt := -1
	if g.Rand.Float64() < abShare {
		abandonAt = 2 + g.Rand.IntN(30)
	}
	id := g.id()

	now := start
	st, out := dialog.Step(f, dialog.State{Lang: lang}, dialog.Input{Kind: dialog.InStart, Context: ctx}, now)
	switched := false
	for step := 0; step < 400; step++ {
		var ask *dialog.Reply
		for i := range out {
			switch out[i].Kind {
			case dialog.ReplyComplete:
				r := out[i].Response
				if r == nil {
					return nil, nil, fmt.Errorf("%w: %s ended without a response", errWalk, f.ID)
				}
				return &pgstore.Completed{ID: id, MunicipalityID: place.ID, ServiceID: service,
					ConsentVersion: r.Form + "/" + strconv.Itoa(r.FormVersion), Types: pgstore.QuestionTypes(f),
					Response: *r}, nil, nil
			case dialog.ReplyAsk, dialog.ReplyKeyboard:
				ask = &out[i]
			}
		}
		if st.Phase == dialog.PhaseDone {
			// Declined or ineligible: the walker never does either.
			return nil, nil, fmt.Errorf("%w: %s ended as %s", errWalk, f.ID, st.Outcome)
		}
		if ask == nil {
			return nil, nil, fmt.Errorf("%w: %s: nothing asked", errWalk, f.ID)
		}
		if step == abandonAt && st.Consent {
			return nil, &pgstore.Abandoned{ID: id, Form: f.ID, FormVersion: f.Version, MunicipalityID: place.ID,
				ServiceID: service, Language: st.Lang, LastQuestion: st.Reached, StartedAt: start,
				AbandonedAt: minTime(now.Add(24*time.Hour), g.Now)}, nil
		}
		now = now.Add(time.Duration(4+g.Rand.IntN(30)) * time.Second)
		if !switched && formID == respForm && lang != "it" && step == 10 && g.Rand.Float64() < 0.05 {
			// Some switch to Italian half-way.
			switched = true
			st, out = dialog.Step(f, st, dialog.Input{Kind: dialog.InSetLanguage, Lang: "it"}, now)
			continue
		}
		st, out = g.answer(f, place.ID, st, ask, now)
	}
	return nil, nil, fmt.Errorf("%w: %s after 400 steps", errWalk, f.ID)
}

// answer gives the question on screen a random, valid answer.
func (g *Synth) answer(f *dialog.Form, place int64, st dialog.State, ask *dialog.Reply, now time.Time) (dialog.State, []dialog.Reply) {
	q := f.Question(ask.Question)
	in := func(kind dialog.InputKind, opt string) dialog.Input {
		return dialog.Input{Kind: kind, Option: opt, Button: true, Pos: st.Pos, Seq: st.Seq}
	}
	var opts []string
	canSkip := false
	for _, b := range ask.Buttons {
		switch b.Kind {
		case dialog.BtnChoose, dialog.BtnToggle:
			opts = append(opts, b.Option)
		case dialog.BtnSkip:
			canSkip = true
		}
	}
	switch {
	case q == nil:
		return dialog.Step(f, st, in(dialog.InChoose, "ok"), now)
	case q.Type == dialog.TypeAcknowledge:
		return dialog.Step(f, st, in(dialog.InChoose, "ok"), now)
	case q.Name == f.Consent:
		return dialog.Step(f, st, in(dialog.InChoose, "yes"), now)
	case q.Type == dialog.TypeText:
		if canSkip && g.Rand.Float64() < 0.75 {
			return dialog.Step(f, st, in(dialog.InSkip, ""), now)
		}
		return dialog.Step(f, st, dialog.Input{Kind: dialog.InText, Text: synthComments[g.Rand.IntN(len(synthComments))]}, now)
	case q.Type == dialog.TypeInteger || q.Type == dialog.TypeDecimal:
		return dialog.Step(f, st, dialog.Input{Kind: dialog.InText, Text: strconv.Itoa(1 + g.Rand.IntN(20))}, now)
	case q.Type == dialog.TypeSelectMultiple:
		return g.multi(f, place, st, q, opts, now)
	}
	if canSkip && ask.Error == "" && g.Rand.Float64() < 0.05 {
		return dialog.Step(f, st, in(dialog.InSkip, ""), now)
	}
	if len(opts) == 0 {
		return dialog.Step(f, st, in(dialog.InSkip, ""), now)
	}
	// Only choices that keep the respondent eligible (adults only, say):
	// the others end the interview without a response.
	var eligible []string
	for _, o := range opts {
		if !f.Excludes(st.Answers, q, o) {
			eligible = append(eligible, o)
		}
	}
	opts = eligible
	return dialog.Step(f, st, in(dialog.InChoose, opts[g.pick(place, f, q, opts)]), now)
}

// multi ticks one to three choices (rarely a lone none or pnta) and
// confirms.
func (g *Synth) multi(f *dialog.Form, place int64, st dialog.State, q *dialog.Question, opts []string, now time.Time) (dialog.State, []dialog.Reply) {
	var normal, exclusive []string
	for _, o := range opts {
		if ch, ok := q.List.Choice(o); ok && ch.Exclusive {
			exclusive = append(exclusive, o)
		} else {
			normal = append(normal, o)
		}
	}
	var picks []string
	if len(exclusive) > 0 && g.Rand.Float64() < 0.07 || len(normal) == 0 {
		if len(exclusive) > 0 {
			picks = []string{exclusive[g.Rand.IntN(len(exclusive))]}
		}
	} else {
		k := 1 + g.weighted([]float64{35, 35, 30})
		if q.MaxSelected > 0 {
			k = min(k, q.MaxSelected)
		}
		left := append([]string(nil), normal...)
		for len(picks) < k && len(left) > 0 {
			i := g.pick(place, f, q, left)
			picks = append(picks, left[i])
			left = append(left[:i], left[i+1:]...)
		}
	}
	var out []dialog.Reply
	for _, p := range picks {
		st, out = dialog.Step(f, st, dialog.Input{Kind: dialog.InToggle, Option: p, Button: true, Pos: st.Pos, Seq: st.Seq}, now)
		_ = out
	}
	return dialog.Step(f, st, dialog.Input{Kind: dialog.InDone, Button: true, Pos: st.Pos, Seq: st.Seq}, now)
}

// pick chooses among opts by the place's preferences for the question.
func (g *Synth) pick(place int64, f *dialog.Form, q *dialog.Question, opts []string) int {
	key := strconv.FormatInt(place, 10) + "/" + f.ID + "/" + q.Name
	pref, ok := g.prefs[key]
	if !ok && q.List != nil {
		// A stable ranking per place and question: the same whatever
		// the seed of this Synth, so that parallel generators agree.
		r := rand.New(rand.NewPCG(uint64(place), hash(f.ID+"/"+q.Name)))
		pref = make([]float64, len(q.List.Choices))
		for i, rank := range r.Perm(len(pref)) {
			pref[i] = 1 / math.Pow(float64(rank+1), 0.9)
		}
		g.prefs[key] = pref
	}
	w := make([]float64, len(opts))
	for i, o := range opts {
		w[i] = 1
		if q.List != nil {
			for j, ch := range q.List.Choices {
				if ch.Name == o && j < len(pref) {
					w[i] = pref[j]
				}
			}
		}
	}
	return g.weighted(w)
}

func (g *Synth) weighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	r := g.Rand.Float64() * sum
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

func (g *Synth) id() string {
	var b [12]byte
	for i := range b {
		b[i] = byte(g.Rand.UintN(256))
	}
	return "seed-" + hex.EncodeToString(b[:])
}

func hash(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
