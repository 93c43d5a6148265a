package dialog

import (
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// session drives Step like a channel would, remembering the last question's
// position and showing so that taps carry them.
type session struct {
	t       testing.TB
	f       *Form
	s       State
	now     time.Time
	last    []Reply
	pos     int
	seq     uint32
	buttons []Button
}

func newSession(t testing.TB, f *Form) *session {
	return &session{t: t, f: f, now: t0}
}

// deepCopy copies s with its own maps and slices.
func deepCopy(s State) State {
	c := s
	c.Answers, c.Context = maps.Clone(s.Answers), maps.Clone(s.Context)
	c.Back, c.Langs = slices.Clone(s.Back), slices.Clone(s.Langs)
	return c
}

// changedBefore reports a row before was.Pos whose answer differs in now.
func changedBefore(f *Form, was, now State) (int, bool) {
	for i, q := range f.Questions[:min(max(was.Pos, 0), len(f.Questions))] {
		a, had := was.Answers[q.Name]
		b, has := now.Answers[q.Name]
		if a != b || had != has {
			return i, true
		}
	}
	return 0, false
}

// stepRef is Step as it was before it copied the answers on their first
// change only: a copy of everything up front.
func stepRef(f *Form, s State, in Input, now time.Time) (State, []Reply) {
	st := stepper{f: f, now: now, old: s}
	st.s = s.clone()
	st.run(in)
	if st.changed {
		st.s.Version = s.Version + 1
		st.s.Updated = now.Unix()
		return st.s, st.out
	}
	return s, st.out
}

// do steps the session, checking that Step leaves its input as it was
// (maps and slices included) and answers as stepRef does, and StepOwned
// as Step.
func (x *session) do(in Input) []Reply {
	x.t.Helper()
	before := deepCopy(x.s)
	wantNext, wantOut := stepRef(x.f, deepCopy(x.s), in, x.now)
	next, out := Step(x.f, x.s, in, x.now)
	if !reflect.DeepEqual(before, x.s) {
		x.t.Fatal("Step modified its input state")
	}
	if !reflect.DeepEqual(next, wantNext) || !reflect.DeepEqual(out, wantOut) {
		x.t.Fatalf("Step gave %+v %+v, copying everything first gives %+v %+v", next, out, wantNext, wantOut)
	}
	if next.Version != x.s.Version && next.Version != x.s.Version+1 {
		x.t.Fatalf("version jumped from %d to %d", x.s.Version, next.Version)
	}
	// StepOwned, given a copy of the state to change (Back with room to
	// append, as Decode makes it): Step's result, and what the caller may
	// still ask of the state it gave up answers as before the step.
	given := deepCopy(x.s)
	if len(given.Back) > 0 {
		given.Back = append(make([]int, 0, len(given.Back)+1), given.Back...)
	}
	ownNext, ownOut := StepOwned(x.f, given, in, x.now)
	if !reflect.DeepEqual(ownNext, wantNext) || !reflect.DeepEqual(ownOut, wantOut) {
		x.t.Fatalf("StepOwned gave %+v %+v, Step gives %+v %+v", ownNext, ownOut, wantNext, wantOut)
	}
	if !slices.Equal(given.Back, before.Back) {
		x.t.Fatalf("StepOwned changed Back as the caller sees it: %v, was %v", given.Back, before.Back)
	}
	if i, ok := changedBefore(x.f, before, given); ok {
		x.t.Fatalf("StepOwned changed the answer of row %d, before the state's position %d", i, before.Pos)
	}
	if got, want := NoteBefore(x.f, given, given.Pos), NoteBefore(x.f, before, before.Pos); got != want {
		x.t.Fatalf("NoteBefore at %d of the state given to StepOwned: %v after the step, %v before", before.Pos, got, want)
	}
	x.s = next
	x.last = out
	for _, r := range out {
		if r.Kind == ReplyAsk || r.Kind == ReplyKeyboard {
			x.pos, x.seq, x.buttons = r.Pos, r.Seq, r.Buttons
		}
	}
	x.now = x.now.Add(30 * time.Second)
	return out
}

func (x *session) tap(opt string) []Reply {
	x.t.Helper()
	kind := InChoose
	for _, b := range x.buttons {
		if b.Option == opt && b.Kind == BtnToggle {
			kind = InToggle
		}
	}
	return x.do(Input{Kind: kind, Option: opt, Button: true, Pos: x.pos, Seq: x.seq})
}

func (x *session) done() []Reply {
	in := Input{Kind: InDone, Button: true, Pos: x.pos, Seq: x.seq}
	for _, b := range x.buttons {
		if b.Kind == BtnDone {
			in.Option = b.Option
		}
	}
	return x.do(in)
}

func (x *session) skip() []Reply {
	return x.do(Input{Kind: InSkip, Button: true, Pos: x.pos, Seq: x.seq})
}

func (x *session) text(s string) []Reply { return x.do(Input{Kind: InText, Text: s}) }

// current returns the name of the question on screen.
func (x *session) current() string {
	if x.s.Phase != PhaseAsking {
		return ""
	}
	return x.f.Questions[x.s.Pos].Name
}

func (x *session) wantAt(name string) {
	x.t.Helper()
	if got := x.current(); got != name {
		x.t.Fatalf("at %q, want %q; replies %+v", got, name, x.last)
	}
}

func find(rs []Reply, k ReplyKind) *Reply {
	for i := range rs {
		if rs[i].Kind == k {
			return &rs[i]
		}
	}
	return nil
}

func tipi(t testing.TB) *Form { return mustParseFile(t, "testdata/good/all_types.yaml") }

// toAge starts an interview in English and consents.
func toAge(t *testing.T) *session {
	x := newSession(t, tipi(t))
	out := x.do(Input{Kind: InStart, Context: map[string]string{"invite_service": "anagrafe", "municipality": "058091"}})
	if find(out, ReplyAskLanguage) == nil {
		t.Fatalf("start without language: %+v", out)
	}
	out = x.do(Input{Kind: InSetLanguage, Lang: "en"})
	if r := find(out, ReplySay); r == nil || r.Msg != "q.tipi.hello" {
		t.Fatalf("intro note missing: %+v", out)
	}
	x.wantAt("ok")
	x.tap("yes")
	x.wantAt("age")
	return x
}

func TestDeclineRecordsNothing(t *testing.T) {
	x := newSession(t, tipi(t))
	x.s.Lang = "en"
	x.do(Input{Kind: InStart})
	x.tap("no")
	if x.s.Phase != PhaseDone || x.s.Outcome != OutcomeDeclined || len(x.s.Answers) != 0 {
		t.Fatalf("state after decline: %+v", x.s)
	}
	if find(x.last, ReplyComplete) != nil {
		t.Fatal("a declined interview produced a response")
	}
	if r := find(x.last, ReplySay); r == nil || r.Msg != "q.tipi.bye" {
		t.Fatalf("no goodbye note: %+v", x.last)
	}
}

func TestIntegerAnswers(t *testing.T) {
	tests := []struct {
		in, stored, err string
	}{
		{"42", "42", ""},
		{" ٤٢ ", "42", ""}, // Arabic-Indic
		{"۳۵", "35", ""},   // Persian
		{"४२", "42", ""},   // Devanagari
		{"৪২", "42", ""},   // Bengali
		{"４２", "42", ""},   // full-width
		{"abc", "", MsgBadInteger},
		{"4.5", "", MsgBadInteger},
		{"150", "", "q.tipi.age.constraint"},
		{"-1", "", "q.tipi.age.constraint"},
		{"", "", MsgBadInteger},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			x := toAge(t)
			out := x.text(tt.in)
			if tt.err != "" {
				r := find(out, ReplyAsk)
				if r == nil || r.Error != tt.err {
					t.Fatalf("want re-prompt %s, got %+v", tt.err, out)
				}
				x.wantAt("age")
				return
			}
			if got := x.s.Answers["age"]; got != tt.stored {
				t.Fatalf("stored %q, want %q", got, tt.stored)
			}
			x.wantAt("height")
		})
	}
}

