package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// In a private chat Telegram always sends from == chat: an update claiming
// another sender (a forged webhook post) is refused, not applied.
func TestForgedSenderRefused(t *testing.T) {
	r := newRig(t)
	u := r.srv.User(900)
	u.Send("hi")
	before := len(u.Messages())
	forged := libTextUpdate(1, 900, "/help")
	forged.Message.From.ID = 901 // e.g. an admin's id
	if _, err := r.intake.Submit(context.Background(), updateOf(forged), false, 0); err != nil {
		t.Fatal(err)
	}
	cb := &tgmodels.Update{ID: 2, CallbackQuery: &tgmodels.CallbackQuery{ID: "q1", Data: "x",
		From: tgmodels.User{ID: 901},
		Message: tgmodels.MaybeInaccessibleMessage{Type: tgmodels.MaybeInaccessibleMessageTypeMessage,
			Message: &tgmodels.Message{ID: 1, Chat: tgmodels.Chat{ID: 900, Type: tgmodels.ChatTypePrivate}}}}}
	if _, err := r.intake.Submit(context.Background(), updateOf(cb), false, 0); err != nil {
		t.Fatal(err)
	}
	if got := len(u.Messages()); got != before {
		t.Fatalf("forged updates were answered:\n%s", u.Transcript())
	}
	if len(r.sessions.order) != 0 {
		t.Fatalf("forged updates reached the session store: %v", r.sessions.order)
	}
	// The genuine one is served.
	if _, err := r.intake.Submit(context.Background(), textUpdate(3, 900, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.Last().Text, "/delete") {
		t.Fatalf("genuine update not answered: %q", u.Last().Text)
	}
}

type storeThrottle struct {
	s     *redisstore.Store
	limit int
	per   time.Duration
}

func (t storeThrottle) Inbound(ctx context.Context, user, update int64) (bool, bool, error) {
	return t.s.Inbound(ctx, user, update, t.limit, t.per)
}

// A flood from one person gets one "slow down" and is then dropped; other
// people are not affected.
func TestInboundFloodGetsOneSlowDown(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	r := newRig(t)
	r.handler.cfg.Throttle = storeThrottle{s: store, limit: 5, per: time.Hour}
	u := r.srv.User(910)
	u.Send("hi")
	other := r.srv.User(911)
	other.Send("hi")
	before := len(u.Messages())
	for i := int64(1); i <= 30; i++ {
		if _, err := r.intake.Submit(context.Background(), textUpdate(i, 910, "/help"), false, 0); err != nil {
			t.Fatal(err)
		}
	}
	msgs := u.Messages()[before:]
	if len(msgs) != 6 {
		t.Fatalf("%d replies to a flood of 30 with a limit of 5, want 5 and one slow-down:\n%s", len(msgs), u.Transcript())
	}
	if !strings.Contains(msgs[5].Text, "molto in fretta") && !strings.Contains(msgs[5].Text, "very fast") {
		t.Fatalf("last reply is not the slow-down: %q", msgs[5].Text)
	}
	if _, err := r.intake.Submit(context.Background(), textUpdate(100, 911, "/help"), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(other.Last().Text, "/delete") {
		t.Fatalf("another person is throttled too: %q", other.Last().Text)
	}
	// No raw id in the limiter's keys.
	keys, _ := rdb.Keys(context.Background(), "*"+prefix+"*").Result()
	for _, k := range keys {
		if strings.Contains(k, "910") {
			t.Errorf("raw id in key %s", k)
		}
	}
}
