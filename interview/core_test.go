package interview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

// The turn logic through the core's ports, without Redis or Postgres:
// each case lists every call the core must make, in order, on strict fakes
// (script), and what the channel does within the turn (act).
func TestApply(t *testing.T) {
	consentAsked := stateAt(t, inStart, inLangEN)               // v2, asking for consent
	pastConsent := stateAt(t, inStart, inLangEN, inYes)         // v3, at "likes"
	lastQuestion := stateAt(t, inStart, inLangEN, inYes, inYes) // v4, at "again"
	finished := Stored(stateAt(t, inStart, inLangEN, inYes, inYes, inNo))
	loaded := func(s dialog.State, seen Seen) Loaded {
		return Loaded{Blob: blobOf(t, s), Version: s.Version, Seen: seen, LastMsg: 40}
	}
	chat := func(key int64) Input { return Input{Kind: KindChat, Key: UpdateKey(key), Chat: 7, User: 7} }
	step := func(in dialog.Input) func(context.Context, *testing.T, *Turn) error {
		return func(ctx context.Context, _ *testing.T, tu *Turn) error {
			_, err := tu.Step(ctx, in, true)
			return err
		}
	}
	eof := io.ErrUnexpectedEOF // a store's connection failing
	expireK := ExpireKey(7, pastConsent.Version)
	expireKey := expireK.ID()
	atLanguage := stateAt(t, inStart) // v1, choosing the language
	expiring := func(c *Config) {
		c.ExpireAfter = 30 * 24 * time.Hour
		c.Abandonments = fakeAbandonments{c.Events.(fakeEvents).s}
	}
	const armed = "Arm chat=7 lang=en due=2026-12-07T10:00:00Z"
	completing := func(c *Config) { c.Sessions = fakeCompletingSessions{c.Sessions.(fakeSessions)} }
	confirming := func(c *Config) { c.Sessions = fakeConfirmingSessions{c.Sessions.(fakeSessions)} }
	repeatQ := func(ctx context.Context, _ *testing.T, tu *Turn) error {
		_, err := tu.Step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
		return err
	}
	const saveCompleted = "SaveCompleted chat=7 key=6 expect=4 next=5 phase=3 pseudonym=p7 form=mini answers=3"
	const saveLikes = "Save chat=7 key=5 expect=2 next=3 phase=2 pos=3 lang=en answers=1 abandon=mini@likes"

	cases := []struct {
		name    string
		opts    []func(*Config)
		in      Input
		act     func(context.Context, *testing.T, *Turn) error
		want    []expect
		wantErr error
	}{{
		name: "consent given: saved, reminder armed, started, marked sent with the card",
		in:   chat(5),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			if _, err := tu.Step(ctx, inYes, true); err != nil {
				return err
			}
			tu.Shown(41)
			tu.Sent(41, 42)
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes},
			{call: armed},
			{call: "Event started"},
			{call: "Record chat=7 ids=[41 42]"},
			{call: "MarkSent chat=7 key=5 last=41"},
		},
	}, {
		name: "a duplicate delivery costs nothing",
		in:   chat(5),
		act:  func(context.Context, *testing.T, *Turn) error { panic("presented a duplicate") },
		want: []expect{{call: "Load chat=7 key=5", ret: loaded(pastConsent, SeenSent)}},
	}, {
		name: "applied but maybe not sent: the current question again, nothing saved",
		in:   chat(5),
		act: func(_ context.Context, t *testing.T, tu *Turn) error {
			if !hasReply(tu.Effects(), dialog.ReplyAsk, "q.mini.likes") || tu.Effects().Saved {
				t.Errorf("replay effects: %+v", tu.Effects())
			}
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(pastConsent, SeenApplied)},
			{call: "Present kind=chat seen=1 replay=true"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "a version conflict reloads and applies again",
		in:   chat(5),
		act:  step(inYes),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes, err: ErrConflict},
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes},
			{call: armed},
			{call: "Event started"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "a step that saves nothing confirms the loaded version (a load from memory has no compare-and-swap)",
		opts: []func(*Config){confirming},
		in:   chat(5),
		act:  repeatQ,
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(pastConsent, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Confirm chat=7 version=3"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "moved meanwhile (another replica): the step that saves nothing loads again and answers from the stored state",
		opts: []func(*Config){confirming},
		in:   chat(5),
		act:  repeatQ,
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Confirm chat=7 version=2", err: ErrConflict},
			{call: "Load chat=7 key=5", ret: loaded(pastConsent, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Confirm chat=7 version=3"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "a step that saves is confirmed by its save: no Confirm",
		opts: []func(*Config){confirming},
		in:   chat(5),
		act:  step(inYes),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes},
			{call: armed},
			{call: "Event started"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name:    "conflicts without end give up, nothing marked sent",
		in:      chat(5),
		act:     step(inYes),
		want:    repeat(maxConflicts+1, expect{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)}, expect{call: "Present kind=chat seen=0 replay=false"}, expect{call: saveLikes, err: ErrConflict}),
		wantErr: ErrConflict,
	}, {
		name:    "Redis down at load: unavailable, nothing presented",
		in:      chat(5),
		want:    []expect{{call: "Load chat=7 key=5", err: eof}},
		wantErr: ErrUnavailable,
	}, {
		name: "Redis down at save: unavailable, nothing marked sent",
		in:   chat(5),
		act:  step(inYes),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes, err: eof},
		},
		wantErr: ErrUnavailable,
	}, {
		name: "completion recorded before the save; the reminder is cancelled",
		in:   chat(6),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			eff, err := tu.Step(ctx, inNo, true)
			if err == nil && (eff.Completed == nil || !eff.Saved || eff.Next.Phase != dialog.PhaseDone) {
				t.Errorf("completion effects: %+v", eff)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Complete pseudonym=p7 form=mini answers=3"},
			{call: "Event completed"},
			{call: "Save chat=7 key=6 expect=4 next=5 phase=3 pos=0 lang=en answers=0 abandon=-"},
			{call: "Cancel chat=7 refuse=false"},
			{call: "MarkSent chat=7 key=6 last=40"},
		},
	}, {
		name: "Postgres down at completion: queued in the outbox, the interview goes on",
		in:   chat(6),
		act:  step(inNo),
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Complete pseudonym=p7 form=mini answers=3", err: eof},
			{call: "Queue pseudonym=p7 form=mini answers=3"},
			{call: "Event completed"},
			{call: "Save chat=7 key=6 expect=4 next=5 phase=3 pos=0 lang=en answers=0 abandon=-"},
			{call: "Cancel chat=7 refuse=false"},
			{call: "MarkSent chat=7 key=6 last=40"},
		},
	}, {
		name: "Postgres and the outbox down at completion: unavailable, nothing saved",
		in:   chat(6),
		act:  step(inNo),
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Complete pseudonym=p7 form=mini answers=3", err: eof},
			{call: "Queue pseudonym=p7 form=mini answers=3", err: eof},
		},
		wantErr: ErrUnavailable,
	}, {
		name: "a completion rejected as invalid is not queued and not an outage",
		in:   chat(6),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			_, err := tu.Step(ctx, inNo, true)
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("a rejected record reported as an outage: %v", err)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Complete pseudonym=p7 form=mini answers=3", err: fmt.Errorf("no municipality: %w", ErrRejected)},
		},
		wantErr: ErrRejected,
	}, {
		name: "completion recorded with the save (CompletingSessions): no write to Responses in the turn",
		opts: []func(*Config){completing},
		in:   chat(6),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			eff, err := tu.Step(ctx, inNo, true)
			if err == nil && (eff.Completed == nil || !eff.Saved || eff.Next.Phase != dialog.PhaseDone) {
				t.Errorf("completion effects: %+v", eff)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Event completed"},
			{call: saveCompleted},
			{call: "Cancel chat=7 refuse=false"},
			{call: "MarkSent chat=7 key=6 last=40"},
		},
	}, {
		name: "completion with the save that conflicts: stepped again, recorded once by the save that succeeds",
		opts: []func(*Config){completing},
		in:   chat(6),
		act:  step(inNo),
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Event completed"},
			{call: saveCompleted, err: ErrConflict},
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Event completed"},
			{call: saveCompleted},
			{call: "Cancel chat=7 refuse=false"},
			{call: "MarkSent chat=7 key=6 last=40"},
		},
	}, {
		name: "completion with the save rejected as invalid: not an outage, not queued",
		opts: []func(*Config){completing},
		in:   chat(6),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			_, err := tu.Step(ctx, inNo, true)
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("a rejected record reported as an outage: %v", err)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=6", ret: loaded(lastQuestion, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Event completed"},
			{call: saveCompleted, err: fmt.Errorf("no municipality: %w", ErrRejected)},
		},
		wantErr: ErrRejected,
	}, {
		name: "an invite begins the interview with its context",
		in:   chat(1),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			s, err := tu.Start(ctx, "tok")
			if err != nil || s.Refused != nil || s.Input.Context[CtxMunicipality] != "3" {
				t.Fatalf("start: %+v, %v", s, err)
			}
			_, err = tu.Step(ctx, s.Input, true)
			if tu.State().Context[CtxService] != "9" {
				t.Errorf("context not from the invite: %v", tu.State().Context)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=1"},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Resolve token=tok user=p7", ret: Invite{Form: "mini", Context: map[string]string{CtxMunicipality: "3", CtxService: "9"}}},
			{call: "Save chat=7 key=1 expect=0 next=1 phase=1 pos=-1 lang= answers=0 abandon=- waits=mini"},
			{call: "MarkSent chat=7 key=1 last=0"},
		},
	}, {
		name: "a refused invite applies nothing",
		in:   chat(1),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			s, err := tu.Start(ctx, "old")
			if !errors.Is(s.Refused, ErrInviteExpired) {
				t.Errorf("refused %v", s.Refused)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=1"},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Resolve token=old user=p7", err: ErrInviteExpired},
			{call: "MarkSent chat=7 key=1 last=0"},
		},
	}, {
		name: "the invite store down: unavailable",
		in:   chat(1),
		act: func(ctx context.Context, _ *testing.T, tu *Turn) error {
			_, err := tu.Start(ctx, "tok")
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=1"},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Resolve token=tok user=p7", err: eof},
		},
		wantErr: ErrUnavailable,
	}, {
		name: "re-opening the link mid-interview resumes it without using the invite",
		in:   chat(8),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			s, err := tu.Start(ctx, "tok")
			if !s.Resumed || s.Refused != nil {
				t.Errorf("start: %+v", s)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=8", ret: loaded(pastConsent, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "MarkSent chat=7 key=8 last=40"},
		},
	}, {
		name: "no interview and no invite: nothing applied, told how to get a link",
		opts: []func(*Config){func(c *Config) { c.DefaultContext = nil }},
		in:   chat(2),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			if s, _ := tu.Start(ctx, ""); !errors.Is(s.Refused, ErrNoInvite) {
				t.Errorf("start without invite: %+v", s)
			}
			eff, err := tu.Step(ctx, dialog.Input{Kind: dialog.InText, Text: "hello"}, true)
			if !eff.NoInvite || eff.Saved {
				t.Errorf("effects: %+v", eff)
			}
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=2"},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "MarkSent chat=7 key=2 last=0"},
		},
	}, {
		name: "/restart after a finished interview needs the link again",
		opts: []func(*Config){func(c *Config) { c.DefaultContext = nil }},
		in:   chat(3),
		act: func(_ context.Context, t *testing.T, tu *Turn) error {
			if _, err := tu.Restart(); !errors.Is(err, ErrNeedsLink) {
				t.Errorf("restart: %v, want ErrNeedsLink", err)
			}
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=3", ret: loaded(finished, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "MarkSent chat=7 key=3 last=40"},
		},
	}, {
		name: "/delete erases every store and records nothing more",
		in:   chat(9),
		act: func(ctx context.Context, t *testing.T, tu *Turn) error {
			e, err := tu.Erase(ctx)
			if err == nil && (e.Responses != 1 || len(e.Messages) != 2) {
				t.Errorf("erasure %+v", e)
			}
			tu.Sent(50) // "deleted": not recorded after an erasure
			return err
		},
		want: []expect{
			{call: "Load chat=7 key=9", ret: loaded(pastConsent, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Recent chat=7", ret: []int{40, 41}},
			{call: "Delete chat=7"},
			{call: "Erase pseudonym=p7", ret: 1},
			{call: "MarkSent chat=7 key=9 last=40"},
		},
	}, {
		name: "Stop on the reminder refuses any further one",
		in:   chat(10),
		act: func(ctx context.Context, _ *testing.T, tu *Turn) error {
			tu.StopReminders(ctx)
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=10", ret: loaded(pastConsent, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Cancel chat=7 refuse=true"},
			{call: "Event reminder_stopped"},
			{call: "MarkSent chat=7 key=10 last=40"},
		},
	}, {
		name: "quiet hours move the reminder's due time",
		opts: []func(*Config){func(c *Config) {
			c.ReminderQuiet = func(t time.Time) time.Time { return t.Add(3 * time.Hour) }
		}},
		in:  chat(5),
		act: step(inYes),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes},
			{call: "Arm chat=7 lang=en due=2026-12-07T13:00:00Z"},
			{call: "Event started"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "a due reminder mid-interview is presented and recorded",
		in:   Input{Kind: KindRemind, Chat: 7},
		act: func(_ context.Context, t *testing.T, tu *Turn) error {
			if tu.Lang() != "en" {
				t.Errorf("reminder language %q", tu.Lang())
			}
			if !Flagged(tu.State(), CtxReminded) || AbandonOf(tu.State()) == nil || !AbandonOf(tu.State()).Reminded {
				t.Error("the reminder is not flagged in the state before it goes out")
			}
			tu.Reminded(60)
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=0", ret: loaded(pastConsent, SeenNone)},
			// Flagged (the reminder funnel) before anything is sent.
			{call: "Save chat=7 key=0 expect=3 next=4 phase=2 pos=3 lang=en answers=1 abandon=mini@likes"},
			{call: "Present kind=remind seen=0 replay=false"},
			{call: "Event reminded"},
			{call: "Record chat=7 ids=[60]"},
		},
	}, {
		name: "a reminder due after the interview ended is dropped",
		in:   Input{Kind: KindRemind, Chat: 7},
		want: []expect{{call: "Load chat=7 key=0", ret: loaded(finished, SeenNone)}},
	}, {
		name: "a reminder that could not be sent comes again",
		in:   Input{Kind: KindRemind, Chat: 7},
		want: []expect{
			{call: "Load chat=7 key=0", ret: loaded(pastConsent, SeenNone)},
			{call: "Save chat=7 key=0 expect=3 next=4 phase=2 pos=3 lang=en answers=1 abandon=mini@likes"},
			{call: "Present kind=remind seen=0 replay=false", err: eof},
		},
		wantErr: eof,
	}, {
		name: "expiry delivers dialog.InExpire: state reset, reminder cancelled, the person told",
		in:   Input{Kind: KindExpire, Key: ExpireKey(7, pastConsent.Version), Chat: 7},
		act: func(_ context.Context, t *testing.T, tu *Turn) error {
			eff := tu.Effects()
			if !hasReply(eff, dialog.ReplySay, dialog.MsgExpired) || eff.Next.Phase != dialog.PhaseNew || eff.Next.Lang != "en" {
				t.Errorf("expiry effects: %+v", eff)
			}
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(expireKey), ret: loaded(pastConsent, SeenNone)},
			{call: "Save chat=7 key=" + itoa(expireKey) + " expect=3 next=4 phase=0 pos=0 lang=en answers=0 abandon=-"},
			{call: "Cancel chat=7 refuse=false"},
			{call: "Event expired"},
			{call: "Present kind=expire seen=0 replay=false"},
			{call: "MarkSent chat=7 key=" + itoa(expireKey) + " last=40"},
		},
	}, {
		// (Meaning changed with scheduled expiry: the job goes with the
		// expiry's save, so an applied expiry comes again only as a copy
		// racing the one that saved it, which tells the person.)
		name: "expiry applied before (a copy that raced another replica): nothing again",
		in:   Input{Kind: KindExpire, Key: ExpireKey(7, pastConsent.Version), Chat: 7},
		act:  func(context.Context, *testing.T, *Turn) error { panic("expiry notice presented twice") },
		want: []expect{
			{call: "Load chat=7 key=" + itoa(expireKey), ret: Loaded{Version: 4, Seen: SeenApplied}},
			{call: "MarkSent chat=7 key=" + itoa(expireKey) + " last=0"},
		},
	}, {
		name: "expiry of no interview: nothing to say",
		in:   Input{Kind: KindExpire, Key: ExpireKey(7, 0), Chat: 7},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(ExpireKey(7, 0).ID())},
			{call: "MarkSent chat=7 key=" + itoa(ExpireKey(7, 0).ID()) + " last=0"},
		},
	}, {
		name: "with ExpireAfter every save past consent arms the expiry job, from the last input",
		opts: []func(*Config){expiring},
		in:   chat(5),
		act:  step(inYes),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(consentAsked, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: saveLikes + " expires=2027-01-05T10:00:00Z"},
			{call: armed},
			{call: "Event started"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "the reminder's flag re-arms the expiry at the same time (the person did nothing)",
		opts: []func(*Config){expiring},
		in:   Input{Kind: KindRemind, Key: RemindKey(7, 1000), Chat: 7},
		act: func(_ context.Context, _ *testing.T, tu *Turn) error {
			tu.Reminded(60)
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(RemindKey(7, 1000).ID()), ret: loaded(pastConsent, SeenNone)},
			{call: "Save chat=7 key=" + itoa(RemindKey(7, 1000).ID()) + " expect=3 next=4 phase=2 pos=3 lang=en answers=1 abandon=mini@likes expires=2027-01-05T09:00:00Z"},
			{call: "Present kind=remind seen=0 replay=false"},
			{call: "Event reminded"},
			{call: "Record chat=7 ids=[60]"},
			{call: "MarkSent chat=7 key=" + itoa(RemindKey(7, 1000).ID()) + " last=40"},
		},
	}, {
		name: "a reminder job delivered again after its flag was saved is not sent twice",
		in:   Input{Kind: KindRemind, Key: RemindKey(7, 1000), Chat: 7},
		act:  func(context.Context, *testing.T, *Turn) error { panic("reminder presented twice") },
		want: []expect{
			{call: "Load chat=7 key=" + itoa(RemindKey(7, 1000).ID()), ret: loaded(withFlag(pastConsent, CtxReminded), SeenApplied)},
			{call: "MarkSent chat=7 key=" + itoa(RemindKey(7, 1000).ID()) + " last=40"},
		},
	}, {
		name: "scheduled expiry records the abandonment first, then expires and tells the person",
		opts: []func(*Config){expiring},
		in:   Input{Kind: KindExpire, Key: expireK, Chat: 7, Version: pastConsent.Version},
		act: func(_ context.Context, t *testing.T, tu *Turn) error {
			if !hasReply(tu.Effects(), dialog.ReplySay, dialog.MsgExpired) {
				t.Errorf("no expiry notice: %+v", tu.Effects())
			}
			return nil
		},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(expireKey), ret: loaded(pastConsent, SeenNone)},
			{call: "Abandoned chat=7 form=mini@1 last=likes started=" + itoa(pastConsent.Started) + " reminded=false at=2026-12-06T10:00:00Z"},
			{call: "Event abandoned"},
			{call: "Save chat=7 key=" + itoa(expireKey) + " expect=3 next=4 phase=0 pos=0 lang=en answers=0 abandon=-"},
			{call: "Cancel chat=7 refuse=false"},
			{call: "Event expired"},
			{call: "Present kind=expire seen=0 replay=false"},
			{call: "MarkSent chat=7 key=" + itoa(expireKey) + " last=40"},
		},
	}, {
		name: "the abandonment cannot be recorded: nothing saved, the job comes again",
		opts: []func(*Config){expiring},
		in:   Input{Kind: KindExpire, Key: expireK, Chat: 7, Version: pastConsent.Version},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(expireKey), ret: loaded(pastConsent, SeenNone)},
			{call: "Abandoned chat=7 form=mini@1 last=likes started=" + itoa(pastConsent.Started) + " reminded=false at=2026-12-06T10:00:00Z", err: eof},
		},
		wantErr: ErrUnavailable,
	}, {
		name: "an expiry job armed at an older version does not expire the interview",
		opts: []func(*Config){expiring},
		in:   Input{Kind: KindExpire, Key: ExpireKey(7, 2), Chat: 7, Version: 2},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(ExpireKey(7, 2).ID()), ret: loaded(pastConsent, SeenNone)},
			{call: "MarkSent chat=7 key=" + itoa(ExpireKey(7, 2).ID()) + " last=40"},
		},
	}, {
		name: "a published version moves an interview still at the language choice",
		in:   Input{Kind: KindPublished, Key: PublishedKey("mini", 2, 7), Chat: 7, Form: "mini", FormVersion: 2},
		opts: []func(*Config){twoVersions(t)},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()), ret: loaded(atLanguage, SeenNone)},
			{call: "Save chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()) + " expect=1 next=2 phase=1 pos=-1 lang= answers=0 abandon=- form=mini@2 waits=mini"},
			{call: "MarkSent chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()) + " last=40"},
		},
	}, {
		name: "a published version delivered again (its key applied) moves nothing",
		in:   Input{Kind: KindPublished, Key: PublishedKey("mini", 2, 7), Chat: 7, Form: "mini", FormVersion: 2},
		opts: []func(*Config){twoVersions(t)},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()), ret: loaded(atLanguage, SeenApplied)},
			{call: "MarkSent chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()) + " last=40"},
		},
	}, {
		name: "a new interview waiting at the language choice is indexed for publications",
		in:   chat(5),
		act:  step(inStart),
		want: []expect{
			{call: "Load chat=7 key=5", ret: Loaded{}},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Save chat=7 key=5 expect=0 next=1 phase=1 pos=-1 lang= answers=0 abandon=- waits=mini"},
			{call: "MarkSent chat=7 key=5 last=0"},
		},
	}, {
		name: "a language chosen leaves the index of publications",
		in:   chat(5),
		act:  step(inLangEN),
		want: []expect{
			{call: "Load chat=7 key=5", ret: loaded(atLanguage, SeenNone)},
			{call: "Present kind=chat seen=0 replay=false"},
			{call: "Save chat=7 key=5 expect=1 next=2 phase=2 pos=1 lang=en answers=0 abandon=-"},
			{call: "MarkSent chat=7 key=5 last=40"},
		},
	}, {
		name: "a published version leaves an interview past consent on its version",
		in:   Input{Kind: KindPublished, Key: PublishedKey("mini", 2, 7), Chat: 7, Form: "mini", FormVersion: 2},
		opts: []func(*Config){twoVersions(t)},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()), ret: loaded(pastConsent, SeenNone)},
			{call: "MarkSent chat=7 key=" + itoa(PublishedKey("mini", 2, 7).ID()) + " last=40"},
		},
	}, {
		name: "a form published while the interview runs changes nothing",
		in:   Input{Kind: KindPublished, Key: NamedKey("published|mini|2|7"), Chat: 7},
		want: []expect{
			{call: "Load chat=7 key=" + itoa(NamedKey("published|mini|2|7").ID()), ret: loaded(pastConsent, SeenNone)},
			{call: "MarkSent chat=7 key=" + itoa(NamedKey("published|mini|2|7").ID()) + " last=40"},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScript(t, c.want...)
			core := newCore(t, s, c.opts...)
			ch := fakeChannel{s: s}
			if c.act != nil {
				ch.act = func(ctx context.Context, tu *Turn) error { return c.act(ctx, t, tu) }
			}
			err := core.Apply(context.Background(), c.in, ch)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("Apply: %v, want %v", err, c.wantErr)
			}
		})
	}
}