func TestDecimalAndSkip(t *testing.T) {
	for in, want := range map[string]string{"1,75": "1.75", "1.5": "1.5", "٢٫٥": "2.5", "2": "2"} {
		x := toAge(t)
		x.text("30")
		x.text(in)
		if got := x.s.Answers["height"]; got != want {
			t.Errorf("%q stored %q, want %q", in, got, want)
		}
	}
	x := toAge(t)
	out := x.do(Input{Kind: InSkip})
	if r := find(out, ReplyAsk); r == nil || r.Error != MsgNotSkippable {
		t.Fatalf("skipping a required question: %+v", out)
	}
	x.text("30")
	x.do(Input{Kind: InSkip})
	x.wantAt("needs")
	if _, ok := x.s.Answers["height"]; ok {
		t.Error("skipped question has an answer")
	}
}

func TestMultiSelect(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.text("1.7")
	x.wantAt("needs")
	x.tap("work")
	x.tap("house")
	if x.s.Pending != "work house" {
		t.Fatalf("pending %q", x.s.Pending)
	}
	r := find(x.last, ReplyKeyboard)
	if r == nil || !r.Buttons[0].Checked || !r.Buttons[1].Checked || r.Buttons[2].Checked {
		t.Fatalf("keyboard %+v", x.last)
	}
	x.tap("school")
	out := x.tap("health")
	if n := find(out, ReplyNotice); n == nil || n.Msg != MsgMaxSelected || n.Args["Count"] != 3 {
		t.Fatalf("fourth tick: %+v", out)
	}
	if x.s.Pending != "work house school" {
		t.Fatalf("pending after refused tick %q", x.s.Pending)
	}
	x.tap("none") // exclusive: stands alone
	if x.s.Pending != "none" {
		t.Fatalf("pending after none %q", x.s.Pending)
	}
	x.tap("work") // clears the exclusive one
	if x.s.Pending != "work" {
		t.Fatalf("pending after work %q", x.s.Pending)
	}
	x.tap("work") // untick
	// Done with nothing ticked asks whether to skip, naming the list's own
	// way to decline, instead of skipping silently.
	if r := find(x.done(), ReplyAsk); r == nil || r.Error != MsgNoneTickedPnta || r.ErrorArgs["Choice"] != "c.tipi.needs.pnta" {
		t.Fatalf("done with nothing ticked: %+v", x.last)
	}
	x.wantAt("needs")
	for _, b := range x.buttons {
		if b.Kind == BtnSkip {
			t.Error("a Skip key beside the list's own \"prefer not to answer\"")
		}
	}
	// Asked once: Done again (its key now says so in its data) leaves the
	// question out.
	x.done()
	x.wantAt("kids")
	if _, ok := x.s.Answers["needs"]; ok {
		t.Error("empty multi-select stored")
	}
	x.do(Input{Kind: InBack})
	x.wantAt("needs")
	x.skip() // the /skip command leaves it out too
	x.wantAt("kids")
	if _, ok := x.s.Answers["needs"]; ok {
		t.Error("empty multi-select stored")
	}
	x.do(Input{Kind: InBack})
	x.wantAt("needs")
	x.tap("pnta")
	x.done()
	if x.s.Answers["needs"] != "pnta" {
		t.Errorf("needs = %q", x.s.Answers["needs"])
	}
}

