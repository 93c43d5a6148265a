package telegramtest

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Telegram's limits on inline keyboards.
const (
	maxInlineButtons      = 100
	maxInlineButtonsInRow = 8
	maxCallbackData       = 64
	maxReplyButtons       = 300
)

// button is an inline keyboard button as stored: its text and the one action
// field it carries (kind is the field name, value its JSON).
type button struct {
	Text  string
	kind  string
	value json.RawMessage
	data  string // callback_data
	url   string
}

func (b button) equal(c button) bool {
	return b.Text == c.Text && b.kind == c.kind && bytes.Equal(b.value, c.value)
}

func keyboardsEqual(a, b [][]button) bool {
	return slices.EqualFunc(a, b, func(x, y []button) bool { return slices.EqualFunc(x, y, button.equal) })
}

// markup is a parsed reply_markup parameter.
type markup struct {
	inline      [][]button
	isInline    bool
	replyLabels [][]string // a custom reply keyboard
	isReply     bool
	remove      bool // remove_keyboard
}

// parseMarkup parses reply_markup. inlineOnly is for edits, which only take
// inline keyboards.
func parseMarkup(raw string, inlineOnly bool) (markup, *apiError) {
	var m markup
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return m, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return m, badRequest("can't parse reply keyboard markup JSON object")
	}
	if kb, ok := obj["inline_keyboard"]; ok {
		rows, err := parseInlineKeyboard(kb)
		if err != nil {
			return m, err
		}
		m.inline, m.isInline = rows, true
		return m, nil
	}
	if inlineOnly {
		return m, badRequest("inline keyboard expected")
	}
	switch {
	case obj["keyboard"] != nil:
		var rows [][]json.RawMessage
		if err := json.Unmarshal(obj["keyboard"], &rows); err != nil {
			return m, badRequest("can't parse reply keyboard markup JSON object")
		}
		total := 0
		for _, row := range rows {
			var labels []string
			for _, b := range row {
				var text string
				if json.Unmarshal(b, &text) != nil {
					var kb struct {
						Text string `json:"text"`
					}
					if json.Unmarshal(b, &kb) != nil {
						return m, badRequest("can't parse keyboard button")
					}
					text = kb.Text
				}
				if text == "" {
					return m, badRequest("can't parse keyboard button: text must be non-empty")
				}
				labels = append(labels, text)
				total++
			}
			if len(labels) > 0 {
				m.replyLabels = append(m.replyLabels, labels)
			}
		}
		if total > maxReplyButtons {
			return m, badRequest("reply markup is too long")
		}
		m.isReply = true
	case obj["remove_keyboard"] != nil:
		m.remove = true
	case obj["force_reply"] != nil:
	default:
		return m, badRequest("can't parse reply keyboard markup JSON object")
	}
	return m, nil
}

func parseInlineKeyboard(raw json.RawMessage) ([][]button, *apiError) {
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil || rows == nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("[]")) {
		return nil, badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
	}
	var out [][]button
	total := 0
	for _, row := range rows {
		if len(row) > maxInlineButtonsInRow {
			return nil, badRequest("reply markup is too long")
		}
		var btns []button
		for _, fields := range row {
			b, err := parseInlineButton(fields)
			if err != nil {
				return nil, err
			}
			btns = append(btns, b)
			total++
		}
		if len(btns) > 0 { // Telegram drops empty rows
			out = append(out, btns)
		}
	}
	if total > maxInlineButtons {
		return nil, badRequest("reply markup is too long")
	}
	return out, nil
}

func parseInlineButton(fields map[string]json.RawMessage) (button, *apiError) {
	var b button
	if json.Unmarshal(fields["text"], &b.Text) != nil {
		return b, badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
	}
	if b.Text == "" {
		return b, badRequest("can't parse inline keyboard button: Text must be non-empty")
	}
	// The fields that make a button do something, in the order the fake looks
	// for them; the first one present is the button's action.
	actions := [...]string{
		"callback_data", "url", "web_app", "login_url", "switch_inline_query",
		"switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
		"copy_text", "callback_game", "pay",
	}
	for _, kind := range actions {
		value, ok := fields[kind]
		if !ok || bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
			continue
		}
		switch kind {
		case "callback_data":
			if json.Unmarshal(value, &b.data) != nil || b.data == "" || len(b.data) > maxCallbackData {
				return b, badRequest("BUTTON_DATA_INVALID")
			}
		case "url":
			if json.Unmarshal(value, &b.url) != nil || !validButtonURL(b.url) {
				return b, badRequest("BUTTON_URL_INVALID")
			}
		case "copy_text":
			// go-telegram/bot sends "copy_text":{"text":""} on every button
			// (a struct with omitempty); an empty one means no copy_text.
			var ct struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(value, &ct) != nil || ct.Text == "" {
				continue
			}
		case "pay":
			var pay bool
			if json.Unmarshal(value, &pay) != nil || !pay {
				continue
			}
		}
		b.kind, b.value = kind, append(json.RawMessage(nil), bytes.TrimSpace(value)...)
		return b, nil
	}
	return b, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
}

func validButtonURL(s string) bool {
	if s == "" {
		return false
	}
	if !strings.Contains(s, ":") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "tg", "ton":
		return true
	}
	return false
}
