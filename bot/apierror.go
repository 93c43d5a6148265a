package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	tg "github.com/go-telegram/bot"
)

// APIError is a refusal as the Bot API states it in its JSON body
// ({"ok":false,"error_code":…,"description":…,"parameters":{…}}), not as
// go-telegram/bot words it in an error string. The Sender decides from
// these fields alone.
type APIError struct {
	// Code is error_code, or the HTTP status when the body was not the
	// API's JSON (a proxy's 502 page).
	Code int
	// Description is Telegram's description, verbatim.
	Description string
	// RetryAfter is parameters.retry_after (429), in seconds.
	RetryAfter int
}

func (e *APIError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("telegram %d: %s (retry after %d s)", e.Code, e.Description, e.RetryAfter)
	}
	return fmt.Sprintf("telegram %d: %s", e.Code, e.Description)
}

// The 400 descriptions that are harmless for this bot, exactly as the Bot
// API returns them. They are matched whole: a reworded description is an
// ordinary 400 refusal (ErrTelegram, logged), never silently swallowed.
const (
	// An edit that changes nothing (a double tap on the same button).
	descNotModified = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
	// answerCallbackQuery more than ~15 s after the tap, or twice.
	descQueryTooOld = "Bad Request: query is too old and response timeout expired or query ID is invalid"
	// An edit of a message the person deleted, or one too old to edit.
	descEditNotFound = "Bad Request: message to edit not found"
	descCantEdit     = "Bad Request: message can't be edited"
)

// APIClient wraps the HTTP client given to go-telegram/bot
// (tg.WithHTTPClient) so that the Sender sees the Bot API's own
// error_code, description and parameters. Without it the Sender falls back
// to go-telegram/bot's typed errors, which carry the code but not the
// description: harmless refusals such as "message is not modified" then
// count as refusals.
//
// Only calls made by a Sender are inspected (they carry a slot in their
// context); getUpdates and other calls pass through untouched.
func APIClient(c tg.HttpClient) tg.HttpClient { return apiClient{c} }

type apiClient struct{ next tg.HttpClient }

type slotKey struct{}

// slot receives the API error of one call.
type slot struct{ err *APIError }

func withSlot(ctx context.Context) (context.Context, *slot) {
	s := &slot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

func (c apiClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	s, _ := r.Context().Value(slotKey{}).(*slot)
	if err != nil || s == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	s.err = parseAPIError(resp.StatusCode, body)
	return resp, nil
}

// parseAPIError reads a Bot API response body: nil when it says ok.
func parseAPIError(status int, body []byte) *APIError {
	var r struct {
		OK          *bool  `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.OK == nil {
		if status >= 400 {
			return &APIError{Code: status, Description: http.StatusText(status)}
		}
		return nil
	}
	if *r.OK {
		return nil
	}
	code := r.ErrorCode
	if code == 0 {
		code = status
	}
	return &APIError{Code: code, Description: r.Description, RetryAfter: r.Parameters.RetryAfter}
}
