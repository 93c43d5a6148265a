package interview

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

// Strict fakes of the core's ports. Every call on any of them is checked,
// in order, against one script of expected calls: an unexpected call, a
// call with other arguments or out of order fails the test at once, and an
// expected call that was not made fails it at the end.

// expect is one expected call, written as the fake formats it, and what
// the call returns.
type expect struct {
	call string
	ret  any // Loaded (Load), Invite (Resolve), int (Erase), []int (Recent)
	err  error
}

type script struct {
	t    testing.TB
	want []expect
	next int
}

func newScript(t testing.TB, want ...expect) *script {
	s := &script{t: t, want: want}
	t.Cleanup(func() {
		if s.next < len(s.want) {
			var missing []string
			for _, e := range s.want[s.next:] {
				missing = append(missing, e.call)
			}
			t.Errorf("expected calls not made:\n  %s", strings.Join(missing, "\n  "))
		}
	})
	return s
}

// call checks got against the next expected call and returns it.
func (s *script) call(got string) expect {
	s.t.Helper()
	if s.next >= len(s.want) {
		s.t.Fatalf("unexpected call %s (after all %d expected calls)", got, len(s.want))
	}
	e := s.want[s.next]
	s.next++
	if e.call != got {
		s.t.Fatalf("call %d:\n   got %s\n  want %s", s.next, got, e.call)
	}
	return e
}

type fakeSessions struct{ s *script }

var _ Sessions = fakeSessions{}

func (f fakeSessions) Load(_ context.Context, chat, key int64) (Loaded, error) {
	e := f.s.call(fmt.Sprintf("Load chat=%d key=%d", chat, key))
	l, _ := e.ret.(Loaded)
	return l, e.err
}

func (f fakeSessions) Save(_ context.Context, chat, key int64, expect, next uint64, blob []byte, ab *Abandon, stage Stage) error {
	st, err := dialog.Decode(blob)
	if err != nil {
		f.s.t.Fatalf("Save: undecodable blob: %v", err)
	}
	abandon := "-"
	if ab != nil {
		abandon = ab.Form + "@" + ab.LastQuestion
		if !ab.Expires.IsZero() {
			abandon += " expires=" + ab.Expires.UTC().Format(time.RFC3339)
		}
	}
	if st.FormVersion > 1 { // the tests' forms are version 1 but where a case publishes another
		abandon += fmt.Sprintf(" form=%s@%d", st.Form, st.FormVersion)
	}
	if stage != StageOf(st) {
		f.s.t.Errorf("Save: stage %+v, but the saved state's is %+v", stage, StageOf(st))
	}
	if stage.WaitingAt != "" {
		abandon += " waits=" + stage.WaitingAt
	}
	e := f.s.call(fmt.Sprintf("Save chat=%d key=%d expect=%d next=%d phase=%d pos=%d lang=%s answers=%d abandon=%s",
		chat, key, expect, next, st.Phase, st.Pos, st.Lang, len(st.Answers), abandon))
	return e.err
}

func (f fakeSessions) MarkSent(_ context.Context, chat, key int64, lastMsg int) error {
	return f.s.call(fmt.Sprintf("MarkSent chat=%d key=%d last=%d", chat, key, lastMsg)).err
}

func (f fakeSessions) Delete(_ context.Context, chat int64) error {
	return f.s.call(fmt.Sprintf("Delete chat=%d", chat)).err
}

// fakeCompletingSessions records a completion with the save
// (CompletingSessions).
type fakeCompletingSessions struct{ fakeSessions }

var _ CompletingSessions = fakeCompletingSessions{}

func (f fakeCompletingSessions) SaveCompleted(_ context.Context, chat, key int64, expect, next uint64, blob []byte, c Completion) error {
	st, err := dialog.Decode(blob)
	if err != nil {
		f.s.t.Fatalf("SaveCompleted: undecodable blob: %v", err)
	}
	if len(c.ID) != 32 || c.Idem != IdempotencyKey(c.Pseudonym, &c.Response) {
		f.s.t.Errorf("SaveCompleted: id %q, idem %q: want a random 32-hex id and the derived key", c.ID, c.Idem)
	}
	return f.s.call(fmt.Sprintf("SaveCompleted chat=%d key=%d expect=%d next=%d phase=%d pseudonym=%s form=%s answers=%d",
		chat, key, expect, next, st.Phase, c.Pseudonym, c.Response.Form, len(c.Response.Answers))).err
}

// fakeConfirmingSessions is fakeSessions whose Load may answer from
// memory (Confirmer).
type fakeConfirmingSessions struct{ fakeSessions }

var _ Confirmer = fakeConfirmingSessions{}

func (f fakeConfirmingSessions) Confirm(_ context.Context, chat int64, version uint64) error {
	return f.s.call(fmt.Sprintf("Confirm chat=%d version=%d", chat, version)).err
}

type fakeResponses struct{ s *script }

var _ Responses = fakeResponses{}

func (f fakeResponses) Complete(_ context.Context, c Completion) error {
	if len(c.ID) != 32 || c.Idem != IdempotencyKey(c.Pseudonym, &c.Response) {
		f.s.t.Errorf("Complete: id %q, idem %q: want a random 32-hex id and the derived key", c.ID, c.Idem)
	}
	return f.s.call(fmt.Sprintf("Complete pseudonym=%s form=%s answers=%d", c.Pseudonym, c.Response.Form, len(c.Response.Answers))).err
}