func TestStaleAndForgedButtons(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.text("1.7")
	oldPos, oldSeq := x.pos, x.seq
	x.skip()
	x.wantAt("kids")
	// A tap on the previous question's keyboard.
	out := x.do(Input{Kind: InToggle, Option: "work", Button: true, Pos: oldPos, Seq: oldSeq})
	if n := find(out, ReplyNotice); n == nil || n.Msg != MsgStale {
		t.Fatalf("stale tap: %+v", out)
	}
	x.wantAt("kids")
	// A forged option on the current question.
	out = x.tap("maybe")
	if n := find(out, ReplyNotice); n == nil || n.Msg != MsgStale {
		t.Fatalf("forged option: %+v", out)
	}
	if _, ok := x.s.Answers["kids"]; ok {
		t.Error("forged option stored")
	}
	// Typing at a choice question re-asks with a hint to tap.
	out = x.text("yes please")
	if r := find(out, ReplyAsk); r == nil || r.Error != MsgChoose {
		t.Fatalf("typed at choice: %+v", out)
	}
}

func TestBackDropsIrrelevantAnswers(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.text("1.7")
	x.skip()
	x.tap("yes")
	x.wantAt("school_ok")
	p := find(x.last, ReplyAsk).Progress
	x.tap("no")
	x.wantAt("score")
	if x.s.Answers["school_ok"] != "no" {
		t.Fatal("school_ok not stored")
	}
	x.do(Input{Kind: InBack})
	x.wantAt("school_ok")
	x.do(Input{Kind: InBack})
	x.wantAt("kids")
	if r := find(x.last, ReplyAsk); !r.Buttons[0].Checked {
		t.Error("previous answer not marked on the way back")
	}
	x.tap("no")
	x.wantAt("score")
	if _, ok := x.s.Answers["school_ok"]; ok {
		t.Error("answer of a question that became irrelevant was kept")
	}
	q := find(x.last, ReplyAsk).Progress
	if q.Of != p.Of {
		t.Errorf("progress total moved from %d to %d: sections never depend on answers", p.Of, q.Of)
	}
}

