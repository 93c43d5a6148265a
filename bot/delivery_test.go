package bot

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/interview"
)

// startIn sends /start as update 1 and taps language pick on the menu as
// update 2.
func startIn(t *testing.T, r *rig, u *telegramtest.User, pick string) {
	t.Helper()
	u.Send("/start")
	if _, err := r.intake.Submit(context.Background(), textUpdate(1, u.ID(), "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 2, pick); err != nil {
		t.Fatal(err)
	}
}

// tapLast taps label on the chat's last bot message and submits the
// resulting update (the rig has no poller) with the poller's retries.
func tapLast(t *testing.T, r *rig, u *telegramtest.User, id int64, label string) error {
	t.Helper()
	last := u.Last()
	if err := u.TapIn(last.ID, label); err != nil {
		t.Fatalf("tap %q: %v\n%s", label, err, u.Transcript())
	}
	cbs := u.Chat().Callbacks
	tap := cbs[len(cbs)-1]
	_, err := r.intake.Submit(context.Background(), tapUpdate(id, u.ID(), tap.QueryID, tap.Data, tap.MessageID), false, 3)
	return err
}

// lastCard returns the chat's last bot message.
func lastCard(u *telegramtest.User) telegramtest.Message {
	ms := u.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].FromBot {
			return ms[i]
		}
	}
	return telegramtest.Message{}
}

// Issue 17 finding 1: a turn is saved but its replies cannot reach
// Telegram — the Bot API fails past the sender's and the intake's retries
// — while the person's card already lost its keyboard or still shows the
// old question. The update must not be dropped, leaving the person on a
// card without buttons (the chaos transcript: "no button … on message 3
// (buttons: )"): it is kept and tried again until the card goes out, its
// tap answered once and its input saved once. Before: dropped after 4
// attempts.
func TestUndeliveredCardIsSentAgain(t *testing.T) {
	for _, tt := range []struct {
		name, method string
		consent      bool   // fail the consent tap's reply (else the /start's)
		want         string // on the live card afterwards
	}{
		{"the /start's new card", "sendMessage", false, "Italiano"},
		{"the consent tap's edit of the welcome card", "editMessageText", true, "Quanti anni hai?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, g := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{ChatRate: 1000, ChatBurst: 100, MaxRetries: 1})
			u := r.srv.User(711, telegramtest.LanguageCode("it"))
			ctx := context.Background()
			// Each attempt costs two calls (MaxRetries 1); the intake gives
			// an update 4 attempts (retries 3): 8 failures outlast them all.
			fail := func() { r.srv.FailNext(tt.method, 502, "Bad Gateway", 8) }
			u.Send("/start")
			if !tt.consent {
				fail()
			}
			if _, err := r.intake.Submit(ctx, textUpdate(1, 711, "/start"), false, 3); err != nil {
				t.Fatalf("/start not applied in the end: %v\n%s", err, u.Transcript())
			}
			update := int64(1)
			if tt.consent {
				if err := tapLast(t, r, u, 2, "Italiano"); err != nil {
					t.Fatal(err)
				}
				consent := lastCard(u)
				if len(consent.Buttons) == 0 {
					t.Fatalf("no consent card:\n%s", u.Transcript())
				}
				fail()
				update = 3
				if err := tapLast(t, r, u, update, consent.Labels()[0][0]); err != nil {
					t.Fatalf("the tap was not applied in the end: %v\n%s", err, u.Transcript())
				}
			}
			last := lastCard(u)
			if len(last.Buttons) == 0 || !strings.Contains(last.Text+fmtLabels(last), tt.want) {
				t.Fatalf("the last card is not the live question (%q) with buttons:\n%s", tt.want, u.Transcript())
			}
			live := 0
			for _, m := range u.Messages() {
				if m.FromBot && len(m.Buttons) > 0 {
					live++
				}
			}
			if live != 1 {
				t.Fatalf("%d live keyboards, want 1:\n%s", live, u.Transcript())
			}
			g.mu.Lock()
			saves := g.saves[update]
			g.mu.Unlock()
			if saves > 1 {
				t.Fatalf("input saved %d times, want once", saves)
			}
			if vs := r.srv.Violations(); len(vs) != 0 {
				t.Fatalf("violations (the tap answered twice?): %+v", vs)
			}
		})
	}
}

