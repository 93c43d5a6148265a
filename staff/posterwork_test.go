package staff

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/org"
)

// A poster is drawn on the staff work queue, not inside the update that
// asked for it: drawing takes about a second of CPU (several on a starved
// machine, with the fonts parsed on the first one), which must not run
// against the update's 30-second deadline nor hold the chat's turn. Here
// the queue's one worker is busy: the tap that creates a poster invite is
// handled and the invite created, and the poster comes once the worker is
// free. Before, the poster was drawn and sent inside the tap's update.
func TestPosterDrawnOnTheWorkQueue(t *testing.T) {
	t.Parallel()
	q := NewWorkQueue(1, 4, time.Minute, nil)
	r := newRig(t, func(c *Config) { c.Work = q })
	ad := r.enrol(850, "Ada", org.RoleAdmin, 0, 0, 0)
	r.enrol(851, "Olga", org.RoleOperator, r.roma, r.romaAnagrafe, ad.ID)
	op := r.person(851, "Olga")
	op.send("/invite Waiting room")
	op.tap("Immigrants (service users)")
	op.tap("🪧 Poster for the desk (many people)")

	release := make(chan struct{})
	if err := q.Submit(context.Background(), "blocker", func(context.Context) error { <-release; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.u.Tap("No expiry"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := op.u.WaitHandled(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.intake.WaitIdle(ctx, op.u.ID()); err != nil {
		t.Fatal(err)
	}
	if n := r.count(`SELECT count(*) FROM invites WHERE label = 'Waiting room'`); n != 1 {
		t.Fatalf("%d invites after the tap, want 1", n)
	}
	if last := op.u.Chat().Last(); last.Kind == telegramtest.KindPhoto {
		t.Fatalf("the poster was drawn inside the tap's update, not on the work queue:\n%s", op.u.Transcript())
	}
	close(release)
	op.wait()
	if last := op.u.Chat().Last(); last.Kind != telegramtest.KindPhoto || !strings.Contains(last.Text, "Waiting room") {
		t.Fatalf("no poster once the queue was free:\n%s", op.u.Transcript())
	}
}

// The fonts are warmed up when a staff member is recognised, and only
// then: someone who is not staff typing a staff command does not make
// the bot parse them.
func TestFontsWarmedForStaffOnly(t *testing.T) {
	t.Parallel()
	var warmed atomic.Int32
	r := newRig(t, func(c *Config) { c.WarmFonts = func() { warmed.Add(1) } })
	stranger := r.person(860, "Sam")
	stranger.send("/invite")
	stranger.send("/results")
	if n := warmed.Load(); n != 0 {
		t.Fatalf("fonts warmed %d times for someone who is not staff", n)
	}
	r.enrol(861, "Ada", org.RoleAdmin, 0, 0, 0)
	r.person(861, "Ada").send("/invites")
	if warmed.Load() == 0 {
		t.Fatal("fonts not warmed for a staff member's command")
	}
}
