package schedule_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/schedule"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// sessions adapts redisstore to interview.Sessions (as cmd/needsbot does).
type sessions struct{ s *redisstore.Store }

func (a sessions) Load(ctx context.Context, chat, key int64) (interview.Loaded, error) {
	blob, v, seen, last, err := a.s.Load(ctx, chat, key)
	return interview.Loaded{Blob: blob, Version: v, Seen: interview.Seen(seen), LastMsg: last}, err
}

func (a sessions) Save(ctx context.Context, chat, key int64, expect, next uint64, blob []byte, _ *interview.Abandon, _ interview.Stage) error {
	err := a.s.Save(ctx, chat, key, expect, next, blob, nil)
	if errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	}
	return err
}

func (a sessions) MarkSent(ctx context.Context, chat, key int64, last int) error {
	return a.s.MarkSent(ctx, chat, key, last)
}

func (a sessions) Delete(ctx context.Context, chat int64) error { return a.s.Delete(ctx, chat) }

type noResponses struct{}

func (noResponses) Complete(context.Context, interview.Completion) error { return nil }
func (noResponses) Erase(context.Context, string) (int, error)           { return 0, nil }

// channel counts what the core presents, and runs during the first
// presentation what the test makes happen meanwhile.
type channel struct {
	presented atomic.Int32
	meanwhile func()
}

func (c *channel) Present(_ context.Context, t *interview.Turn) error {
	if c.presented.Add(1) == 1 && c.meanwhile != nil {
		c.meanwhile()
	}
	t.Reminded(0)
	return nil
}

// A reminder job whose lease runs out while its handler is still sending
// is claimed again by another replica: the core applies it once (its key,
// RemindKey of the chat and due time, is in the session's seen set, with
// the reminder's flag saved before anything was sent), so one reminder
// goes out.
func TestReminderDeliveredTwiceIsSentOnce(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	src, err := os.ReadFile("../interview/testdata/mini.yaml")
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
	core := interview.New(interview.Config{Forms: lib, Sessions: sessions{st}, Responses: noResponses{}, Now: clk.Now})

	// An interview past consent, its reminder due now.
	const chat = 77
	var s dialog.State
	for _, in := range []dialog.Input{
		{Kind: dialog.InStart, Context: map[string]string{interview.CtxMunicipality: "1"}},
		{Kind: dialog.InSetLanguage, Lang: "en"},
		{Kind: dialog.InChoose, Option: "yes"},
	} {
		s, _ = dialog.Step(f, s, in, clk.Now().Add(-time.Hour))
	}
	if s.Phase != dialog.PhaseAsking || !s.Consent {
		t.Fatalf("state not past consent: %+v", s)
	}
	blob, err := dialog.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, chat, 0, 0, s.Version, blob, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.ArmReminder(ctx, chat, "en", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}

	ch := &channel{}
	handle := func(ctx context.Context, j redisstore.Job) error {
		return core.Apply(ctx, interview.Input{Kind: interview.KindRemind, Key: interview.RemindKey(j.Chat, j.Due.UnixMilli()), Chat: j.Chat}, ch)
	}
	a := &schedule.Scheduler{Store: st, Now: clk.Now, Handle: handle}
	b := &schedule.Scheduler{Store: st, Now: clk.Now, Handle: handle}
	var bHandled int
	ch.meanwhile = func() {
		// Replica a is sending; its lease runs out (Redis's clock) and
		// replica b claims the same job.
		keys, _ := rdb.Keys(ctx, prefix+"*:rl").Result()
		if len(keys) != 1 {
			t.Errorf("leases %v", keys)
		}
		rdb.Del(ctx, keys...)
		n, err := b.RunOnce(ctx)
		if err != nil {
			t.Error(err)
		}
		bHandled = n
	}
	if n, err := a.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("replica a: %d handled, %v", n, err)
	}
	if bHandled != 1 {
		t.Fatalf("replica b handled %d jobs, want the same job again", bHandled)
	}
	if n := ch.presented.Load(); n != 1 {
		t.Fatalf("the reminder was presented %d times, want once", n)
	}
	if k, _ := a.RunOnce(ctx); k != 0 || ch.presented.Load() != 1 {
		t.Fatal("the reminder came again")
	}
}

// abandonments records what the core reports, and runs during the first
// record what the test makes happen meanwhile.
type abandonments struct {
	recorded  atomic.Int32
	meanwhile func()
}

func (a *abandonments) Abandoned(context.Context, int64, interview.Abandon, time.Time) error {
	if a.recorded.Add(1) == 1 && a.meanwhile != nil {
		a.meanwhile()
	}
	return nil
}

