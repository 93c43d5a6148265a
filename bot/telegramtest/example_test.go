package telegramtest_test

import (
	"context"
	"fmt"

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// The bot side talks HTTP to the server through go-telegram/bot; the test
// plays the user.
func Example() {
	srv := telegramtest.NewServer()
	defer srv.Close()
	b, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL), tg.WithSkipGetMe())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	u := srv.User(1001, telegramtest.FirstName("Amina"), telegramtest.LanguageCode("ar"))
	u.Start("inv_roma") // the bot receives "/start inv_roma"

	_, err = b.SendMessage(ctx, &tg.SendMessageParams{
		ChatID:    u.ID(),
		Text:      "Do you attend an <b>Italian</b> course?",
		ParseMode: tgmodels.ParseModeHTML,
		ReplyMarkup: &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{{
			{Text: "Yes", CallbackData: "q1:y"}, {Text: "No", CallbackData: "q1:n"},
		}}},
	})
	if err != nil {
		panic(err)
	}
	if err := u.Tap("Yes"); err != nil { // the bot receives a callback_query with data "q1:y"
		panic(err)
	}
	fmt.Print(u.Transcript())
	fmt.Println(len(srv.Violations()), "violations")
	// Output:
	// me: /start inv_roma
	// bot: Do you attend an Italian course?
	//   [Yes] [No]
	// me tapped [Yes]
	// 0 violations
}
