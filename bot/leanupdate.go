package bot

import (
	"encoding/json"
	"io"

	tgmodels "github.com/go-telegram/bot/models"
)

// decodeUpdate decodes one update as Telegram sends it to the webhook.
//
// A callback query carries the whole message its button belongs to: text,
// entities and the inline keyboard. go-telegram's MaybeInaccessibleMessage
// parses that message twice (once for its date, once in full); the bot
// reads only its id, date and chat (classify, ChatOf). So the callback
// query is decoded into leanCallback, which keeps those and skips the
// rest, and converted back to the library's type: the Update handed on is
// the same as a full decode as far as the bot looks at it. Every other
// kind of update is decoded by the library as before.
func decodeUpdate(r io.Reader) (*tgmodels.Update, error) {
	var w webhookUpdate
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return nil, err
	}
	return w.update(), nil
}

// update converts w to the library's type (decodeUpdate). A poller's
// batch is decoded into []webhookUpdate the same way (Poller.get): every
// update of the batch waits for the whole batch's decode.
func (w *webhookUpdate) update() *tgmodels.Update {
	u := w.Update
	if cq := w.CallbackQuery; cq != nil {
		u.CallbackQuery = &tgmodels.CallbackQuery{
			ID: cq.ID, From: cq.From, InlineMessageID: cq.InlineMessageID,
			ChatInstance: cq.ChatInstance, Data: cq.Data, GameShortName: cq.GameShortName,
		}
		if m := cq.Message; m != nil {
			// As MaybeInaccessibleMessage.UnmarshalJSON: date 0 means
			// inaccessible (older than 48 h).
			if m.Date == 0 {
				u.CallbackQuery.Message = tgmodels.MaybeInaccessibleMessage{
					Type:                tgmodels.MaybeInaccessibleMessageTypeInaccessibleMessage,
					InaccessibleMessage: &tgmodels.InaccessibleMessage{Chat: m.Chat, MessageID: m.ID},
				}
			} else {
				u.CallbackQuery.Message = tgmodels.MaybeInaccessibleMessage{
					Type:    tgmodels.MaybeInaccessibleMessageTypeMessage,
					Message: &tgmodels.Message{ID: m.ID, Date: m.Date, Chat: m.Chat},
				}
			}
		}
	}
	return &u
}

// webhookUpdate is tgmodels.Update with its callback_query decoded as
// leanCallback (the outer, less nested field wins in encoding/json).
type webhookUpdate struct {
	tgmodels.Update
	CallbackQuery *leanCallback `json:"callback_query,omitempty"`
}

type leanCallback struct {
	ID              string        `json:"id"`
	From            tgmodels.User `json:"from"`
	Message         *leanMessage  `json:"message"`
	InlineMessageID string        `json:"inline_message_id"`
	ChatInstance    string        `json:"chat_instance"`
	Data            string        `json:"data"`
	GameShortName   string        `json:"game_short_name"`
}

type leanMessage struct {
	ID   int           `json:"message_id"`
	Date int           `json:"date"`
	Chat tgmodels.Chat `json:"chat"`
}