// savingSessions is sessions that also hand the store the abandonment
// record with its expiry (as cmd/needsbot does), so that saves arm the
// expiry job.
type savingSessions struct{ sessions }

func (a savingSessions) Save(ctx context.Context, chat, key int64, expect, next uint64, blob []byte, ab *interview.Abandon, _ interview.Stage) error {
	var rec *redisstore.AbandonRecord
	if ab != nil {
		rec = &redisstore.AbandonRecord{Form: ab.Form, FormVersion: ab.FormVersion, MunicipalityID: 1,
			Language: ab.Language, LastQuestion: ab.LastQuestion, Started: time.Unix(ab.Started, 0), Expires: ab.Expires}
	}
	err := a.s.Save(ctx, chat, key, expect, next, blob, rec)
	if errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	}
	return err
}

// An expiry job claimed by one replica whose lease runs out before it
// saved: another replica claims it too and expires the interview first.
// The person is told once, and the job is settled.
func TestExpiryRacedAcrossReplicasTellsOnce(t *testing.T) {
	t.Parallel()
	rdb, prefix := storagetest.Redis(t)
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now})
	src, err := os.ReadFile("../interview/testdata/mini.yaml")
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
	ab := &abandonments{}
	// Each replica has its own store, deferring what follows a saved turn
	// (the replies-sent mark) as production does (cmd's tailDelay): the
	// other replica sees the expiry applied, not yet sent.
	newCore := func(st *redisstore.Store) *interview.Core {
		return interview.New(interview.Config{Forms: lib, Sessions: savingSessions{sessions{st}}, Responses: noResponses{},
			Now: clk.Now, ExpireAfter: 30 * 24 * time.Hour, Abandonments: ab})
	}
	stA := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now, TailDelay: time.Minute})
	stB := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now, TailDelay: time.Minute})
	coreA, coreB := newCore(stA), newCore(stB)
	core := newCore(st)

	// A chat past consent, through the core: its save arms the expiry.
	const chat = 78
	start := &stepper{ins: []dialog.Input{
		{Kind: dialog.InStart, Context: map[string]string{interview.CtxMunicipality: "1"}},
		{Kind: dialog.InSetLanguage, Lang: "en"},
		{Kind: dialog.InChoose, Option: "yes"},
	}}
	for i := range start.ins {
		if err := core.Apply(ctx, interview.Input{Kind: interview.KindChat, Key: interview.UpdateKey(int64(i + 1)), Chat: chat, User: chat}, start); err != nil {
			t.Fatal(err)
		}
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 1 {
		t.Fatalf("%d expiry jobs armed, want 1", n)
	}
	clk.Add(31 * 24 * time.Hour)

	ch := &channel{}
	handle := func(core *interview.Core) schedule.Handler {
		return func(ctx context.Context, j redisstore.Job) error {
			if j.Kind != redisstore.JobExpire {
				t.Errorf("job %v", j.Kind)
			}
			return core.Apply(ctx, interview.Input{Kind: interview.KindExpire, Key: interview.ExpireKey(j.Chat, j.Version), Chat: j.Chat, Version: j.Version}, ch)
		}
	}
	a := &schedule.Scheduler{Store: stA, Now: clk.Now, Handle: handle(coreA)}
	b := &schedule.Scheduler{Store: stB, Now: clk.Now, Handle: handle(coreB)}
	ab.meanwhile = func() {
		// Replica a is recording the abandonment; its lease runs out and
		// replica b claims the same job and applies it whole.
		keys, _ := rdb.Keys(ctx, prefix+"*:xl").Result()
		if len(keys) != 1 {
			t.Errorf("leases %v", keys)
		}
		rdb.Del(ctx, keys...)
		if n, err := b.RunOnce(ctx); err != nil || n != 1 {
			t.Errorf("replica b: %d handled, %v", n, err)
		}
	}
	if n, err := a.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("replica a: %d handled, %v", n, err)
	}
	if n := ch.presented.Load(); n != 1 {
		t.Fatalf("the expiry notice was presented %d times, want once", n)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("%d expiry jobs left", n)
	}
	if k, _ := a.RunOnce(ctx); k != 0 || ch.presented.Load() != 1 {
		t.Fatal("the expiry came again")
	}
}

// stepper is the channel of the chat inputs that set an interview up: it
// steps the next of ins.
type stepper struct {
	ins  []dialog.Input
	next int
}

func (s *stepper) Present(ctx context.Context, t *interview.Turn) error {
	in := s.ins[s.next]
	s.next++
	if in.Kind == dialog.InSetLanguage {
		_, err := t.ChooseLanguage(ctx, in.Lang)
		return err
	}
	_, err := t.Step(ctx, in, true)
	return err
}
