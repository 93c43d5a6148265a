package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
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

// cardMessage is an edit of a question card as a tap makes it: the answer
// line, the question and a keyboard of options and Back.
func cardMessage() *directMessage {
	kb := [][]Key{{{"18–24", "1c5.3.18_24"}, {"25–34", "1c5.3.25_34"}}, {{"35–44", "1c5.3.35_44"}, {"45–54", "1c5.3.45_54"}},
		{{"55 o più", "1c5.3.55_plus"}, {"Preferisco non dirlo", "1c5.3.na"}}, {{"◀ Indietro", "1b5.3"}}}
	text := "✓ <i>Sì, vivo in Italia da più di un anno</i>\n\n<b>Quanti anni hai?</b>\n" +
		"Scegli la fascia d'età che ti descrive meglio: serve a capire quali servizi possono aiutarti.\n<i>3 di 30</i>"
	return &directMessage{ChatID: 770011223344, MessageID: 12, Text: text, ParseMode: "HTML", Preview: previewOff,
		ReplyMarkup: directKeyboard(kb, false)}
}

// BenchmarkMessageBody is the JSON body of a card's edit.
func BenchmarkMessageBody(b *testing.B) {
	m := cardMessage()
	b.ReportAllocs()
	for b.Loop() {
		_ = messageBody(m)
	}
}

// bodyRT keeps the body buffer of the last request (through GetBody: the
// *bytes.Reader net/http knows for an in-memory body) and answers as the
// Bot API does.
type bodyRT struct{ buf []byte }

func (rt *bodyRT) RoundTrip(req *http.Request) (*http.Response, error) {
	rc, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	v := reflect.ValueOf(rc)
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer && v.Type() != reflect.TypeOf((*bytes.Reader)(nil)) {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct { // io.NopCloser's wrapper
		v = v.Field(0).Elem()
	}
	r, ok := v.Interface().(*bytes.Reader)
	if !ok {
		return nil, fmt.Errorf("body is a %s, want a *bytes.Reader (written in one write)", v.Type())
	}
	// The reader's slice, without reading it: its length and capacity.
	s := reflect.ValueOf(r).Elem().FieldByName("s")
	rt.buf = make([]byte, s.Len(), s.Cap())
	_ = req.Body.Close()
	reply := `{"ok":true,"result":{"message_id":5}}`
	return &http.Response{StatusCode: 200, ContentLength: int64(len(reply)), Body: io.NopCloser(strings.NewReader(reply)), Request: req}, nil
}

// A request's body holds its bytes and no more: it stays in memory until
// the transport has written it (up to the reply, and past it), one per
// call in flight. Before, it was made at an estimate of the message's
// length (160 bytes and 32 a key more than the JSON, and each HTML
// character counted as escaped): a card's edit held ~130 bytes it never
// used, and its text was scanned once more to make the estimate.
func TestDirectBodyIsItsLength(t *testing.T) {
	rt := &bodyRT{}
	d := NewDirectAPI("http://api.invalid", "1:x", DirectDoer(&http.Client{Transport: rt}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, m := range []*directMessage{cardMessage(), {ChatID: 7, MessageID: 5, ReplyMarkup: noKeys},
		{ChatID: 7, Text: strings.Repeat("<b>a & b</b> ", 400), ParseMode: "HTML", Preview: previewOff}} {
		if _, err := d.message(ctx, "editMessageText", m); err != nil {
			t.Fatal(err)
		}
		if want := len(appendMessage(nil, m)); len(rt.buf) != want || cap(rt.buf) != want {
			t.Errorf("body of %d bytes held in %d (the JSON is %d)", len(rt.buf), cap(rt.buf), want)
		}
	}
}
