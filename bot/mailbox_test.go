package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/interview"
)

// gateSessions wraps memSessions: Load blocks for chat gate until open is
// closed, and fails with fail() while it returns an error.
type gateSessions struct {
	*memSessions
	mu      sync.Mutex
	gate    int64
	open    chan struct{}
	entered chan struct{}
	fail    func(chat int64) error
	loads   map[int64]int // Load calls per update
	saves   map[int64]int // successful Save calls per update
}

func (g *gateSessions) Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, a *interview.Abandon, stage interview.Stage) error {
	err := g.memSessions.Save(ctx, chat, update, expect, next, blob, a, stage)
	if err == nil {
		g.mu.Lock()
		if g.saves == nil {
			g.saves = map[int64]int{}
		}
		g.saves[update]++
		g.mu.Unlock()
	}
	return err
}

func (g *gateSessions) Load(ctx context.Context, chat, update int64) (interview.Loaded, error) {
	g.mu.Lock()
	if g.loads == nil {
		g.loads = map[int64]int{}
	}
	g.loads[update]++
	fail := g.fail
	g.mu.Unlock()
	if chat == g.gate && g.open != nil {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.open
	}
	if fail != nil {
		if err := fail(chat); err != nil {
			return interview.Loaded{}, err
		}
	}
	return g.memSessions.Load(ctx, chat, update)
}

func (g *gateSessions) setFail(f func(chat int64) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = f
}

func newGateRig(t *testing.T, o IntakeOptions, so SenderOptions) (*rig, *gateSessions) {
	t.Helper()
	r := newRig(t)
	g := &gateSessions{memSessions: r.sessions}
	r.core.Sessions = g
	r.rewire()
	if so.ChatRate != 0 {
		r.handler.cfg.Sender = NewSender(r.handler.cfg.Sender.api, so)
	}
	r.intake.Stop()
	r.intake = NewIntake(r.handler, o)
	t.Cleanup(r.intake.Stop)
	return r, g
}

