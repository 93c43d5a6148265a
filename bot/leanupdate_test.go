package bot

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	tgmodels "github.com/go-telegram/bot/models"
)

func TestDecodeUpdateMatchesLibrary(t *testing.T) {
	cases := map[string]string{
		"callback": `{"update_id":7,"callback_query":{"id":"q1","from":{"id":42,"is_bot":false,"first_name":"A","language_code":"it"},` +
			`"message":{"message_id":9,"date":1700000000,"chat":{"id":42,"type":"private"},"text":"Q?",` +
			`"reply_markup":{"inline_keyboard":[[{"text":"x","callback_data":"c:1"}]]}},"chat_instance":"ci","data":"c:1"}}`,
		"inaccessible": `{"update_id":8,"callback_query":{"id":"q2","from":{"id":42,"first_name":"A"},` +
			`"message":{"message_id":3,"date":0,"chat":{"id":42,"type":"private"}},"data":"d"}}`,
		"inline": `{"update_id":9,"callback_query":{"id":"q3","from":{"id":5,"first_name":"B"},"inline_message_id":"im","data":"d"}}`,
		"message": `{"update_id":10,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},` +
			`"from":{"id":42,"first_name":"A"},"text":"/start"}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var want tgmodels.Update
			if err := json.Unmarshal([]byte(body), &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeUpdate(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if cq := want.CallbackQuery; cq != nil {
				// The lean decode keeps only the message's id, date and chat.
				if m := cq.Message.Message; m != nil {
					cq.Message.Message = &tgmodels.Message{ID: m.ID, Date: m.Date, Chat: m.Chat}
				}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("decodeUpdate:\n got %+v\nwant %+v", got, &want)
			}
			if ChatOf(got) != ChatOf(&want) {
				t.Fatalf("ChatOf %d, want %d", ChatOf(got), ChatOf(&want))
			}
		})
	}
	if _, err := decodeUpdate(strings.NewReader(`{"update_id":`)); err == nil {
		t.Fatal("truncated update decoded")
	}
}