func TestRangeDateTextAck(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.text("1.7")
	x.skip()
	x.tap("no")
	x.wantAt("score")
	if out := x.text("9"); find(out, ReplyAsk).Error != MsgBadRange {
		t.Fatal("out of range accepted")
	}
	x.text("٣")
	if x.s.Answers["score"] != "3" {
		t.Fatalf("score %q", x.s.Answers["score"])
	}
	x.wantAt("arrived")
	if b := find(x.last, ReplyAsk).Buttons; b[0].Literal != "2026" || len(b) < dateYears {
		t.Fatalf("year buttons %+v", b)
	}
	x.tap("2024")
	if r := find(x.last, ReplyKeyboard); r == nil || r.Buttons[2].Label != "m.month.3" {
		t.Fatalf("month keyboard %+v", x.last)
	}
	x.tap("3")
	if x.s.Answers["arrived"] != "2024-03" {
		t.Fatalf("date %q", x.s.Answers["arrived"])
	}
	if a := find(x.last, ReplyAnswered); a == nil || a.Answer != "2024" || a.AnswerMsgs[0] != "m.month.3" {
		t.Fatalf("answered %+v", x.last)
	}
	x.wantAt("comment")
	if out := x.text(strings.Repeat("a", 21)); find(out, ReplyAsk).Error != MsgTooLong {
		t.Fatal("too long accepted")
	}
	x.text("  hello\n\tworld\x00  ")
	if x.s.Answers["comment"] != "hello world" {
		t.Fatalf("comment %q", x.s.Answers["comment"])
	}
	x.wantAt("ack")
	x.tap("ok")
	x.wantAt("country")
	if b := find(x.last, ReplyAsk).Buttons; b[0].Option != "ro" || b[1].Kind != BtnBack {
		t.Fatalf("choice_filter not applied: %+v", b)
	}
	out := x.tap("ro")
	c := find(out, ReplyComplete)
	if c == nil {
		t.Fatalf("no completion: %+v", out)
	}
	want := map[string]string{"ok": "yes", "age": "30", "height": "1.7", "kids": "no", "score": "3",
		"arrived": "2024-03", "comment": "hello world", "ack": "OK", "invite_service": "anagrafe", "adult": "yes", "country": "ro"}
	if !reflect.DeepEqual(c.Response.Answers, want) {
		t.Errorf("answers\n got %v\nwant %v", c.Response.Answers, want)
	}
	if c.Response.Context["municipality"] != "058091" || c.Response.Form != "tipi" || c.Response.FormVersion != 2 {
		t.Errorf("response meta %+v", c.Response)
	}
	if c.Response.Duration() <= 0 {
		t.Error("no duration")
	}
	if r := find(out, ReplySay); r == nil || r.Msg != "q.tipi.end" {
		t.Error("final note missing")
	}
	if x.s.Phase != PhaseDone || x.s.Outcome != OutcomeCompleted {
		t.Errorf("state %+v", x.s)
	}
	out = x.text("hello?")
	if r := find(out, ReplySay); r == nil || r.Msg != MsgDoneAlready {
		t.Errorf("after completion: %+v", out)
	}
}

func TestIneligible(t *testing.T) {
	x := toAge(t)
	x.text("15")
	for x.s.Phase == PhaseAsking {
		if x.do(Input{Kind: InSkip}); find(x.last, ReplyAsk) != nil && find(x.last, ReplyAsk).Error != "" {
			x.tap(x.buttons[0].Option)
			if x.buttons[0].Kind == BtnToggle {
				x.done()
			}
		}
	}
	if x.s.Outcome != OutcomeIneligible || find(x.last, ReplyComplete) != nil || len(x.s.Answers) != 0 {
		t.Fatalf("minor: outcome %q answers %v", x.s.Outcome, x.s.Answers)
	}
}

func TestLanguageSwitchKeepsAnswers(t *testing.T) {
	x := toAge(t)
	x.text("30")
	seq := x.seq
	out := x.do(Input{Kind: InSetLanguage, Lang: "ar"})
	x.wantAt("height")
	if x.s.Lang != "ar" || !reflect.DeepEqual(x.s.Langs, []string{"en", "ar"}) {
		t.Fatalf("langs %v", x.s.Langs)
	}
	if r := find(out, ReplyAsk); r == nil || r.Seq == seq {
		t.Fatal("question not re-asked in a new showing")
	}
	if x.s.Answers["age"] != "30" {
		t.Fatal("answers lost")
	}
}

