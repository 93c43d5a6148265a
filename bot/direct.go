package bot

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
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
	// urls are the parsed URLs of the direct methods, made once: a
	// request only reads its URL (http.RoundTripper), so every call of a
	// method shares it instead of parsing base+method again.
	urls map[string]*url.URL
	// replies are buffers to read replies into (a reply is parsed, and
	// done with, before call returns).
	replies sync.Pool
}

// HTTPDoer sends one HTTP request (an *http.Client).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// DirectDoer returns the HTTPDoer of a DirectAPI over c. A call whose
// context has a deadline (the Sender's calls all have one: a turn's, an
// early answer's, a reminder's) is one RoundTrip of c's transport, the
// request as DirectAPI built it: http.Client would add nothing the Bot API
// needs — no redirects, no cookies, a Timeout later than the deadline —
// and cost per call a copy of the request (its deadline), of its URL and
// of its headers (kept for a redirect) (issue 19: 7.5 % of the bytes the
// bot allocated in polling). A call without a deadline goes through c, so
// that c's Timeout bounds it. The transport's errors hold no URL (nothing
// for redactTokenErr to take out).
func DirectDoer(c *http.Client) HTTPDoer {
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return directDoer{rt: rt, c: c}
}

type directDoer struct {
	rt http.RoundTripper
	c  *http.Client
}

func (d directDoer) Do(req *http.Request) (*http.Response, error) {
	if _, ok := req.Context().Deadline(); ok {
		return d.rt.RoundTrip(req)
	}
	return d.c.Do(req)
}

// NewDirectAPI returns the direct client for the Bot API at serverURL
// (e.g. https://api.telegram.org) with the bot's token.
func NewDirectAPI(serverURL, token string, c HTTPDoer) *DirectAPI {
	d := &DirectAPI{base: strings.TrimSuffix(serverURL, "/") + "/bot" + token + "/", client: c, urls: map[string]*url.URL{}}
	d.replies.New = func() any { return new(bytes.Buffer) }
	for _, m := range []string{"sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery"} {
		// As http.NewRequest would make it; a URL it refuses is left
		// to it (call reports the error).
		if r, err := http.NewRequest(http.MethodPost, d.base+m, nil); err == nil {
			d.urls[m] = r.URL
		}
	}
	return d
}

// The JSON bodies: only the fields the bot sets. A *directMessage and a
// *directAnswer are written by hand (appendMessage, appendAnswer) as
// encoding/json would write them, field for field and byte for byte.
type (
	directMarkup struct {
		// InlineKeyboard is the keyboard, shown as is: empty (not nil)
		// removes a message's keyboard.
		InlineKeyboard [][]Key
	}
	directPreview struct {
		IsDisabled bool
	}
	directMessage struct {
		ChatID      int64
		MessageID   int    // omitted when 0
		Text        string // omitted when ""
		ParseMode   string // omitted when ""
		Preview     *directPreview
		ReplyMarkup *directMarkup
	}
	directAnswer struct {
		CallbackQueryID string
		Text            string // omitted when ""
	}
)

// noKeys is the empty keyboard of editMessageReplyMarkup.
var noKeys = &directMarkup{InlineKeyboard: [][]Key{}}

// previewOff is the link preview option of every message the bot sends.
var previewOff = &directPreview{IsDisabled: true}

// directKeyboard is kb as a reply markup; an empty keyboard (not nil) when
// kb is empty and empty is set (editMessageReplyMarkup removes the keyboard
// so).
func directKeyboard(kb [][]Key, empty bool) *directMarkup {
	mk := &directMarkup{InlineKeyboard: kb}
	return mk.orNone(empty)
}

// orNone is m, or when its keyboard is empty the empty keyboard (empty
// set) or no markup at all: the Sender's markups are made on its stack.
func (m *directMarkup) orNone(empty bool) *directMarkup {
	if len(m.InlineKeyboard) == 0 {
		if empty {
			return noKeys
		}
		return nil
	}
	return m
}

