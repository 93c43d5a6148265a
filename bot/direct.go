package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DirectAPI makes the Sender's hot calls — sendMessage, editMessageText,
// editMessageReplyMarkup, answerCallbackQuery, a few per tap — as small
// JSON requests, and reads
// back only ok, the error fields and the message id. go-telegram/bot builds
// every request as a multipart body and decodes every reply into a full
// Message (and APIClient parses it once more for the error fields): on this
// path that was the largest part of the bot's CPU per update after the
// interview itself. Everything else still goes through the library.
type DirectAPI struct {
	base   string // <server>/bot<token>/
	client HTTPDoer
}

// HTTPDoer sends one HTTP request (an *http.Client).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// NewDirectAPI returns the direct client for the Bot API at serverURL
// (e.g. https://api.telegram.org) with the bot's token.
func NewDirectAPI(serverURL, token string, c HTTPDoer) *DirectAPI {
	return &DirectAPI{base: strings.TrimSuffix(serverURL, "/") + "/bot" + token + "/", client: c}
}

// The JSON bodies: only the fields the bot sets.
type (
	directButton struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data,omitempty"`
	}
	directMarkup struct {
		InlineKeyboard [][]directButton `json:"inline_keyboard"`
	}
	directPreview struct {
		IsDisabled bool `json:"is_disabled"`
	}
	directMessage struct {
		ChatID      int64          `json:"chat_id"`
		MessageID   int            `json:"message_id,omitempty"`
		Text        string         `json:"text,omitempty"`
		ParseMode   string         `json:"parse_mode,omitempty"`
		Preview     *directPreview `json:"link_preview_options,omitempty"`
		ReplyMarkup *directMarkup  `json:"reply_markup,omitempty"`
	}
	directAnswer struct {
		CallbackQueryID string `json:"callback_query_id"`
		Text            string `json:"text,omitempty"`
	}
)

// directKeyboard is kb as JSON; an empty keyboard (not nil) when kb is
// empty and empty is set (editMessageReplyMarkup removes the keyboard so).
func directKeyboard(kb [][]Key, empty bool) *directMarkup {
	if len(kb) == 0 {
		if empty {
			return &directMarkup{InlineKeyboard: [][]directButton{}}
		}
		return nil
	}
	rows := make([][]directButton, len(kb))
	for i, row := range kb {
		rows[i] = make([]directButton, len(row))
		for j, k := range row {
			rows[i][j] = directButton{Text: k.Text, CallbackData: k.Data}
		}
	}
	return &directMarkup{InlineKeyboard: rows}
}

// call posts params to method and returns the message id of the result
// (0 when the result is not a message). A refusal is an *APIError; a
// failure to get an answer is returned with the token taken out of it.
func (d *DirectAPI) call(ctx context.Context, method string, params any) (int, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+method, bytes.NewReader(body))
	if err != nil {
		return 0, redactTokenErr(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, redactTokenErr(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, redactTokenErr(err)
	}
	if id, ok := fastMessageID(raw); ok {
		return id, nil
	}
	// One pass over the reply: the error fields and the result, whose
	// message id alone is read (no Message is built).
	var r struct {
		OK          *bool  `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.OK == nil {
		// Not the API's JSON (a proxy's page): as parseAPIError reads it.
		if api := parseAPIError(resp.StatusCode, raw); api != nil {
			return 0, api
		}
		return 0, &APIError{Code: resp.StatusCode, Description: "unreadable reply"}
	}
	if !*r.OK {
		code := r.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return 0, &APIError{Code: code, Description: r.Description, RetryAfter: r.Parameters.RetryAfter}
	}
	var msg struct {
		MessageID int `json:"message_id"`
	}
	if len(r.Result) > 0 && r.Result[0] == '{' {
		_ = json.Unmarshal(r.Result, &msg)
	}
	return msg.MessageID, nil
}

// okPrefix is how the Bot API begins a successful reply to a method that
// returns a Message.
const okPrefix = `{"ok":true,"result":{"message_id":`

// fastMessageID reads the message id of a successful reply without parsing
// the rest of it (the whole message, echoed back), when the reply begins
// as the Bot API writes it; otherwise ok is false and the caller parses.
func fastMessageID(raw []byte) (id int, ok bool) {
	if !bytes.HasPrefix(raw, []byte(okPrefix)) {
		return 0, false
	}
	rest := raw[len(okPrefix):]
	n := 0
	for n < len(rest) && n < 12 && rest[n] >= '0' && rest[n] <= '9' {
		id = id*10 + int(rest[n]-'0')
		n++
	}
	if n == 0 || n == len(rest) || (rest[n] != ',' && rest[n] != '}') {
		return 0, false
	}
	return id, true
}

// redactTokenErr takes the request URL (which holds the bot's token) out
// of an error from the HTTP client.
func redactTokenErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: "<bot api>/" + ue.URL[strings.LastIndex(ue.URL, "/")+1:], Err: ue.Err}
	}
	return err
}
