package dialog

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/dialog/xpath"
)

// Outcomes of a finished interview.
const (
	OutcomeCompleted  = "completed"
	OutcomeDeclined   = "declined"
	OutcomeIneligible = "ineligible"
)

// Engine message ids (rendered by the channel from locales/).
const (
	MsgProgress      = "m.progress"
	MsgBack          = "m.btn.back"
	MsgSkip          = "m.btn.skip"
	MsgDone          = "m.btn.done"
	MsgOK            = "m.btn.ok"
	MsgTypeText      = "m.type_text"
	MsgTypeNumber    = "m.type_number"
	MsgChoose        = "m.invalid.choose"
	MsgBadInteger    = "m.invalid.integer"
	MsgBadDecimal    = "m.invalid.decimal"
	MsgBadRange      = "m.invalid.range"
	MsgBadDate       = "m.invalid.date"
	MsgRequired      = "m.invalid.required"
	MsgConstraint    = "m.invalid.constraint"
	MsgTooLong       = "m.invalid.too_long"
	MsgMinSelected   = "m.invalid.min_selected"
	MsgMaxSelected   = "m.invalid.max_selected"
	MsgExclusive     = "m.invalid.exclusive"
	MsgNotSkippable  = "m.invalid.not_skippable"
	MsgStale         = "m.stale"
	MsgAnswered      = "m.answered"
	MsgYear          = "m.date.year"
	MsgMonth         = "m.date.month"
	MsgDoneAlready   = "m.done_already"
	MsgRestarted     = "m.restarted"
	MsgStartAgain    = "m.start_again" // after an ending without answers
	MsgExpired       = "m.expired"
	MsgLangChanged   = "m.language.changed"
	MsgNothingToBack = "m.nothing_to_go_back"
	MsgNoneTicked    = "m.invalid.none_ticked"
	// MsgNoneTickedPnta is MsgNoneTicked for lists whose "prefer not to
	// answer" choice (argument Choice) is the way to decline.
	MsgNoneTickedPnta = "m.invalid.none_ticked_pnta"
)

// MonthMsg returns the message id of month m (1-12).
func MonthMsg(m int) string { return "m.month." + strconv.Itoa(m) }

// DoneEmpty is the option of the Done key shown after Done was tapped
// with nothing ticked: tapped again, the question is left out.
const DoneEmpty = "empty"

// dateYears is how many years (this one and earlier) the date picker offers.
const dateYears = 12

// Step applies one input to an interview and returns the new state and the
// replies to show. It is pure: s is not modified, and the result depends
// only on the arguments. The returned state's Version is s.Version+1 when
// anything changed, and s.Version when nothing did (nothing to save).
func Step(f *Form, s State, in Input, now time.Time) (State, []Reply) {
	return step(f, s, in, now, false)
}

// StepOwned is Step for a caller that gives s up: it will not read s
// again, but for NoteBefore(f, s, s.Pos), which answers as it did before
// the step (the channel asks it of the previous state: did the tapped
// card show a note?). Instead of copying them, the step may change s's
// answers in place where that keeps NoteBefore's answer (a form whose
// relevance reads only earlier rows, rows at or after s.Pos: the answer
// just given, what reads it), and append to s.Back in place. The result
// is Step's. The bot's turn decodes its state anew from storage every
// time, so nothing else holds it.
func StepOwned(f *Form, s State, in Input, now time.Time) (State, []Reply) {
	return step(f, s, in, now, true)
}

func step(f *Form, s State, in Input, now time.Time, owned bool) (State, []Reply) {
	// The answers are copied before the first change only (own): a tick,
	// a re-ask or a language change leaves them as they were; owned, not
	// at all while the changes are at rows NoteBefore does not read.
	st := stepper{f: f, now: now, old: s, s: s, shared: true, incr: incremental(f, s)}
	// Room for the usual replies of a step, the answer and the next
	// question, in one allocation (appended one by one, two).
	st.out = make([]Reply, 0, 2)
	st.inplace = owned && f.incremental && s.Phase == PhaseAsking
	if !owned {
		st.s.Back = s.Back[:len(s.Back):len(s.Back)]
	}
	st.s.Langs = s.Langs[:len(s.Langs):len(s.Langs)]
	if st.s.Answers == nil {
		st.s.Answers, st.shared = map[string]string{}, false
	}
	st.run(in)
	if len(st.out) == 0 {
		st.out = nil // no replies: nil, as before
	}
	if st.changed {
		st.s.Version = s.Version + 1
		st.s.Updated = now.Unix()
		return st.s, st.out
	}
	return s, st.out
}

// incremental reports whether a step of s may bring relevance up to date
// incrementally (stepper.incr): s was saved asking a question of f.
func incremental(f *Form, s State) bool {
	return f.incremental && s.Phase == PhaseAsking && s.Form == f.ID && s.FormVersion == f.Version
}