func TestRestartExpireRepeat(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.do(Input{Kind: InRestart})
	x.wantAt("ok")
	if len(x.s.Answers) != 1 || x.s.Answers["invite_service"] != "anagrafe" || x.s.Lang != "en" {
		t.Fatalf("after restart: %+v", x.s)
	}
	out := x.do(Input{Kind: InRepeat})
	if r := find(out, ReplyAsk); r == nil || r.Question != "ok" {
		t.Fatalf("repeat: %+v", out)
	}
	x.do(Input{Kind: InExpire})
	if x.s.Phase != PhaseNew || len(x.s.Answers) != 0 || x.s.Lang != "en" {
		t.Fatalf("after expire: %+v", x.s)
	}
	// Resume: /start while asking re-asks the current question.
	x = toAge(t)
	out = x.do(Input{Kind: InStart, Payload: "other"})
	x.wantAt("age")
	if find(out, ReplyAsk) == nil {
		t.Fatal("resume did not re-ask")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	x := toAge(t)
	x.text("30")
	x.text("1,5")
	x.tap("work")
	b, err := Encode(x.s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, x.s) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, x.s)
	}
	if _, err := Decode([]byte(`{"e":99}`)); err == nil {
		t.Error("future encoding accepted")
	}
	if _, err := Decode([]byte(`garbage`)); err == nil {
		t.Error("garbage accepted")
	}
}

// checkInvariants is what must hold after any input sequence.
func checkInvariants(t testing.TB, f *Form, s State) {
	t.Helper()
	switch s.Phase {
	case PhaseAsking:
		if s.Pos < 0 || s.Pos >= len(f.Questions) {
			t.Fatalf("position %d out of range", s.Pos)
		}
		q := f.Questions[s.Pos]
		if !q.Type.Shown() || q.Type == TypeNote {
			t.Fatalf("waiting at %s of type %v", q.Name, q.Type)
		}
		st := stepper{f: f, s: s.clone(), now: t0}
		st.refresh()
		if !st.rel[s.Pos] {
			t.Fatalf("waiting at irrelevant %s", q.Name)
		}
	case PhaseDone:
		if s.Outcome != OutcomeCompleted {
			if len(s.Answers) != 0 {
				t.Fatalf("%s interview keeps answers", s.Outcome)
			}
			return
		}
		st := stepper{f: f, s: s.clone(), now: t0}
		st.refresh()
		if st.changed {
			t.Fatalf("completed state keeps irrelevant answers or stale calculations: %v", s.Answers)
		}
		for i, q := range f.Questions {
			if st.rel[i] && q.Required && s.Answers[q.Name] == "" {
				t.Fatalf("completed without required %s", q.Name)
			}
		}
	}
}

// randomInput makes an input from a few bytes: the property and fuzz tests
// share it.
func randomInput(b []byte, last []Button, pos int, seq uint32) Input {
	if len(b) < 3 {
		return Input{Kind: InText, Text: string(b)}
	}
	kind := InputKind(1 + int(b[0])%int(InRepeat))
	in := Input{Kind: kind, Button: b[1]%4 != 0, Pos: pos, Seq: seq}
	if b[1]%7 == 0 {
		in.Pos = int(b[2]) - 3
		in.Seq = uint32(b[2])
	}
	if len(last) > 0 {
		in.Option = last[int(b[2])%len(last)].Option
	}
	switch kind {
	case InText:
		in.Text = []string{"12", "٤", "abc", "", "1,5", "2024-03", strings.Repeat("x", 30), "-5"}[int(b[2])%8]
	case InSetLanguage:
		in.Lang = []string{"en", "it", "ar", ""}[int(b[2])%4]
	case InChoose, InToggle:
		if b[2]%5 == 0 {
			in.Option = string(b)
		}
	}
	return in
}

