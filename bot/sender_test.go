package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/testnet"
)

type countObserver struct {
	mu       sync.Mutex
	outcomes map[string]int
	waited   time.Duration
}

func (c *countObserver) Call(method, outcome string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes[method+" "+outcome]++
}

func (c *countObserver) Waited429(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waited += d
}

func newSenderRig(t *testing.T, o SenderOptions, opts ...telegramtest.Option) (*Sender, *telegramtest.Server, *countObserver) {
	t.Helper()
	srv := telegramtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	api, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, APIClient(testnet.Client())))
	if err != nil {
		t.Fatal(err)
	}
	obs := &countObserver{outcomes: map[string]int{}}
	o.Observer = obs
	return NewSender(api, o), srv, obs
}

// With the default limits the sender never meets a 429.
func TestSenderStaysUnderLimits(t *testing.T) {
	s, srv, obs := newSenderRig(t, SenderOptions{})
	u := srv.User(42)
	u.Send("hi")
	for i := 0; i < 6; i++ {
		if _, err := s.Send(context.Background(), 42, Message{Text: fmt.Sprintf("message %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if obs.outcomes["sendMessage 429"] != 0 || len(srv.Violations()) != 0 {
		t.Fatalf("limits not honoured: %v %v", obs.outcomes, srv.Violations())
	}
}

// A sender configured above Telegram's limits gets 429s, waits retry_after
// and delivers everything.
func TestSenderHonoursRetryAfter(t *testing.T) {
	s, srv, obs := newSenderRig(t, SenderOptions{ChatRate: 1000, ChatBurst: 100})
	u := srv.User(43)
	u.Send("hi")
	for i := 0; i < 7; i++ {
		if _, err := s.Send(context.Background(), 43, Message{Text: fmt.Sprintf("message %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if obs.outcomes["sendMessage 429"] == 0 || obs.waited == 0 {
		t.Fatalf("expected 429s to be met and waited: %v", obs.outcomes)
	}
	if n := len(u.Messages()); n != 8 {
		t.Fatalf("%d messages in the chat, want 8", n)
	}
}

func TestSenderErrors(t *testing.T) {
	s, srv, obs := newSenderRig(t, SenderOptions{MaxRetries: 2}, telegramtest.WithoutRateLimits())
	u := srv.User(44)
	u.Send("hi")
	ctx := context.Background()
	id, err := s.Send(ctx, 44, Message{Text: "<b>question</b>", Keyboard: [][]Key{{{Text: "A", Data: "1c0.0.a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// Editing with identical content is "not modified": swallowed.
	if err := s.Edit(ctx, 44, id, Message{Text: "<b>question</b>", Keyboard: [][]Key{{{Text: "A", Data: "1c0.0.a"}}}}); err != nil {
		t.Fatalf("not modified not swallowed: %v", err)
	}
	// Transient failures are retried.
	srv.FailNext("sendMessage", 502, "Bad Gateway", 2)
	if _, err := s.Send(ctx, 44, Message{Text: "after 502s"}); err != nil {
		t.Fatalf("transient failure not retried: %v", err)
	}
	// Past the retries it is a transient error for the caller.
	srv.FailNext("sendMessage", 500, "Internal Server Error", 5)
	if _, err := s.Send(ctx, 44, Message{Text: "x"}); !errors.Is(err, ErrTransient) {
		t.Fatalf("want ErrTransient, got %v", err)
	}
	// A refusal is permanent.
	if _, err := s.Send(ctx, 44, Message{Text: "<b>unclosed"}); !errors.Is(err, ErrTelegram) {
		t.Fatalf("want ErrTelegram, got %v", err)
	}
	// A blocked user.
	u.Block()
	if _, err := s.Send(ctx, 44, Message{Text: "x"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("want ErrBlocked, got %v", err)
	}
	// An old callback query: swallowed.
	if err := s.Answer(ctx, "no-such-query", ""); err != nil {
		t.Fatalf("query too old not swallowed: %v", err)
	}
	if obs.outcomes["editMessageText not_modified"] != 1 || obs.outcomes["sendMessage 403"] != 1 {
		t.Errorf("outcomes %v", obs.outcomes)
	}
}

// A retried upload sends the whole file again, not an exhausted reader.
func TestSenderRetriesUploadWithWholeFile(t *testing.T) {
	s, srv, _ := newSenderRig(t, SenderOptions{MaxRetries: 2}, telegramtest.WithoutRateLimits())
	u := srv.User(45)
	u.Send("hi")
	srv.FailNext("sendDocument", 502, "Bad Gateway", 1)
	data := []byte("id,answer\n1,yes\n")
	if err := s.SendDocument(context.Background(), 45, "export.csv", data, "export"); err != nil {
		t.Fatal(err)
	}
	last := u.Last()
	if last.File == nil || string(last.File.Data) != string(data) {
		t.Fatalf("document after a retry: %+v", last.File)
	}
}

// The lane's "no live call" channel is made only for a low-priority call
// that has to wait: live calls alone never make one, and a waiting
// low-priority call goes on when the last live call leaves, cycle after
// cycle.
func TestLaneClearMadeForWaitersOnly(t *testing.T) {
	l := newLane()
	ctx := context.Background()
	for range 3 {
		l.enter()
		l.enter()
		l.leave()
		l.leave()
	}
	if l.clear != nil {
		t.Fatal("live calls alone made the lane's channel")
	}
	release, err := l.waitClear(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release() // no live call: at once
	for cycle := range 3 {
		l.enter()
		done := make(chan error, 1)
		go func() {
			release, err := l.waitClear(ctx)
			if err == nil {
				release()
			}
			done <- err
		}()
		for {
			l.mu.Lock()
			waiting := l.clear != nil
			l.mu.Unlock()
			if waiting {
				break
			}
			time.Sleep(time.Millisecond) // sync: the low-priority call waits for the live one
		}
		l.enter() // another live call comes and goes meanwhile
		l.leave()
		select {
		case err := <-done:
			t.Fatalf("cycle %d: the low-priority call went on beside a live call (%v)", cycle, err)
		default:
		}
		l.leave()
		if err := <-done; err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		if l.clear != nil {
			t.Fatalf("cycle %d: the channel outlived its live calls", cycle)
		}
	}
}