func (f fakeResponses) Erase(_ context.Context, pseudonym string) (int, error) {
	e := f.s.call("Erase pseudonym=" + pseudonym)
	n, _ := e.ret.(int)
	return n, e.err
}

type fakeOutbox struct{ s *script }

var _ Outbox = fakeOutbox{}

func (f fakeOutbox) Queue(_ context.Context, c Completion) error {
	return f.s.call(fmt.Sprintf("Queue pseudonym=%s form=%s answers=%d", c.Pseudonym, c.Response.Form, len(c.Response.Answers))).err
}

type fakeInvites struct{ s *script }

var _ Invites = fakeInvites{}

func (f fakeInvites) Resolve(_ context.Context, token, user string) (Invite, error) {
	e := f.s.call(fmt.Sprintf("Resolve token=%s user=%s", token, user))
	inv, _ := e.ret.(Invite)
	return inv, e.err
}

type fakeReminders struct{ s *script }

var _ Reminders = fakeReminders{}

func (f fakeReminders) Arm(_ context.Context, chat int64, lang string, due time.Time) error {
	return f.s.call(fmt.Sprintf("Arm chat=%d lang=%s due=%s", chat, lang, due.UTC().Format(time.RFC3339))).err
}

func (f fakeReminders) Cancel(_ context.Context, chat int64, refuse bool) error {
	return f.s.call(fmt.Sprintf("Cancel chat=%d refuse=%v", chat, refuse)).err
}

type fakeAbandonments struct{ s *script }

var _ Abandonments = fakeAbandonments{}

func (f fakeAbandonments) Abandoned(_ context.Context, chat int64, a Abandon, at time.Time) error {
	return f.s.call(fmt.Sprintf("Abandoned chat=%d form=%s@%d last=%s started=%d reminded=%v at=%s",
		chat, a.Form, a.FormVersion, a.LastQuestion, a.Started, a.Reminded, at.UTC().Format(time.RFC3339))).err
}

type fakeMessages struct{ s *script }

var _ MessageLog = fakeMessages{}

func (f fakeMessages) Record(_ context.Context, chat int64, ids []int) error {
	return f.s.call(fmt.Sprintf("Record chat=%d ids=%v", chat, ids)).err
}

func (f fakeMessages) Recent(_ context.Context, chat int64) ([]int, error) {
	e := f.s.call(fmt.Sprintf("Recent chat=%d", chat))
	ids, _ := e.ret.([]int)
	return ids, e.err
}

// fakeEvents records interview events as calls too, so that a table says
// which events a turn reports.
type fakeEvents struct{ s *script }

func (f fakeEvents) Interview(name string) { f.s.call("Event " + name) }

// fakeChannel is the channel: Present is a call of the script, and then
// runs act (the channel's interpretation of a chat input).
type fakeChannel struct {
	s   *script
	act func(ctx context.Context, t *Turn) error
}

var _ Channel = fakeChannel{}

func (f fakeChannel) Present(ctx context.Context, t *Turn) error {
	e := f.s.call(fmt.Sprintf("Present kind=%s seen=%d replay=%v", t.Input().Kind, t.Seen(), t.Replay()))
	if e.err != nil {
		return e.err
	}
	if f.act == nil {
		return nil
	}
	return f.act(ctx, t)
}

// miniForms loads testdata/mini.yaml: consent (ok), likes, again, end.
func miniForms(t testing.TB) *dialog.Library {
	t.Helper()
	src, err := os.ReadFile("testdata/mini.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := dialog.Parse("mini.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	lib, err := dialog.NewLibrary(f)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// testNow is the clock of every test: Sunday 6 December 2026, 10:00 UTC.
var testNow = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// newCore returns a core over strict fakes of every port, all sharing s.
func newCore(t testing.TB, s *script, opts ...func(*Config)) *Core {
	cfg := Config{Forms: miniForms(t), DefaultForm: "mini", DefaultContext: map[string]string{CtxMunicipality: "1"}, Sessions: fakeSessions{s}, Responses: fakeResponses{s}, Outbox: fakeOutbox{s},
		Invites: fakeInvites{s}, Messages: fakeMessages{s}, Reminders: fakeReminders{s}, ReminderAfter: 24 * time.Hour,
		Pseudonym: func(u int64) string { return fmt.Sprintf("p%d", u) }, Now: func() time.Time { return testNow },
		Events: fakeEvents{s}}
	for _, o := range opts {
		o(&cfg)
	}
	return New(cfg)
}

// stateAt runs the mini questionnaire through ins from nothing and returns
// the state it reaches (with the version the steps gave it).
func stateAt(t testing.TB, ins ...dialog.Input) dialog.State {
	t.Helper()
	f := miniForms(t).Latest("mini")
	var s dialog.State
	for _, in := range ins {
		s, _ = dialog.Step(f, s, in, testNow.Add(-time.Hour))
	}
	return s
}

func blobOf(t testing.TB, s dialog.State) []byte {
	t.Helper()
	b, err := dialog.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Inputs of the mini questionnaire.
var (
	muni1    = map[string]string{CtxMunicipality: "1"}
	inStart  = dialog.Input{Kind: dialog.InStart, Context: muni1}
	inLangEN = dialog.Input{Kind: dialog.InSetLanguage, Lang: "en"}
	inYes    = dialog.Input{Kind: dialog.InChoose, Option: "yes"}
	inNo     = dialog.Input{Kind: dialog.InChoose, Option: "no"}
)