type stepper struct {
	f       *Form
	now     time.Time
	old     State
	s       State
	out     []Reply
	changed bool
	rel     []bool // relevance of every question under current answers
	// incr says relevance is brought up to date incrementally (update,
	// Form.incremental): the state was saved asking a question of this
	// form version, so after a refresh: no row that is not relevant holds
	// an answer, every relevant calculation holds its value, and only rows
	// that read an answer changed since can change. lazy says rel[i] is
	// then computed when first read (relevant; known()[i] says it was).
	// buf holds rel, then known, affected (update: rows whose relevance
	// reads a changed answer) and, per group g, [2g] evaluated and
	// [2g+1] its value: one allocation (relBuffers).
	incr, lazy bool
	ndirty     uint8    // how many of dirty are set
	dirty      [2]int32 // rows whose answer changed since the last refresh
	evals      int32    // relevance expressions evaluated (tests)
	buf        []bool
	e          *env // lazy evaluation's env
	// shared says s.Answers is the caller's, to be copied before the
	// first change (Step copies only when an answer changes; NoteBefore
	// only reads: it copies nothing when the answers are up to date, as
	// a saved state's are). inplace (StepOwned) says the caller gave
	// them up: a change at a row at or after old.Pos is made in place,
	// since NoteBefore(old, old.Pos) reads only rows before it (in an
	// incremental form), and the first change before it copies.
	shared, inplace bool
}

// own copies the shared answers before a change of row i's answer (i < 0:
// not a row's), and points e (if any) at the copy.
func (st *stepper) own(e *env, i int) {
	if !st.shared || (st.inplace && i >= st.old.Pos) {
		return
	}
	st.shared = false
	// One more than now, as the copy Step used to make up front.
	c := make(map[string]string, len(st.s.Answers)+1)
	maps.Copy(c, st.s.Answers)
	st.s.Answers = c
	if e != nil {
		e.answers = c
	}
	if st.e != nil {
		st.e.answers = c
	}
}

func (s State) clone() State {
	c := s
	c.Answers = make(map[string]string, len(s.Answers)+1)
	for k, v := range s.Answers {
		c.Answers[k] = v
	}
	// Back and Langs are shared with s: they are only ever appended to
	// through a full slice expression (cap == len), which copies.
	c.Back = s.Back[:len(s.Back):len(s.Back)]
	c.Langs = s.Langs[:len(s.Langs):len(s.Langs)]
	return c
}

func (st *stepper) say(msg string, args map[string]any) {
	st.out = append(st.out, Reply{Kind: ReplySay, Msg: msg, Args: args})
}

func (st *stepper) notice(msg string, args map[string]any) {
	st.out = append(st.out, Reply{Kind: ReplyNotice, Msg: msg, Args: args})
}

func (st *stepper) run(in Input) {
	st.apply(in)
	if in.Resume || in.Kind == InStart {
		st.resumeNotes()
	}
}

func (st *stepper) apply(in Input) {
	s := &st.s
	switch in.Kind {
	case InStart:
		switch s.Phase {
		case PhaseAsking:
			st.ask(st.cur(), "", nil, false)
			return
		case PhaseLanguage:
			st.out = append(st.out, Reply{Kind: ReplyAskLanguage})
			return
		case PhaseDone:
			if s.Outcome == OutcomeCompleted && in.Payload == "" {
				st.say(MsgDoneAlready, nil)
				return
			}
		}
		st.begin(in.Context, s.Lang)
		return
	case InRestart:
		if s.Phase == PhaseNew {
			st.begin(in.Context, s.Lang)
			return
		}
		st.say(MsgRestarted, nil)
		st.begin(s.Context, s.Lang)
		return
	case InExpire:
		if s.Phase != PhaseNew {
			lang := s.Lang
			*s = State{Version: s.Version, Lang: lang}
			st.changed = true
			st.say(MsgExpired, nil)
		}
		return
	case InSetLanguage:
		if in.Lang == "" {
			return
		}
		if s.Lang != in.Lang {
			s.Lang = in.Lang
			st.addLang(in.Lang)
			st.changed = true
		}
		switch s.Phase {
		case PhaseNew:
			// Language chosen before any interview (e.g. /language first).
			st.say(MsgLangChanged, nil)
		case PhaseLanguage:
			s.Phase = PhaseAsking
			s.Pos = -1
			st.changed = true
			st.advance()
		case PhaseAsking:
			st.say(MsgLangChanged, nil)
			if q := st.cur(); q != nil {
				// With the notes before it in the new language: the
				// welcome and notice above the consent question were
				// perhaps why the person changed language.
				st.notesBefore(q.Index)
				st.ask(q, "", nil, true)
			}
		case PhaseDone:
			st.say(MsgLangChanged, nil)
		}
		return
	}

	switch s.Phase {
	case PhaseNew:
		st.begin(in.Context, s.Lang)
		return
	case PhaseLanguage:
		st.out = append(st.out, Reply{Kind: ReplyAskLanguage})
		return
	case PhaseDone:
		if s.Outcome == OutcomeDeclined || s.Outcome == OutcomeIneligible {
			// Nothing was answered: not "already answered", but how
			// to start again, as the end said.
			st.say(MsgStartAgain, nil)
			return
		}
		st.say(MsgDoneAlready, nil)
		return
	}
	q := st.cur()
	if q == nil {
		return
	}
	if in.Kind == InRepeat {
		st.ask(q, "", nil, false)
		return
	}
	if in.Button && (in.Pos != s.Pos || in.Seq != s.Seq) {
		// Asked again in the same showing: the buttons on screen stay
		// live. A new showing would make them stale too, and a tap in
		// flight behind every repaint (a double tap, a slow turn) would
		// never land.
		st.notice(MsgStale, nil)
		st.ask(q, "", nil, false)
		return
	}
	switch in.Kind {
	case InBack:
		st.back()
	case InSkip:
		if q.Required {
			st.ask(q, MsgNotSkippable, nil, false)
			return
		}
		if q.Type == TypeAcknowledge {
			st.ask(q, MsgNotSkippable, nil, false)
			return
		}
		if _, had := s.Answers[q.Name]; had {
			st.own(nil, q.Index)
			delete(s.Answers, q.Name)
		}
		s.Pending = ""
		st.changed = true
		st.answered(q, "")
		st.advance()
	case InChoose:
		st.choose(q, in.Option, in.Button)
	case InToggle:
		st.toggle(q, in.Option, in.Button)
	case InDone:
		if q.Type != TypeSelectMultiple {
			st.ask(q, MsgChoose, nil, true)
			return
		}
		if s.Pending == "" && !q.Required && in.Option != DoneEmpty {
			// Nothing ticked: ask once whether to skip rather than
			// skipping silently (the Skip key, or the list's "prefer not
			// to answer", declines; Done again leaves it out too).
			if hasDecline(q) {
				c, _ := q.List.Choice("pnta")
				st.ask(q, MsgNoneTickedPnta, map[string]any{"Choice": c.Label}, false)
			} else {
				st.ask(q, MsgNoneTicked, nil, false)
			}
			r := &st.out[len(st.out)-1]
			for i := range r.Buttons {
				if r.Buttons[i].Kind == BtnDone {
					r.Buttons[i].Option = DoneEmpty
				}
			}
			return
		}
		st.accept(q, s.Pending)
	case InText:
		st.text(q, in.Text)
	default:
		st.ask(q, "", nil, false)
	}
}

