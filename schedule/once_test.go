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

func (a sessions) Save(ctx context.Context, chat, key int64, expect, next uint64, blob []byte, _ *interview.Abandon) error {
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