// With a single worker slot, a chat waiting for its own 1 message/s pacing
// does not hold the slot: another chat's update goes through meanwhile.
// (With "chat id modulo workers" the other chat waited behind the pacing.)
func TestPacedChatDoesNotHoldOtherChats(t *testing.T) {
	r, _ := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{ChatRate: 1, ChatBurst: 1})
	slow, other := r.srv.User(501), r.srv.User(502)
	slow.Send("hi")
	other.Send("hi")
	ctx := context.Background()
	var jobs []*job
	for i := int64(1); i <= 3; i++ {
		j, err := r.intake.enqueue(ctx, textUpdate(i, 501, "/help"), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	// The first reply went out; the second waits for the chat's pacing.
	if _, err := slow.WaitMessage(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.intake.Submit(ctx, textUpdate(10, 502, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	replied := other.Last().Date
	for _, j := range jobs {
		<-j.done
	}
	ms := botMessages(slow.Messages())
	if len(ms) != 3 {
		t.Fatalf("%d replies to the paced chat, want 3", len(ms))
	}
	if !replied.Before(ms[2].Date) {
		t.Fatalf("the other chat waited for the paced chat: replied %s, paced chat's last %s", replied, ms[2].Date)
	}
	// Idle mailboxes are freed.
	if err := r.intake.WaitIdle(ctx, 501); err != nil {
		t.Fatal(err)
	}
	r.intake.mu.Lock()
	n := len(r.intake.boxes)
	r.intake.mu.Unlock()
	if n != 0 || r.intake.Pending() != 0 {
		t.Fatalf("%d mailboxes, %d pending after all work: idle mailboxes must be freed", n, r.intake.Pending())
	}
}

func botMessages(ms []telegramtest.Message) []telegramtest.Message {
	var out []telegramtest.Message
	for _, m := range ms {
		if m.FromBot {
			out = append(out, m)
		}
	}
	return out
}

// A chat's backlog is bounded: the excess is dropped with one "please
// wait", other chats go on, and one chat's updates stay in order.
func TestChatBacklogIsBounded(t *testing.T) {
	r, g := newGateRig(t, IntakeOptions{Workers: 2, Backlog: 4}, SenderOptions{})
	g.gate, g.open, g.entered = 601, make(chan struct{}), make(chan struct{}, 1)
	flood, other := r.srv.User(601), r.srv.User(602)
	flood.Send("hi")
	other.Send("hi")
	ctx := context.Background()
	before := len(flood.Messages())
	var jobs []*job
	for i := int64(1); i <= 12; i++ {
		j, err := r.intake.enqueue(ctx, textUpdate(i, 601, "/help"), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
		if i == 1 {
			<-g.entered // the head is being worked on
		}
	}
	// Held at the gate, the flood holds nobody else.
	if _, err := r.intake.Submit(ctx, textUpdate(50, 602, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(other.Last().Text, "/delete") {
		t.Fatalf("the other chat was not answered while the flood waited: %q", other.Last().Text)
	}
	close(g.open)
	for _, j := range jobs {
		<-j.done
	}
	if err := r.intake.WaitIdle(ctx, 601); err != nil {
		t.Fatal(err)
	}
	r.intake.Stop() // the "please wait" goes out off the caller's path: wait for it
	var help, slow int
	for _, m := range flood.Messages()[before:] {
		switch {
		case strings.Contains(m.Text, "molto in fretta"):
			slow++
		case strings.Contains(m.Text, "/delete"):
			help++
		}
	}
	if help != 5 || slow != 1 {
		t.Fatalf("%d replies and %d please-wait to 12 updates with a backlog of 4, want 5 (head + 4) and 1:\n%s", help, slow, flood.Transcript())
	}
	var order []int64
	for _, id := range r.sessions.order {
		if id < 50 {
			order = append(order, id)
		}
	}
	if fmt.Sprint(order) != "[1 2 3 4 5]" {
		t.Fatalf("chat order %v, want [1 2 3 4 5]", order)
	}
}

func tapUpdate(id, chat int64, query, data string, msg int) *Update {
	return updateOf(&tgmodels.Update{ID: id, CallbackQuery: &tgmodels.CallbackQuery{ID: query, Data: data,
		From: tgmodels.User{ID: chat, FirstName: "T", LanguageCode: "it"},
		Message: tgmodels.MaybeInaccessibleMessage{Type: tgmodels.MaybeInaccessibleMessageTypeMessage,
			Message: &tgmodels.Message{ID: msg, Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate}}}}})
}

var errDown = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// A tap during a store outage is answered at once with "one moment",
// parked without holding a worker, and applied exactly once when the
// store is back; its real answer is not sent a second time.
func TestOutageParksAndAppliesOnce(t *testing.T) {
	r, g := newGateRig(t, IntakeOptions{Workers: 1}, SenderOptions{})
	u := r.srv.User(701, telegramtest.LanguageCode("it"))
	ctx := context.Background()
	u.Send("/start")
	if _, err := r.intake.Submit(ctx, textUpdate(1, 701, "/start"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := u.TapIn(u.Last().ID, "Italiano"); err != nil {
		t.Fatal(err)
	}
	tap := u.Chat().Callbacks[0]
	var down atomic.Bool
	down.Store(true)
	g.setFail(func(chat int64) error {
		if chat == 701 && down.Load() {
			return fmt.Errorf("load session: %w", errDown)
		}
		return nil
	})
	j, err := r.intake.enqueue(ctx, tapUpdate(2, 701, tap.QueryID, tap.Data, tap.MessageID), false, 3)
	if err != nil {
		t.Fatal(err)
	}
	<-j.settled // parked
	if a := u.Chat().Callbacks[0]; !a.Answered || !strings.Contains(a.Text, "Un momento") {
		t.Fatalf("the tap was not answered at once with \"one moment\": %+v", a)
	}
	// Parked, it holds no worker (there is one): another chat is served.
	r.srv.User(702).Send("hi")
	if _, err := r.intake.Submit(ctx, textUpdate(3, 702, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	if res := <-j.done; res.err != nil {
		t.Fatalf("not applied after the outage: %v", res.err)
	}
	g.mu.Lock()
	loads, saves := g.loads[2], g.saves[2]
	g.mu.Unlock()
	if saves != 1 || loads < 2 {
		t.Fatalf("update loaded %d and saved %d times, want retried and saved once", loads, saves)
	}
	if vs := r.srv.Violations(); len(vs) != 0 {
		t.Fatalf("violations (a second answer to the tap?): %+v", vs)
	}
	if a := u.Chat().Callbacks[0]; !strings.Contains(a.Text, "Un momento") {
		t.Fatalf("the tap's answer changed: %+v", a)
	}
}

// Past the outage window a parked update is dropped with an apology.
func TestOutageWindowEnds(t *testing.T) {
	r, g := newGateRig(t, IntakeOptions{Workers: 1, OutageWindow: time.Millisecond}, SenderOptions{})
	u := r.srv.User(801, telegramtest.LanguageCode("it"))
	u.Send("hi")
	g.setFail(func(int64) error { return fmt.Errorf("load session: %w", errDown) })
	if _, err := r.intake.Submit(context.Background(), textUpdate(1, 801, "/help"), false, 0); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want the outage's error after the window, got %v", err)
	}
	if !strings.Contains(u.Last().Text, "qualcosa non ha funzionato") {
		t.Fatalf("no apology after the window: %q", u.Last().Text)
	}
	if n := g.loads[1]; n < 2 {
		t.Fatalf("tried %d times, want a retry before giving up", n)
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{interview.ErrConflict, false},
		{fmt.Errorf("save session: %w", interview.ErrConflict), false},
		{fmt.Errorf("load session: %w: %w", interview.ErrUnavailable, errors.New("EOF")), true},
		{fmt.Errorf("load session: %w", errDown), true},
		{fmt.Errorf("load: %w", context.DeadlineExceeded), false},
		{fmt.Errorf("load: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{errors.New("redis: connection pool timeout"), true},
		{fmt.Errorf("sendMessage: %w", ErrTransient), false},
		{errors.New("no questionnaire loaded"), false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// gate is a global limiter that grants tokens on demand, newest waiter
// first (the worst order for the low lane), recording each grant's lane.
type gate struct {
	mu      sync.Mutex
	waiters []chan struct{}
	lanes   []bool // low-priority, per waiter
	granted []bool
}

func (g *gate) Wait(ctx context.Context) error {
	ch := make(chan struct{})
	g.mu.Lock()
	g.waiters = append(g.waiters, ch)
	g.lanes = append(g.lanes, isLowPriority(ctx))
	g.mu.Unlock()
	<-ch
	return nil
}

func (g *gate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiters)
}

func (g *gate) grant() {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.waiters) - 1
	g.granted = append(g.granted, g.lanes[n])
	close(g.waiters[n])
	g.waiters, g.lanes = g.waiters[:n], g.lanes[:n]
}

// A reminder (low-priority lane) goes behind live replies waiting for the
// global budget, even when the limiter would serve it first.
func TestLowPriorityGoesBehindLiveReplies(t *testing.T) {
	g := &gate{}
	s, srv, _ := newSenderRig(t, SenderOptions{Global: g, ChatRate: 1000, ChatBurst: 100}, telegramtest.WithoutRateLimits())
	for _, id := range []int64{901, 902, 903, 904} {
		srv.User(id).Send("hi")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	send := func(ctx context.Context, chat int64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Send(ctx, chat, Message{Text: "x"}); err != nil {
				t.Error(err)
			}
		}()
	}
	for _, id := range []int64{901, 902, 903} {
		send(ctx, id)
	}
	for g.waiting() < 3 {
		time.Sleep(time.Millisecond) // sync: the live calls are at the limiter
	}
	send(LowPriority(ctx), 904)
	for g.waiting() < 4 && s.lane.waitingLow() < 1 {
		time.Sleep(time.Millisecond) // sync: the reminder is at the limiter or held back
	}
	for i := 0; i < 4; i++ {
		for g.waiting() == 0 {
			time.Sleep(time.Millisecond) // sync: the next caller reached the limiter
		}
		g.grant()
	}
	wg.Wait()
	if fmt.Sprint(g.granted) != "[false false false true]" {
		t.Fatalf("grants by lane (true = low) %v: the reminder went before live replies", g.granted)
	}
}