func (st *stepper) addLang(lang string) {
	for _, l := range st.s.Langs {
		if l == lang {
			return
		}
	}
	st.s.Langs = append(st.s.Langs[:len(st.s.Langs):len(st.s.Langs)], lang)
}

// begin starts a fresh interview with ctx, asking for the language first
// unless one is known.
func (st *stepper) begin(ctx map[string]string, lang string) {
	s := &st.s
	*s = State{
		Form: st.f.ID, FormVersion: st.f.Version, Version: s.Version, Seq: s.Seq,
		Lang: lang, Context: ctx, Answers: map[string]string{},
		Started: st.now.Unix(), Pos: -1,
	}
	st.shared, st.changed = false, true
	st.incr = false // every answer is new: a full refresh
	for _, q := range st.f.Questions {
		if q.Type == TypeHidden {
			if v, ok := ctx[q.ContextKey()]; ok {
				s.Answers[q.Name] = v
			}
		}
	}
	if lang == "" {
		s.Phase = PhaseLanguage
		st.out = append(st.out, Reply{Kind: ReplyAskLanguage})
		return
	}
	st.addLang(lang)
	s.Phase = PhaseAsking
	st.advance()
}

func (st *stepper) cur() *Question {
	if st.s.Pos < 0 || st.s.Pos >= len(st.f.Questions) {
		// A position out of range (corrupt or foreign state) restarts
		// the walk rather than crashing.
		st.s.Pos = -1
		st.incr = false
		st.advanceFrom(-1)
		if st.s.Phase != PhaseAsking {
			return nil
		}
	}
	return st.f.Questions[st.s.Pos]
}

// env evaluates expressions against the state's answers.
type env struct {
	answers map[string]string
	current string
	column  map[string]string
	name    string
	now     time.Time
}

func (e *env) Lookup(name string) (string, bool) { v, ok := e.answers[name]; return v, ok }
func (e *env) Current() string                   { return e.current }
func (e *env) Column(name string) (string, bool) {
	if name == "name" {
		return e.name, true
	}
	v, ok := e.column[name]
	return v, ok
}
func (e *env) Today() time.Time { return e.now }

// refresh re-evaluates relevance in one forward pass, dropping answers that
// became irrelevant and recomputing calculations (each at its row, then all
// in dependency order); with incr set, only where an answer changed
// (update), to the same result.
func (st *stepper) refresh() {
	if st.incr {
		st.update()
		return
	}
	st.refreshBefore(len(st.f.Questions))
}

// relBuffers makes rel, known, affected and groups, all false.
func (st *stepper) relBuffers() {
	n, g := len(st.f.Questions), st.f.groups
	size := 3*n + 2*g
	if cap(st.buf) < size {
		st.buf = make([]bool, size)
	}
	b := st.buf[:size]
	clear(b)
	st.rel = b[:n:n]
}

func (st *stepper) known() []bool    { n := len(st.f.Questions); return st.buf[n : 2*n] }
func (st *stepper) affected() []bool { n := len(st.f.Questions); return st.buf[2*n : 3*n] }
func (st *stepper) groups() []bool   { return st.buf[3*len(st.f.Questions):] }

