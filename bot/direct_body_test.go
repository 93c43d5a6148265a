package bot

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The JSON bodies as encoding/json wrote them before they were written by
// hand (the reference of TestDirectBodiesAreEncodingJSON).
type (
	jsonButton struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data,omitempty"`
	}
	jsonMarkup struct {
		InlineKeyboard [][]jsonButton `json:"inline_keyboard"`
	}
	jsonPreview struct {
		IsDisabled bool `json:"is_disabled"`
	}
	jsonMessage struct {
		ChatID      int64        `json:"chat_id"`
		MessageID   int          `json:"message_id,omitempty"`
		Text        string       `json:"text,omitempty"`
		ParseMode   string       `json:"parse_mode,omitempty"`
		Preview     *jsonPreview `json:"link_preview_options,omitempty"`
		ReplyMarkup *jsonMarkup  `json:"reply_markup,omitempty"`
	}
	jsonAnswer struct {
		CallbackQueryID string `json:"callback_query_id"`
		Text            string `json:"text,omitempty"`
	}
)

func jsonOf(m *directMessage) *jsonMessage {
	j := &jsonMessage{ChatID: m.ChatID, MessageID: m.MessageID, Text: m.Text, ParseMode: m.ParseMode}
	if m.Preview != nil {
		j.Preview = &jsonPreview{IsDisabled: m.Preview.IsDisabled}
	}
	if m.ReplyMarkup != nil {
		j.ReplyMarkup = &jsonMarkup{}
		if m.ReplyMarkup.InlineKeyboard != nil {
			j.ReplyMarkup.InlineKeyboard = [][]jsonButton{}
		}
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			var r []jsonButton
			if row != nil {
				r = []jsonButton{}
			}
			for _, k := range row {
				r = append(r, jsonButton{Text: k.Text, CallbackData: k.Data})
			}
			j.ReplyMarkup.InlineKeyboard = append(j.ReplyMarkup.InlineKeyboard, r)
		}
	}
	return j
}

var jsonStrings = []string{
	"", "x", "<b>Domanda</b> & più", "✓ <i>Sì</i>\n\n<b>Quanti anni hai?</b>\n<i>3 di 30</i>",
	"quote \" backslash \\ slash /", "\x00\x01\x07\b\f\n\r\t\x1f\x7f", "tab\there",
	"\u2028line\u2029para", "bad utf8 \xff\xfe end", "\xe2\x82", "emoji 😀 ✅ ⬜ ◀ ▶", "عربي \u200f\u2066123\u2069",
	"中文全角ＡＢＣ", "1c5.3.25_34", "'single' `back`", "\u00a0nbsp",
}

// The hand-written bodies are byte for byte what encoding/json writes.
func TestDirectBodiesAreEncodingJSON(t *testing.T) {
	kbs := [][][]Key{nil, {}, {{}}, {nil}, {{{"Sì", "1c0.0.si"}, {"No", ""}}, {{"◀ Indietro", "1b5.3"}}}}
	for _, s := range jsonStrings {
		for _, kb := range kbs {
			for _, m := range []*directMessage{
				{ChatID: -1001234567890, Text: s, ParseMode: "HTML", Preview: &directPreview{IsDisabled: true}, ReplyMarkup: directKeyboard(kb, false)},
				{ChatID: 77, MessageID: 12, Text: s, ParseMode: "HTML", Preview: &directPreview{}, ReplyMarkup: directKeyboard(kb, true)},
				{ChatID: 0, ReplyMarkup: &directMarkup{InlineKeyboard: append(kb, []Key{{Text: s, Data: s}})}},
				{ChatID: 5, ReplyMarkup: &directMarkup{}},
			} {
				want, err := json.Marshal(jsonOf(m))
				if err != nil {
					t.Fatal(err)
				}
				if got := appendMessage(nil, m); !bytes.Equal(got, want) {
					t.Errorf("message\n got %s\nwant %s", got, want)
				}
			}
		}
		a := &directAnswer{CallbackQueryID: s + "q", Text: s}
		want, _ := json.Marshal(&jsonAnswer{CallbackQueryID: a.CallbackQueryID, Text: a.Text})
		if got := appendAnswer(nil, a); !bytes.Equal(got, want) {
			t.Errorf("answer\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
