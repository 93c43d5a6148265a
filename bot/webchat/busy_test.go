package webchat

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// intakeStub is the bot's intake as Options.WaitIdle sees it: a chat is
// busy until done is called.
type intakeStub struct {
	mu   sync.Mutex
	busy map[int64]chan struct{}
}

func (s *intakeStub) work(chat int64) (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == nil {
		s.busy = map[int64]chan struct{}{}
	}
	ch := make(chan struct{})
	s.busy[chat] = ch
	return func() {
		s.mu.Lock()
		delete(s.busy, chat)
		s.mu.Unlock()
		close(ch)
	}
}

func (s *intakeStub) WaitIdle(ctx context.Context, chat int64) error {
	s.mu.Lock()
	ch := s.busy[chat]
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Session 6 (issue 19): "typing…" lasts while the bot works on the chat,
// not only while an update is unacknowledged. A poller acknowledges a
// batch's stragglers while their turns still run: before, the page showed
// "typing…" from the fake's pending count only, so it ended while the bot
// was still working and no reply had come yet.
func TestTypingLastsWhileTheBotWorks(t *testing.T) {
	in := &intakeStub{}
	e := newEnv(t, Options{PollTimeout: 20 * time.Second, WaitIdle: in.WaitIdle})
	r := e.session("respondent", 0, false, "en")
	c := e.chat(r.User, "")
	if c.Busy {
		t.Fatalf("busy before anything was sent: %+v", c)
	}
	e.do("POST", "/api/send", map[string]any{"user": r.User, "text": "hello"}, nil)
	if c = e.chat(r.User, ""); !c.Busy || c.Pending != 1 {
		t.Fatalf("an unacknowledged update: busy %v, pending %d", c.Busy, c.Pending)
	}
	// The bot takes the update and acknowledges it at once (the next
	// getUpdates) while its turn still runs.
	done := in.work(r.User)
	e.updates()
	e.updates()
	if c = e.chat(r.User, ""); c.Pending != 0 || !c.Busy {
		t.Fatalf("acknowledged but still worked on: busy %v, pending %d", c.Busy, c.Pending)
	}
	// A page that shows "typing…" polls; the end of the bot's work, which
	// changes no message, wakes it.
	polled := make(chan chatView, 1)
	go func() {
		var got chatView
		e.do("GET", "/api/chat?user="+strconv.FormatInt(r.User, 10)+"&since="+strconv.FormatUint(c.Version, 10)+"&busy=1", nil, &got)
		polled <- got
	}()
	time.Sleep(50 * time.Millisecond)
	done()
	select {
	case got := <-polled:
		if got.Busy || got.Version != c.Version {
			t.Fatalf("woke with busy %v, version %d (was %d)", got.Busy, got.Version, c.Version)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not wake when the bot finished")
	}
	// A page that shows the bot idle while it works is answered at once.
	done = in.work(r.User)
	defer done()
	select {
	case got := <-func() chan chatView {
		ch := make(chan chatView, 1)
		go func() {
			var got chatView
			e.do("GET", "/api/chat?user="+strconv.FormatInt(r.User, 10)+"&since="+strconv.FormatUint(c.Version, 10)+"&busy=0", nil, &got)
			ch <- got
		}()
		return ch
	}():
		if !got.Busy {
			t.Fatalf("the bot works: busy %v", got.Busy)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a page showing the bot idle while it works waited")
	}
}