// update is refresh for a step with incr set: it looks only at the rows
// that read a changed answer (st.dirty), or one changed on the way, in
// row order as the full pass does: drops their answers if they are no
// longer relevant, recomputes their calculations; every other row's
// relevance is evaluated when read. The result is the full pass's: a
// row's relevance and calculation read only rows before it (and its own
// answer), so they see the same answers either way; a row that reads no
// changed answer keeps the relevance and value it had when the state was
// saved; and the full pass's second round of calculations computes the
// values of the first again.
func (st *stepper) update() {
	st.relBuffers()
	st.lazy = true
	f, s := st.f, &st.s
	affected := st.affected()
	lo := len(f.Questions)
	for _, j := range st.dirty[:st.ndirty] {
		for _, i := range f.readers[j] {
			affected[i] = true
			lo = min(lo, i)
		}
	}
	st.ndirty = 0
	for i := lo; i < len(f.Questions); i++ {
		if !affected[i] {
			continue
		}
		q := f.Questions[i]
		if q.Type == TypeHidden {
			continue
		}
		old, had := s.Answers[q.Name]
		if q.Type == TypeCalculate && q.Calculation != nil && st.relevant(i) {
			st.calc(st.env(), q)
			if v, ok := s.Answers[q.Name]; !had || !ok || v != old {
				for _, k := range f.readers[i] {
					affected[k] = true
				}
			}
			continue
		}
		if !had || st.relevant(i) {
			continue
		}
		st.own(nil, i)
		delete(s.Answers, q.Name)
		st.changed = true
		for _, k := range f.readers[i] {
			affected[k] = true
		}
	}
}

// env is the env of lazy evaluation, over the current answers.
func (st *stepper) env() *env {
	if st.e == nil {
		st.e = &env{now: st.now}
	}
	st.e.answers = st.s.Answers
	return st.e
}

// relevant reports whether the question at i is relevant under the
// current answers (after a refresh, or with incr set).
func (st *stepper) relevant(i int) bool {
	if st.lazy {
		if known := st.known(); !known[i] {
			known[i] = true
			st.rel[i] = st.evalRel(i)
		}
	}
	return st.rel[i]
}

// evalRel evaluates the relevance of the question at i and of its
// groups (each group once per refresh), as the full pass does.
func (st *stepper) evalRel(i int) bool {
	q := st.f.Questions[i]
	e := st.env()
	for _, g := range q.Groups {
		if !st.groupRelevant(g, e) {
			return false
		}
	}
	if q.Relevant == nil {
		return true
	}
	if q.Relevant.UsesCurrent() {
		e.current = st.s.Answers[q.Name]
	}
	st.evals++
	return q.Relevant.Bool(e)
}

// groupRelevant reports whether group g is relevant, evaluating its
// relevance once per refresh (st.groups: [2g] evaluated, [2g+1] value).
func (st *stepper) groupRelevant(g *Group, e *env) bool {
	groups := st.groups()
	if !groups[2*g.index] {
		groups[2*g.index] = true
		groups[2*g.index+1] = g.Relevant.Bool(e)
		st.evals++
	}
	return groups[2*g.index+1]
}

// refreshBefore is refresh's forward pass over the rows before limit
// only: st.rel[:limit] is then what a whole refresh gives, since the pass
// changes a row's answer only when it reaches that row (the rows before
// limit see the same answers either way) and the calculations' second
// pass changes no relevance. With limit below the form's length the
// second pass is left out and the answers of rows at or after limit may
// be stale: for readers of relevance only (NoteBefore).
func (st *stepper) refreshBefore(limit int) {
	f, s := st.f, &st.s
	n := len(f.Questions)
	st.relBuffers()
	st.lazy = false
	e := &env{answers: s.Answers, now: st.now}
	for i, q := range f.Questions[:limit] {
		ok := true
		for _, g := range q.Groups {
			if !st.groupRelevant(g, e) {
				ok = false
				break
			}
		}
		if ok && q.Relevant != nil {
			e.current = s.Answers[q.Name]
			ok = q.Relevant.Bool(e)
			st.evals++
		}
		st.rel[i] = ok
		if ok && q.Type == TypeCalculate && q.Calculation != nil {
			// Computed in place, so that the rows after it see its new
			// value in this same pass (a relevance that depends on a
			// calculation must not read, and act on, a stale value).
			st.calc(e, q)
		}
		if !ok && q.Type != TypeHidden {
			if _, had := s.Answers[q.Name]; had {
				st.own(e, i)
				delete(s.Answers, q.Name)
				st.changed = true
			}
		}
	}
	if limit < n {
		return
	}
	// Again in dependency order, for calculations that read later rows.
	for _, i := range f.calcs {
		if st.rel[i] {
			st.calc(e, f.Questions[i])
		}
	}
}

// calc evaluates a calculate row and stores its value.
func (st *stepper) calc(e *env, q *Question) {
	s := &st.s
	e.current = s.Answers[q.Name]
	v := q.Calculation.Eval(e).String()
	if old, had := s.Answers[q.Name]; !had || old != v {
		st.own(e, q.Index)
		s.Answers[q.Name] = v
		st.changed = true
	}
}

// advance moves to the next relevant question after the current one.
func (st *stepper) advance() {
	if st.s.Phase == PhaseAsking && st.s.Pos >= 0 {
		// In place when the caller gave s up (StepOwned: Back keeps its
		// capacity), past s.Back's length.
		st.s.Back = append(st.s.Back, st.s.Pos)
	}
	st.advanceFrom(st.s.Pos)
}