// sensibleInput is what a cooperative respondent would do next, so that
// random walks also reach the end of the form.
func sensibleInput(rng *rand.Rand, x *session) Input {
	switch x.s.Phase {
	case PhaseNew:
		return Input{Kind: InStart}
	case PhaseLanguage:
		return Input{Kind: InSetLanguage, Lang: "en"}
	case PhaseDone:
		return Input{Kind: InRestart}
	}
	q := x.f.Questions[x.s.Pos]
	switch q.Type {
	case TypeText:
		return Input{Kind: InText, Text: "fine"}
	case TypeInteger, TypeDecimal:
		return Input{Kind: InText, Text: []string{"12", "30", "٤٠", "200"}[rng.Intn(4)]}
	}
	var opts []Button
	for _, b := range x.buttons {
		if b.Kind == BtnChoose || b.Kind == BtnToggle || b.Kind == BtnAck {
			opts = append(opts, b)
		}
	}
	if q.Type == TypeSelectMultiple && (len(opts) == 0 || rng.Intn(3) == 0) {
		return Input{Kind: InDone, Button: true, Pos: x.pos, Seq: x.seq}
	}
	if len(opts) == 0 || rng.Intn(8) == 0 {
		return Input{Kind: InBack}
	}
	b := opts[rng.Intn(len(opts))]
	kind := InChoose
	if b.Kind == BtnToggle {
		kind = InToggle
	}
	return Input{Kind: kind, Option: b.Option, Button: true, Pos: x.pos, Seq: x.seq}
}

func TestPropertyRandomWalks(t *testing.T) {
	f := tipi(t)
	rng := rand.New(rand.NewSource(1))
	completed := 0
	for walk := 0; walk < 2000; walk++ {
		x := newSession(t, f)
		for i := 0; i < 80; i++ {
			b := make([]byte, 3)
			rng.Read(b)
			if rng.Intn(10) < 8 {
				x.do(sensibleInput(rng, x))
			} else {
				x.do(randomInput(b, x.buttons, x.pos, x.seq))
			}
			checkInvariants(t, f, x.s)
			if c := find(x.last, ReplyComplete); c != nil {
				completed++
				for name := range c.Response.Answers {
					if f.Question(name) == nil {
						t.Fatalf("response has unknown answer %s", name)
					}
				}
			}
		}
	}
	if completed == 0 {
		t.Fatal("no random walk completed: the property test explores too little")
	}
}

func FuzzStep(f *testing.F) {
	form := mustParseFile(f, "testdata/good/all_types.yaml")
	f.Add([]byte("\x01\x00\x00\x09\x01\x00\x03\x01\x00"))
	f.Add([]byte("\x03\x01\x00\x02\x02\x02\x06\x00\x00\x04\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := newSession(t, form)
		for len(data) >= 3 {
			x.do(randomInput(data[:3], x.buttons, x.pos, x.seq))
			checkInvariants(t, form, x.s)
			data = data[3:]
		}
	})
}

// TestDeadEndsSayHowToStartAgain: an interview that ends without answers
// (no to consent, under 18) ends with how to start again; a completed one
// does not.
func TestDeadEndsSayHowToStartAgain(t *testing.T) {
	says := func(out []Reply) bool {
		for _, r := range out {
			if r.Kind == ReplySay && r.Msg == MsgStartAgain {
				return true
			}
		}
		return false
	}
	x := newSession(t, tipi(t))
	x.s.Lang = "en"
	x.do(Input{Kind: InStart})
	x.tap("no")
	if x.s.Outcome != OutcomeDeclined || !says(x.last) {
		t.Errorf("declined (%q): the end does not say %s: %+v", x.s.Outcome, MsgStartAgain, x.last)
	}
	x = toAge(t)
	x.text("15")
	for x.s.Phase == PhaseAsking {
		if x.do(Input{Kind: InSkip}); find(x.last, ReplyAsk) != nil && find(x.last, ReplyAsk).Error != "" {
			x.tap(x.buttons[0].Option)
			if x.buttons[0].Kind == BtnToggle {
				x.done()
			}
		}
	}
	if x.s.Outcome != OutcomeIneligible || !says(x.last) {
		t.Errorf("under age (%q): the end does not say %s: %+v", x.s.Outcome, MsgStartAgain, x.last)
	}
	x = toAge(t)
	x.text("30")
	for x.s.Phase == PhaseAsking {
		if x.do(Input{Kind: InSkip}); find(x.last, ReplyAsk) != nil && find(x.last, ReplyAsk).Error != "" {
			x.tap(x.buttons[0].Option)
			if x.buttons[0].Kind == BtnToggle {
				x.done()
			}
		}
	}
	if x.s.Outcome != OutcomeCompleted || says(x.last) {
		t.Errorf("completed (%q): says %s: %v", x.s.Outcome, MsgStartAgain, says(x.last))
	}
}
