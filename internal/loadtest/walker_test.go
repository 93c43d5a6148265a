package loadtest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
)

// TestWalkerWaitsForTheNextCard: a bot that, like needsbot, removes the
// tapped card's keyboard first and sends the next card a moment later
// (paced, retried) leaves the chat with no card in between; the walker
// waits for the next card or the thank-you instead of taking that for the
// end. A bot that never sends the next card leaves the person stuck.
func TestWalkerWaitsForTheNextCard(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	form := lib.Latest("immigrati")
	texts := Texts{Thanks: map[string][]string{"en": {"Thank you!"}}, Stale: map[string]string{"en": "old button"}}
	for _, tc := range []struct {
		name      string
		thank     bool // the bot sends the thank-you after the second tap
		completed bool
	}{
		{"next card late, then the thank-you", true, true},
		{"keyboard removed, nothing after", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := telegramtest.NewServer()
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The walk may end as the bot's last call is answered: errors
			// after the end (context canceled) are not the bot's.
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			taps := 0
			b, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL), tg.WithSkipGetMe(),
				tg.WithDefaultHandler(func(ctx context.Context, b *tg.Bot, u *tgmodels.Update) {
					card := func(chat int64, pos int) {
						data, err := bot.Callback{Kind: bot.CbAck, Pos: pos, Seq: 1}.Encode()
						if err != nil {
							t.Error(err)
							return
						}
						_, err = b.SendMessage(ctx, &tg.SendMessageParams{ChatID: chat, Text: "Question",
							ReplyMarkup: &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{{Text: "OK", CallbackData: data}}}}})
						if err != nil && ctx.Err() == nil {
							t.Error(err)
						}
					}
					switch {
					case u.Message != nil:
						card(u.Message.Chat.ID, 1)
					case u.CallbackQuery != nil:
						taps++
						q := u.CallbackQuery
						chat, msg := q.Message.Message.Chat.ID, q.Message.Message.ID
						_, _ = b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: q.ID})
						_, err := b.EditMessageReplyMarkup(ctx, &tg.EditMessageReplyMarkupParams{ChatID: chat, MessageID: msg,
							ReplyMarkup: &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{}}})
						if err != nil && ctx.Err() == nil {
							t.Error(err)
						}
						// The next card comes late (a paced or retried send).
						time.Sleep(300 * time.Millisecond)
						switch {
						case taps == 1:
							card(chat, 2)
						case tc.thank:
							if _, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: chat, Text: "✓ OK\n\nThank you!"}); err != nil && ctx.Err() == nil {
								t.Error(err)
							}
						}
					}
				}))
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); b.Start(ctx) }()

			timeout := 20 * time.Second // a bound, not a measurement: the machine may be loaded
			if !tc.completed {
				timeout = 2 * time.Second // how long the stuck person waits
			}
			w := &Walker{User: srv.User(42), Form: form, Rng: rand.New(rand.NewPCG(1, 2)), Lang: "en",
				Timeout: timeout, Texts: texts}
			err = w.Interview(ctx)
			if w.Completed != tc.completed || w.Stuck == tc.completed {
				t.Fatalf("completed %v, stuck %v, want completed %v: %v", w.Completed, w.Stuck, tc.completed, err)
			}
			if tc.completed && err != nil {
				t.Fatal(err)
			}
			if !tc.completed && !errors.Is(err, ErrStuck) {
				t.Fatalf("err %v, want ErrStuck", err)
			}
			if n := w.Taps("ack"); n != 2 {
				t.Errorf("%d taps, want 2", n)
			}
		})
	}
}