func (st *stepper) advanceFrom(pos int) {
	st.refresh()
	s := &st.s
	f := st.f
	if f.Consent != "" && s.Answers[f.Consent] == "yes" {
		s.Consent = true
	}
	for i := pos + 1; i < len(f.Questions); i++ {
		q := f.Questions[i]
		if !q.Type.Shown() || !st.relevant(i) {
			continue
		}
		if q.Type == TypeNote {
			st.note(q)
			continue
		}
		s.Pos = i
		s.Pending = ""
		if s.Answers[q.Name] == "" && q.Default != nil {
			d := q.Default.Eval(&env{answers: s.Answers, now: st.now}).String()
			if q.Type == TypeSelectMultiple {
				s.Pending = d
			}
		} else if q.Type == TypeSelectMultiple {
			s.Pending = s.Answers[q.Name]
		}
		s.Reached = q.Name
		st.changed = true
		st.ask(q, "", nil, true)
		return
	}
	st.complete()
}

func (st *stepper) complete() {
	s := &st.s
	s.Phase = PhaseDone
	s.Pending = ""
	st.changed = true
	switch {
	case st.f.Consent != "" && !s.Consent:
		s.Outcome = OutcomeDeclined
	case st.f.Eligible != nil && !st.f.Eligible.Bool(&env{answers: s.Answers, now: st.now}):
		s.Outcome = OutcomeIneligible
	default:
		s.Outcome = OutcomeCompleted
	}
	if s.Outcome != OutcomeCompleted {
		// Nothing is kept of a declined or ineligible interview. A
		// mis-tap (no, under 18) is told how to start again.
		s.Answers, st.shared = map[string]string{}, false
		s.Back = nil
		st.say(MsgStartAgain, nil)
		return
	}
	answers := make(map[string]string, len(s.Answers))
	for k, v := range s.Answers {
		answers[k] = v
	}
	ctx := make(map[string]string, len(s.Context))
	for k, v := range s.Context {
		ctx[k] = v
	}
	st.out = append(st.out, Reply{Kind: ReplyComplete, Response: &Response{
		Form: s.Form, FormVersion: s.FormVersion, Language: s.Lang,
		Languages: append([]string(nil), s.Langs...), Answers: answers, Context: ctx,
		Started: time.Unix(s.Started, 0).UTC(), Completed: st.now.UTC(),
	}})
}

func (st *stepper) back() {
	s := &st.s
	if len(s.Back) == 0 {
		st.ask(st.cur(), MsgNothingToBack, nil, false)
		return
	}
	st.refresh()
	cur := s.Pos
	for len(s.Back) > 0 {
		p := s.Back[len(s.Back)-1]
		// Without room: an append after this must not write where s.Back
		// (the caller's) had p.
		s.Back = s.Back[: len(s.Back)-1 : len(s.Back)-1]
		if p >= 0 && p < len(st.f.Questions) && st.relevant(p) {
			st.answered(st.f.Questions[cur], "")
			s.Pos = p
			q := st.f.Questions[p]
			s.Pending = ""
			if q.Type == TypeSelectMultiple {
				s.Pending = s.Answers[q.Name]
			}
			st.changed = true
			st.notesBefore(p)
			st.ask(q, "", nil, true)
			return
		}
	}
	st.changed = true
	st.ask(st.cur(), MsgNothingToBack, nil, false)
}

// note emits note q.
func (st *stepper) note(q *Question) {
	st.out = append(st.out, Reply{Kind: ReplySay, Msg: q.Label, Args: st.labelArgs(q), Hint: q.Hint, Question: q.Name, Pos: q.Index})
}

// notesBefore emits the notes shown right before the question at pos
// under the current answers: the relevant notes between it and
// the shown question before it, in order, as advanceFrom emitted them on
// the way there. Back thus returns to the card as it was first shown: the
// consent question with the welcome and the information notice above it
// (what the person agrees to stays readable), a question with the note
// that introduces it; a change of language shows them in the new one.
func (st *stepper) notesBefore(pos int) {
	switch {
	case st.incr && !st.lazy:
		// Not refreshed in this step, and nothing to drop: relevance
		// is evaluated as it is read.
		st.relBuffers()
		st.lazy = true
	case !st.incr && len(st.rel) < len(st.f.Questions):
		// Not refreshed in this step: the relevance before pos is
		// enough (as NoteBefore's).
		st.refreshBefore(pos)
	}
	first := pos
	for i := pos - 1; i >= 0; i-- {
		q := st.f.Questions[i]
		if !q.Type.Shown() || !st.relevant(i) {
			continue
		}
		if q.Type != TypeNote {
			break
		}
		first = i
	}
	for i := first; i < pos; i++ {
		if q := st.f.Questions[i]; q.Type == TypeNote && st.relevant(i) {
			st.note(q)
		}
	}
}

// resumeNotes puts the notes right before the current question above it
// when the step asked it again for someone coming back (Input.Resume, an
// InStart mid-interview): the card as first shown, so the consent question
// comes with what is consented to. A step that moved to another question,
// or showed notes already (Back, a change of language), is left as it is;
// so is a repeat without Resume (a stale or garbled tap on the live card
// asks it again unchanged, and notes would force an edit).
func (st *stepper) resumeNotes() {
	if st.old.Phase != PhaseAsking || st.s.Phase != PhaseAsking || st.s.Pos != st.old.Pos {
		return
	}
	at := -1
	for i, r := range st.out {
		switch {
		case r.Kind == ReplySay && r.Question != "":
			return // notes shown already
		case (r.Kind == ReplyAsk || r.Kind == ReplyKeyboard) && r.Pos == st.s.Pos:
			at = i
		}
	}
	if at < 0 {
		return
	}
	out := st.out
	st.out = nil
	st.notesBefore(st.s.Pos)
	if len(st.out) == 0 {
		st.out = out
		return
	}
	notes := st.out
	st.out = append(append(append(make([]Reply, 0, len(out)+len(notes)), out[:at]...), notes...), out[at:]...)
}