// twoVersions gives the core a library with versions 1 and 2 of mini.
func twoVersions(t *testing.T) func(*Config) {
	return func(c *Config) {
		src, err := os.ReadFile("testdata/mini.yaml")
		if err != nil {
			t.Fatal(err)
		}
		v1, err := dialog.Parse("mini.yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := dialog.Parse("mini.v2.yaml", []byte(strings.Replace(string(src), "version: 1", "version: 2", 1)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Forms, err = dialog.NewLibrary(v1, v2); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func repeat(n int, es ...expect) []expect {
	var out []expect
	for range n {
		out = append(out, es...)
	}
	return out
}

func hasReply(e Effects, kind dialog.ReplyKind, msg string) bool {
	for _, r := range e.Replies {
		if r.Kind == kind && r.Msg == msg {
			return true
		}
	}
	return false
}

// Issue 19 (the completion's first reply): the step that ends the
// interview cancels its reminder after the turn's replies, not on the way
// to the thank-you.
func TestCompletionCancelsTheReminderAfterTheReplies(t *testing.T) {
	const saveCompleted = "SaveCompleted chat=7 key=6 expect=4 next=5 phase=3 pseudonym=p7 form=mini answers=3"
	lastQuestion := stateAt(t, inStart, inLangEN, inYes, inYes) // v4, at "again"
	s := newScript(t,
		expect{call: "Load chat=7 key=6", ret: Loaded{Blob: blobOf(t, lastQuestion), Version: lastQuestion.Version, LastMsg: 40}},
		expect{call: "Present kind=chat seen=0 replay=false"},
		expect{call: "Event completed"},
		expect{call: saveCompleted},
		expect{call: "Replies sent"},
		expect{call: "Cancel chat=7 refuse=false"},
		expect{call: "MarkSent chat=7 key=6 last=40"},
	)
	completing := func(c *Config) { c.Sessions = fakeCompletingSessions{c.Sessions.(fakeSessions)} }
	core := newCore(t, s, completing)
	ch := fakeChannel{s: s, act: func(ctx context.Context, tu *Turn) error {
		if _, err := tu.Step(ctx, inNo, true); err != nil {
			return err
		}
		s.call("Replies sent")
		return nil
	}}
	in := Input{Kind: KindChat, Key: UpdateKey(6), Chat: 7, User: 7}
	if err := core.Apply(context.Background(), in, ch); err != nil {
		t.Fatal(err)
	}
}

// A turn's state is decoded for it alone: its step answers in the decoded
// answers themselves (dialog.StepOwned) instead of a copy of them, and
// what the channel reads of the state before the step (NoteBefore at its
// position) is as it was. Before, every step that answered copied the
// whole map.
func TestTurnStepAnswersInTheDecodedAnswers(t *testing.T) {
	pastConsent := stateAt(t, inStart, inLangEN, inYes) // at "likes"
	f := miniForms(t).Latest("mini")
	noteBefore := dialog.NoteBefore(f, pastConsent, pastConsent.Pos)
	s := newScript(t,
		expect{call: "Load chat=7 key=5", ret: Loaded{Blob: blobOf(t, pastConsent), Version: pastConsent.Version, LastMsg: 40}},
		expect{call: "Present kind=chat seen=0 replay=false"},
		expect{call: "MarkSent chat=7 key=5 last=40"})
	ch := fakeChannel{s: s, act: func(ctx context.Context, tu *Turn) error {
		eff, err := tu.Step(ctx, inYes, false)
		if err != nil {
			return err
		}
		if eff.Next.Version == eff.Prev.Version || len(eff.Next.Answers) != len(pastConsent.Answers)+1 {
			t.Fatalf("the step answered nothing: %+v", eff.Next)
		}
		if reflect.ValueOf(eff.Next.Answers).UnsafePointer() != reflect.ValueOf(eff.Prev.Answers).UnsafePointer() {
			t.Error("the step copied the turn's answers")
		}
		if got := dialog.NoteBefore(f, eff.Prev, eff.Prev.Pos); got != noteBefore {
			t.Errorf("NoteBefore of the state before the step = %v, want %v", got, noteBefore)
		}
		return nil
	}}
	if err := newCore(t, s).Apply(context.Background(), Input{Kind: KindChat, Key: UpdateKey(5), Chat: 7, User: 7}, ch); err != nil {
		t.Fatal(err)
	}
}