func fmtLabels(m telegramtest.Message) string {
	var b strings.Builder
	for _, row := range m.Labels() {
		for _, l := range row {
			b.WriteString(" " + l)
		}
	}
	return b.String()
}

// countThrottle counts Inbound calls and lets everything through.
type countThrottle struct{ n atomic.Int32 }

func (c *countThrottle) Inbound(context.Context, int64, int64) (bool, bool, error) {
	c.n.Add(1)
	return true, false, nil
}

// Issue 17 finding 4: the same tap delivered to two replicas at once. Both
// load the interview before either saves; one wins the compare-and-swap.
// The loser, finding on its retry that its own update was applied
// meanwhile, makes no Bot API call (before: it edited the card again —
// "message is not modified" — and answered the tap a second time) and
// carries no callback answer. A later redelivery of the same update is
// not counted against the person's inbound limit.
func TestRacingCopyLeavesTheRepliesToTheWinner(t *testing.T) {
	r, g := newGateRig(t, IntakeOptions{Workers: 4}, SenderOptions{})
	thr := &countThrottle{}
	r.handler.cfg.Throttle = thr
	u := r.srv.User(721, telegramtest.LanguageCode("it"))
	ctx := context.Background()
	u.Send("/start")
	if _, err := r.intake.Submit(ctx, textUpdate(1, 721, "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 2, "Italiano"); err != nil {
		t.Fatal(err)
	}
	card := lastCard(u)
	if err := u.TapIn(card.ID, card.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	cbs := u.Chat().Callbacks
	tap := cbs[len(cbs)-1]
	upd := tapUpdate(3, 721, tap.QueryID, tap.Data, tap.MessageID)
	// Both copies read the interview before either saves.
	bar := &barrierSessions{gateSessions: g, chat: 721, open: make(chan struct{}), entered: make(chan struct{}, 2)}
	r.core.Sessions = bar
	r.rewire()
	before := r.srv.TotalCalls()
	outs := make(chan Outcome, 2)
	for range 2 {
		go func() {
			// Straight to the handler, as two replicas would: the intake's
			// mailbox would drop an in-process copy before any of this.
			out, err := r.handler.Handle(ctx, upd, true)
			if err != nil {
				t.Error(err)
			}
			outs <- out
		}()
	}
	<-bar.entered
	<-bar.entered
	close(bar.open)
	a, b := <-outs, <-outs
	calls := r.srv.TotalCalls() - before
	if calls != 1 {
		// The consent card is edited into the first question.
		t.Errorf("the two copies made %d Bot API calls, want 1 (the winner's edit of the card): %v", calls, r.srv.Calls())
	}
	if (a.Answer == nil) == (b.Answer == nil) {
		t.Errorf("callback answers: %+v and %+v, want exactly one (the winner's)", a.Answer, b.Answer)
	}
	g.mu.Lock()
	saves := g.saves[3]
	g.mu.Unlock()
	if saves != 1 {
		t.Errorf("tap saved %d times, want 1", saves)
	}
	// A redelivery after the fact costs nothing and counts nothing.
	// (Two copies counting once is the inbound script's work in Redis:
	// redisstore TestInboundCountsAnUpdateOnce, e2e TestEndToEndRacingWebhookReplicas.)
	counted := thr.n.Load()
	calls = r.srv.TotalCalls()
	if _, err := r.handler.Handle(ctx, upd, true); err != nil {
		t.Fatal(err)
	}
	if n := thr.n.Load() - counted; n != 0 {
		t.Errorf("a redelivery was counted against the inbound limit (%d)", n)
	}
	if n := r.srv.TotalCalls() - calls; n != 0 {
		t.Errorf("a redelivery made %d Bot API calls", n)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Errorf("violations: %+v", vs)
	}
}

// barrierSessions holds a chat's Loads, once they have read the state,
// until open is closed.
type barrierSessions struct {
	*gateSessions
	chat    int64
	open    chan struct{}
	entered chan struct{}
}

func (b *barrierSessions) Load(ctx context.Context, chat, update int64) (interview.Loaded, error) {
	l, err := b.gateSessions.Load(ctx, chat, update)
	if chat == b.chat {
		select {
		case b.entered <- struct{}{}:
		default:
		}
		<-b.open
	}
	return l, err
}

// MarkSent of the raced update waits (at most 5 s) until the loser has
// loaded it again after its conflict: the winner's replies are then still
// "in flight" when the loser decides what to do.
func (b *barrierSessions) MarkSent(ctx context.Context, chat, update int64, lastMsg int) error {
	if chat == b.chat {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			b.gateSessions.mu.Lock()
			n := b.gateSessions.loads[update]
			b.gateSessions.mu.Unlock()
			if n >= 3 {
				break
			}
			time.Sleep(time.Millisecond) // sync: polls the loser's progress
		}
	}
	return b.gateSessions.MarkSent(ctx, chat, update, lastMsg)
}

// Issue 17 finding 3: an old tap delivered again after newer ones were
// applied (the balancer replays it to the other replica, whose Load does
// not see the first replica's deferred replies-sent mark: the update
// looks applied but not sent). Before, the replay showed the current
// question on the old, tapped card — the consent card kept as history got
// a live keyboard again beside the real card — and answered the old query
// a second time. Now a superseded replay makes no Bot API call at all and
// the live card stays as it was.
func TestOutOfOrderReplayLeavesTheLiveCard(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(741, telegramtest.LanguageCode("it"))
	ctx := context.Background()
	u.Send("/start")
	if _, err := r.intake.Submit(ctx, textUpdate(1, 741, "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := tapLast(t, r, u, 2, "Italiano"); err != nil {
		t.Fatal(err)
	}
	consent := lastCard(u)
	if err := tapLast(t, r, u, 3, consent.Labels()[0][0]); err != nil {
		t.Fatal(err)
	}
	old := u.Chat().Callbacks
	oldTap := old[len(old)-1]
	q1 := lastCard(u)
	if err := tapLast(t, r, u, 4, q1.Labels()[1][0]); err != nil {
		t.Fatal(err)
	}
	live := lastCard(u)
	if len(live.Buttons) == 0 {
		t.Fatalf("no live card:\n%s", u.Transcript())
	}
	// The consent tap comes again; its mark is not visible (another
	// replica's deferred tail).
	r.sessions.mu.Lock()
	r.sessions.seen[3] = interview.SeenApplied
	r.sessions.mu.Unlock()
	before := r.srv.TotalCalls()
	out, err := r.handler.Handle(ctx, tapUpdate(3, 741, oldTap.QueryID, oldTap.Data, oldTap.MessageID), true)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.srv.TotalCalls() - before; n != 0 {
		t.Errorf("the replayed old tap made %d Bot API calls, want 0: %v\n%s", n, r.srv.Calls(), u.Transcript())
	}
	if out.Answer != nil {
		t.Errorf("the replayed old tap carries an answer %+v (Telegram refuses a second one)", out.Answer)
	}
	now := lastCard(u)
	if now.ID != live.ID || now.Text != live.Text || fmtLabels(now) != fmtLabels(live) {
		t.Errorf("the live card changed:\n%s", u.Transcript())
	}
	n := 0
	for _, m := range u.Messages() {
		if m.FromBot && len(m.Buttons) > 0 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d live keyboards, want 1:\n%s", n, u.Transcript())
	}
	// The latest tap replayed the same way (its replies may really be
	// missing) still shows the question: the crash case is kept.
	r.sessions.mu.Lock()
	r.sessions.seen[4] = interview.SeenApplied
	r.sessions.mu.Unlock()
	cbs := u.Chat().Callbacks
	last := cbs[len(cbs)-1]
	before = r.srv.TotalCalls()
	if _, err := r.handler.Handle(ctx, tapUpdate(4, 741, last.QueryID, last.Data, last.MessageID), true); err != nil {
		t.Fatal(err)
	}
	if r.srv.TotalCalls() == before {
		t.Errorf("the latest tap's replay showed nothing: a crash between save and send would leave the card stale")
	}
}