// answered tells the channel the question's message is settled.
func (st *stepper) answered(q *Question, _ string) {
	if st.incr {
		// Its answer was set or removed (or, going back, left as it
		// was): the next refresh looks at the rows that read it (or at
		// every row, past two such rows).
		if int(st.ndirty) == len(st.dirty) {
			st.incr = false
		} else {
			st.dirty[st.ndirty] = int32(q.Index)
			st.ndirty++
		}
	}
	r := Reply{Kind: ReplyAnswered, Msg: q.Label, Args: st.labelArgs(q), Question: q.Name, Pos: q.Index, Seq: st.s.Seq}
	if v, ok := st.s.Answers[q.Name]; ok {
		r.AnswerMsgs, r.Answer = AnswerDisplay(q, v)
	}
	st.out = append(st.out, r)
}

// AnswerDisplay returns how answer v of q is shown: message ids of choice
// labels (or month names), and a literal (a number, a year). Text answers
// show nothing: the respondent's own message shows them.
func AnswerDisplay(q *Question, v string) (msgs []string, lit string) {
	return AppendAnswerDisplay(nil, q, v)
}

// AppendAnswerDisplay is AnswerDisplay appending the message ids to msgs
// (a caller's buffer, reused from answer to answer: the closing summary
// shows every answer).
func AppendAnswerDisplay(msgs []string, q *Question, v string) ([]string, string) {
	lit := ""
	switch q.Type {
	case TypeSelectOne, TypeSelectMultiple:
		for c := range strings.FieldsSeq(v) {
			if ch, ok := q.List.Choice(c); ok {
				msgs = append(msgs, ch.Label)
			}
		}
	case TypeAcknowledge:
		msgs = append(msgs, MsgOK)
	case TypeDate:
		y, m, _ := strings.Cut(v, "-")
		if mi, err := strconv.Atoi(m); err == nil && mi >= 1 && mi <= 12 {
			msgs = append(msgs, MonthMsg(mi))
		}
		lit = y
	case TypeText:
	default:
		lit = v
	}
	return msgs, lit
}

// ask emits the question; errMsg, when set, explains why it is asked again.
// fresh asks in a new showing (new Seq), so older buttons become stale.
func (st *stepper) ask(q *Question, errMsg string, errArgs map[string]any, fresh bool) {
	if q == nil {
		return
	}
	s := &st.s
	if fresh {
		s.Seq++
		st.changed = true
	}
	r := Reply{Kind: ReplyAsk, Msg: q.Label, Args: st.labelArgs(q), Hint: q.Hint, Question: q.Name, Pos: q.Index, Seq: s.Seq,
		Progress: st.progress(q.Index)}
	r.Error, r.ErrorArgs = errMsg, errArgs
	r.Buttons = st.buttons(q)
	st.out = append(st.out, r)
}

// labelArgs returns the template data of q's label: with label_choice, the
// label id of the chosen choice as "Choice" (the channel localizes it).
func (st *stepper) labelArgs(q *Question) map[string]any {
	src := q.LabelChoice
	if src == nil || src.List == nil {
		return nil
	}
	v := st.s.Answers[src.Name]
	if v == "" {
		return nil
	}
	c, ok := src.List.Choice(v)
	if !ok {
		// A code the list does not know (e.g. an invite naming a service
		// added later): name it as the list's "other".
		if c, ok = src.List.Choice("other"); !ok {
			return nil
		}
	}
	return map[string]any{"Choice": c.Label}
}

// progress is the question's section: the top-level group it belongs to,
// counted among the form's top-level groups that hold a shown question. The
// count never depends on answers, so the denominator never moves; a
// question outside any group (consent, screening) shows no progress.
func (st *stepper) progress(pos int) Progress {
	return SectionOf(st.f, pos)
}

// SectionOf returns the section ("N of Of") of the question at pos: its
// top-level group's rank among the top-level groups that contain a shown
// question. It is zero for a question outside any group.
func SectionOf(f *Form, pos int) Progress {
	var p Progress
	var last *Group
	for i, q := range f.Questions {
		if !q.Type.Shown() || q.Type == TypeNote || len(q.Groups) == 0 {
			continue
		}
		if g := q.Groups[0]; g != last {
			last = g
			p.Of++
		}
		if i == pos {
			p.N = p.Of
		}
	}
	if pos < 0 || pos >= len(f.Questions) || len(f.Questions[pos].Groups) == 0 {
		return Progress{}
	}
	return p
}

// NoteBefore reports whether a note was shown right before the question at
// pos under state s's answers (the note and the question then share one
// message, which the channel keeps as history).
func NoteBefore(f *Form, s State, pos int) bool {
	if pos <= 0 || pos >= len(f.Questions) {
		return false
	}
	st := stepper{f: f, s: s, shared: true, now: time.Unix(s.Updated, 0)}
	st.refreshBefore(pos)
	for i := pos - 1; i >= 0; i-- {
		q := f.Questions[i]
		if !q.Type.Shown() || !st.rel[i] {
			continue
		}
		return q.Type == TypeNote
	}
	return false
}