// appendMessage appends m as JSON.
func appendMessage(b []byte, m *directMessage) []byte {
	b = append(b, `{"chat_id":`...)
	b = strconv.AppendInt(b, m.ChatID, 10)
	if m.MessageID != 0 {
		b = append(b, `,"message_id":`...)
		b = strconv.AppendInt(b, int64(m.MessageID), 10)
	}
	if m.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, m.Text)
	}
	if m.ParseMode != "" {
		b = append(b, `,"parse_mode":`...)
		b = appendJSONString(b, m.ParseMode)
	}
	if m.Preview != nil {
		b = append(b, `,"link_preview_options":{"is_disabled":`...)
		b = strconv.AppendBool(b, m.Preview.IsDisabled)
		b = append(b, '}')
	}
	if m.ReplyMarkup != nil {
		b = append(b, `,"reply_markup":{"inline_keyboard":`...)
		if m.ReplyMarkup.InlineKeyboard == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, row := range m.ReplyMarkup.InlineKeyboard {
				if i > 0 {
					b = append(b, ',')
				}
				if row == nil {
					b = append(b, "null"...)
					continue
				}
				b = append(b, '[')
				for j, k := range row {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"text":`...)
					b = appendJSONString(b, k.Text)
					if k.Data != "" {
						b = append(b, `,"callback_data":`...)
						b = appendJSONString(b, k.Data)
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendAnswer appends a as JSON.
func appendAnswer(b []byte, a *directAnswer) []byte {
	b = append(b, `{"callback_query_id":`...)
	b = appendJSONString(b, a.CallbackQueryID)
	if a.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, a.Text)
	}
	return append(b, '}')
}

// scratch holds the buffers the message bodies are written into before
// each is copied out at its length (message): a body is written once,
// without first measuring its strings, and the request holds only its
// own bytes.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxScratch bounds the buffers scratch keeps: a body longer than this
// (a keyboard of many long labels) is not kept for the next one.
const maxScratch = 16 << 10

// jsonPlain[c] is set for each byte that encoding/json writes as it is
// in a string (HTML-safe): printable ASCII but '"', '\\', '<', '>' and
// '&'. Every byte of a multi-byte character is unset (it is decoded).
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it (HTML characters escaped, invalid UTF-8 as U+FFFD, U+2028 and
// U+2029 escaped).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// call posts params to method and returns the message id of the result
// (0 when the result is not a message). A refusal is an *APIError; a
// failure to get an answer is returned with the token taken out of it.
// The Sender's calls use message and answer, whose params stay on the
// caller's stack.
func (d *DirectAPI) call(ctx context.Context, method string, params any) (int, error) {
	switch p := params.(type) {
	case *directMessage:
		return d.message(ctx, method, p)
	case *directAnswer:
		return d.post(ctx, method, appendAnswer(make([]byte, 0, answerSize(p)), p))
	}
	body, err := json.Marshal(params)
	if err != nil {
		return 0, err
	}
	return d.post(ctx, method, body)
}

// message posts m to method (sendMessage, editMessageText,
// editMessageReplyMarkup) and returns the message id of the result.
func (d *DirectAPI) message(ctx context.Context, method string, m *directMessage) (int, error) {
	return d.post(ctx, method, messageBody(m))
}

// messageBody is m as JSON, in a slice of its own of its length: written
// into a scratch buffer, then copied (the request keeps its body until the
// transport has written it, which may be after the reply is in, so the
// body itself is never reused).
func messageBody(m *directMessage) []byte {
	sp := scratch.Get().(*[]byte)
	b := appendMessage((*sp)[:0], m)
	body := make([]byte, len(b))
	copy(body, b)
	if cap(b) <= maxScratch {
		*sp = b[:0]
		scratch.Put(sp)
	}
	return body
}

// answer answers a callback query (answerCallbackQuery).
func (d *DirectAPI) answer(ctx context.Context, a *directAnswer) error {
	_, err := d.post(ctx, "answerCallbackQuery", appendAnswer(make([]byte, 0, answerSize(a)), a))
	return err
}

// answerSize is about how long a is as JSON (a little more).
func answerSize(a *directAnswer) int { return 64 + len(a.CallbackQueryID) + len(a.Text)*2 }

// maxReply bounds the reply read.
const maxReply = 1 << 20

// post posts the JSON body to method and reads the reply (readReplyBody).
func (d *DirectAPI) post(ctx context.Context, method string, body []byte) (int, error) {
	req, err := d.request(ctx, method, body)
	if err != nil {
		return 0, redactTokenErr(err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, redactTokenErr(err)
	}
	defer resp.Body.Close()
	buf := d.replies.Get().(*bytes.Buffer)
	defer d.replies.Put(buf)
	buf.Reset()
	// A reply of a stated length within the bound is read as it is (the
	// transport stops at its length); any other through the limit.
	var r io.Reader = resp.Body
	if resp.ContentLength < 0 || resp.ContentLength > maxReply {
		r = io.LimitReader(resp.Body, maxReply)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		// Compressed though the request asked for identity (a proxy).
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, redactTokenErr(err)
		}
		r = io.LimitReader(zr, maxReply)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return 0, redactTokenErr(err)
	}
	return readReplyBody(resp.StatusCode, buf.Bytes())
}

// request is the POST of body to method: a request as
// http.NewRequestWithContext makes it — the same fields, its body and
// GetBody (the transport's retry of a POST on a keep-alive connection the
// server closed) — with the method's URL made once (urls) and the shared
// header. The transport reads both and writes neither
// (http.RoundTripper; http.Client copies a request before it changes
// anything), so that a call allocates neither a URL nor a header map of
// its own: the request is made on the stack and WithContext's copy is the
// only one on the heap.
func (d *DirectAPI) request(ctx context.Context, method string, body []byte) (*http.Request, error) {
	u := d.urls[method]
	if u == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+method, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header["Content-Type"] = jsonContentType
		return req, nil
	}
	// The body as NewRequest wraps a *bytes.Reader (the transport knows
	// it for an in-memory body and writes the request in one write).
	r := http.Request{Method: http.MethodPost, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: jsonHeader, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Host: u.Host,
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }}
	if len(body) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return r.WithContext(ctx), nil
}

// jsonHeader is the header of every direct request to a method of urls.
// It asks for the reply as it is (identity): a reply is 25 B to a few KB,
// and net/http would otherwise ask for gzip on every call (a header map
// and its value made per request) and inflate a compressed reply with a
// new flate reader — tens of KB of state — for a handful of bytes saved.
// A reply compressed all the same is inflated (post).
var jsonHeader = http.Header{"Content-Type": jsonContentType, "Accept-Encoding": identityEncoding}

// identityEncoding is the Accept-Encoding of the direct requests.
var identityEncoding = []string{"identity"}

// okTrueReply is the Bot API's whole reply to a method that returns True
// (answerCallbackQuery: one per tap in polling mode).
const okTrueReply = `{"ok":true,"result":true}`

// readReplyBody reads a reply (raw, with its HTTP status): the message id
// of the result (0 when the result is not a message), or the refusal as an
// *APIError.
func readReplyBody(status int, raw []byte) (int, error) {
	if id, ok := fastMessageID(raw); ok {
		return id, nil
	}
	if string(raw) == okTrueReply {
		return 0, nil
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
		if api := parseAPIError(status, raw); api != nil {
			return 0, api
		}
		return 0, &APIError{Code: status, Description: "unreadable reply"}
	}
	if !*r.OK {
		code := r.ErrorCode
		if code == 0 {
			code = status
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

// jsonContentType is the Content-Type header of every direct request
// (shared: the HTTP client only reads it).
var jsonContentType = []string{"application/json"}

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