// NotesBefore returns the notes shown right before the question at pos
// under state s's answers, as ReplySay replies in order (none when the
// question has no note before it): what the card showing the question
// carried above it when first shown. A channel that edits such a card in
// place (an error re-ask on a refused tap) puts them back, so the edit does
// not drop them. s is left as it was.
func NotesBefore(f *Form, s State, pos int) []Reply {
	if pos <= 0 || pos >= len(f.Questions) {
		return nil
	}
	st := stepper{f: f, s: s, shared: true, now: time.Unix(s.Updated, 0)}
	st.notesBefore(pos)
	return st.out
}

// hasDecline reports whether q's list offers "prefer not to answer": then
// that choice is the one way to decline and no Skip key is shown.
func hasDecline(q *Question) bool {
	if q.List == nil {
		return false
	}
	_, ok := q.List.Choice("pnta")
	return ok
}

// choices returns q's choices that pass its choice_filter.
func (st *stepper) choices(q *Question) []Choice {
	if q.ChoiceFilter == nil {
		return q.List.Choices
	}
	e := &env{answers: st.s.Answers, now: st.now}
	cs := make([]Choice, 0, len(q.List.Choices))
	for _, c := range q.List.Choices {
		e.name, e.column = c.Name, c.Filter
		if q.ChoiceFilter.Bool(e) {
			cs = append(cs, c)
		}
	}
	return cs
}

func (st *stepper) buttons(q *Question) []Button {
	s := &st.s
	var bs []Button
	var cs []Choice
	if q.Type == TypeSelectOne || q.Type == TypeSelectMultiple {
		cs = st.choices(q)
	}
	// One allocation for the keys and Done, Back and Skip (a question
	// without keys keeps a nil slice unless Back or Skip is added).
	switch q.Type {
	case TypeSelectOne, TypeSelectMultiple:
		bs = make([]Button, 0, len(cs)+3)
	case TypeDate:
		bs = make([]Button, 0, 12+2)
	}
	switch q.Type {
	case TypeSelectOne:
		cur := s.Answers[q.Name]
		for _, c := range cs {
			bs = append(bs, Button{Kind: BtnChoose, Label: c.Label, Option: c.Name, Checked: c.Name == cur})
		}
	case TypeSelectMultiple:
		for _, c := range cs {
			bs = append(bs, Button{Kind: BtnToggle, Label: c.Label, Option: c.Name, Checked: xpath.Selected(s.Pending, c.Name)})
		}
		bs = append(bs, Button{Kind: BtnDone, Label: MsgDone})
	case TypeAcknowledge:
		bs = append(bs, Button{Kind: BtnAck, Label: MsgOK, Option: "ok"})
	case TypeRange:
		cur := s.Answers[q.Name]
		for v := q.Start; v <= q.End+q.Step/1e6; v += q.Step {
			lit := canonNumber(v)
			bs = append(bs, Button{Kind: BtnChoose, Literal: lit, Option: lit, Checked: lit == cur})
		}
	case TypeDate:
		if s.Pending == "" {
			y := st.now.Year()
			for i := 0; i < dateYears; i++ {
				lit := strconv.Itoa(y - i)
				bs = append(bs, Button{Kind: BtnChoose, Literal: lit, Option: lit})
			}
		} else {
			for m := 1; m <= 12; m++ {
				opt := strconv.Itoa(m)
				bs = append(bs, Button{Kind: BtnChoose, Label: MonthMsg(m), Option: opt})
			}
		}
	}
	if len(s.Back) > 0 {
		bs = append(bs, Button{Kind: BtnBack, Label: MsgBack})
	}
	if !q.Required && q.Type != TypeAcknowledge && !hasDecline(q) {
		bs = append(bs, Button{Kind: BtnSkip, Label: MsgSkip})
	}
	if len(bs) == 0 {
		return nil // as before the slice was made at its size
	}
	return bs
}

func (st *stepper) choose(q *Question, opt string, button bool) {
	s := &st.s
	switch q.Type {
	case TypeSelectOne:
		if !st.offered(q, opt) {
			st.notice(MsgStale, nil)
			st.ask(q, "", nil, true)
			return
		}
		st.accept(q, opt)
	case TypeAcknowledge:
		st.accept(q, "OK")
	case TypeRange:
		st.acceptRange(q, opt)
	case TypeDate:
		n, err := strconv.Atoi(opt)
		if err != nil {
			st.notice(MsgStale, nil)
			st.ask(q, "", nil, true)
			return
		}
		if s.Pending == "" {
			if n < 1000 || n > 9999 {
				st.ask(q, MsgBadDate, nil, true)
				return
			}
			s.Pending = opt
			st.changed = true
			st.out = append(st.out, Reply{Kind: ReplyKeyboard, Msg: q.Label, Hint: q.Hint, Question: q.Name, Pos: q.Index, Seq: s.Seq,
				Progress: st.progress(q.Index), Buttons: st.buttons(q), Args: map[string]any{"Year": s.Pending}})
			return
		}
		if n < 1 || n > 12 {
			st.ask(q, MsgBadDate, nil, true)
			return
		}
		st.accept(q, s.Pending+"-"+twoDigits(n))
	default:
		if button {
			st.notice(MsgStale, nil)
		}
		st.ask(q, "", nil, true)
	}
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func (st *stepper) offered(q *Question, opt string) bool {
	for _, c := range st.choices(q) {
		if c.Name == opt {
			return true
		}
	}
	return false
}

func (st *stepper) toggle(q *Question, opt string, button bool) {
	s := &st.s
	if q.Type != TypeSelectMultiple {
		st.choose(q, opt, button)
		return
	}
	if !st.offered(q, opt) {
		st.notice(MsgStale, nil)
		st.ask(q, "", nil, true)
		return
	}
	c, _ := q.List.Choice(opt)
	cur := strings.Fields(s.Pending)
	var next []string
	if xpath.Selected(s.Pending, opt) {
		for _, x := range cur {
			if x != opt {
				next = append(next, x)
			}
		}
	} else {
		if c.Exclusive {
			next = []string{opt}
		} else {
			for _, x := range cur {
				if xc, ok := q.List.Choice(x); ok && !xc.Exclusive {
					next = append(next, x)
				}
			}
			if q.MaxSelected > 0 && len(next) >= q.MaxSelected {
				st.notice(MsgMaxSelected, map[string]any{"Count": q.MaxSelected})
				return
			}
			next = append(next, opt)
		}
		next = inListOrder(q.List, next)
	}
	s.Pending = strings.Join(next, " ")
	st.changed = true
	st.out = append(st.out, Reply{Kind: ReplyKeyboard, Msg: q.Label, Args: st.labelArgs(q), Hint: q.Hint, Question: q.Name, Pos: q.Index, Seq: s.Seq,
		Progress: st.progress(q.Index), Buttons: st.buttons(q)})
}

func inListOrder(l *List, names []string) []string {
	out := make([]string, 0, len(names))
	for _, c := range l.Choices {
		if xpath.Selected(strings.Join(names, " "), c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// text handles typed text for the current question.
func (st *stepper) text(q *Question, raw string) {
	switch q.Type {
	case TypeText:
		v := CleanText(raw)
		if n := len([]rune(v)); n > q.MaxLength {
			st.ask(q, MsgTooLong, map[string]any{"Count": q.MaxLength}, false)
			return
		}
		st.accept(q, v)
	case TypeInteger:
		v, ok := ParseNumber(raw, false)
		if !ok {
			st.ask(q, MsgBadInteger, nil, false)
			return
		}
		st.accept(q, v)
	case TypeDecimal:
		v, ok := ParseNumber(raw, true)
		if !ok {
			st.ask(q, MsgBadDecimal, nil, false)
			return
		}
		st.accept(q, v)
	case TypeRange:
		v, ok := ParseNumber(raw, true)
		if !ok {
			st.ask(q, MsgBadRange, map[string]any{"Min": canonNumber(q.Start), "Max": canonNumber(q.End)}, false)
			return
		}
		st.acceptRange(q, v)
	case TypeDate:
		v, ok := ParseDate(raw)
		if !ok {
			st.ask(q, MsgBadDate, nil, false)
			return
		}
		st.accept(q, v)
	default:
		st.ask(q, MsgChoose, nil, false)
	}
}

func (st *stepper) acceptRange(q *Question, v string) {
	f, err := strconv.ParseFloat(v, 64)
	steps := (f - q.Start) / q.Step
	if err != nil || f < q.Start || f > q.End || steps != float64(int64(steps)) {
		st.ask(q, MsgBadRange, map[string]any{"Min": canonNumber(q.Start), "Max": canonNumber(q.End)}, false)
		return
	}
	st.accept(q, canonNumber(f))
}

// accept validates v as q's answer and moves on, or re-asks with the reason.
func (st *stepper) accept(q *Question, v string) {
	s := &st.s
	if v == "" {
		if q.Required {
			st.ask(q, MsgRequired, nil, false)
			return
		}
	}
	if q.Type == TypeSelectMultiple && v != "" {
		n := 0
		for range strings.FieldsSeq(v) {
			n++
		}
		if q.MinSelected > 0 && n < q.MinSelected {
			st.ask(q, MsgMinSelected, map[string]any{"Count": q.MinSelected}, false)
			return
		}
		if q.MaxSelected > 0 && n > q.MaxSelected {
			st.ask(q, MsgMaxSelected, map[string]any{"Count": q.MaxSelected}, false)
			return
		}
		for c := range strings.FieldsSeq(v) {
			if ch, ok := q.List.Choice(c); ok && ch.Exclusive && n > 1 {
				st.ask(q, MsgExclusive, map[string]any{"Choice": ch.Label}, false)
				return
			}
		}
	}
	if v != "" && q.Constraint != nil {
		if !q.Constraint.Bool(&env{answers: s.Answers, current: v, now: st.now}) {
			msg := q.ConstraintMsg
			if msg == "" {
				msg = MsgConstraint
			}
			st.ask(q, msg, nil, false)
			return
		}
	}
	if old, had := s.Answers[q.Name]; v == "" && had {
		st.own(nil, q.Index)
		delete(s.Answers, q.Name)
	} else if v != "" && (!had || old != v) {
		st.own(nil, q.Index)
		s.Answers[q.Name] = v
	}
	s.Pending = ""
	st.changed = true
	st.answered(q, v)
	st.advance()
}
