package bot

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"sync"

	tgmodels "github.com/go-telegram/bot/models"
)

// Update is a Telegram update as the bot reads it: the few facts of it
// that classify turns into an event, and nothing else (issue 19). The
// library's Update held a whole Message for every tap (~1.2 KB for the id,
// date and chat of the card it belongs to) and the person's names and
// entities besides. The hand-written decoder (fastupdate.go) fills it
// directly; any other update is decoded by encoding/json into the library's
// type and read by updateOf, which keeps that decode (lib) for the poller's
// journal.
type Update struct {
	ID int64
	// Chat is the chat the update belongs to (0 when none), the key that
	// keeps one chat's updates in order: ChatOf.
	Chat int64
	// From, Name, Lang: the sender (HasFrom: a message names one; a tap
	// always does).
	From int64
	// MsgID is the message's id, or the tap's message's when accessible
	// (HasMsg: a message older than 48 h is not, nor an inline one).
	MsgID int
	// ReplyMenu and ReplyMsg: the first staff button of the bot's message
	// a message replies to, and its id.
	ReplyMsg  int
	ReplyMenu string
	// ChatType is the type of the chat of the part classify reads: the
	// message's, the edited message's, the member update's, the tap's
	// message's (when accessible).
	ChatType   tgmodels.ChatType
	Name, Lang string
	Text       string
	// Doc and DocName: a document's file id and name.
	Doc, DocName string
	// Query and Data: the tap's callback query id and data.
	Query, Data string

	// lib is the library's decode of an update the hand-written decoder
	// left to encoding/json, as the journal keeps it.
	lib *tgmodels.Update

	Kind    updateKind
	HasFrom bool
	HasMsg  bool
	// Forwarded: the message is a forward.
	Forwarded bool
	// Banned: a private chat's member update saying the person blocked
	// the bot.
	Banned bool
}

// updateKind is the part of an update classify reads, in its order of
// precedence.
type updateKind uint8

const (
	upOther updateKind = iota
	upMessage
	upEdited
	upChannelPost
	upMember
	upCallback
)

// ChatOf returns the chat an update belongs to (0 when none).
func ChatOf(u *Update) int64 { return u.Chat }

// updateOf reads the library's decode of an update as the bot did before
// it had a type of its own: the same fields, in the same order.
func updateOf(lu *tgmodels.Update) *Update {
	u := &Update{ID: lu.ID, Chat: libraryChat(lu), lib: lu}
	from := func(f *tgmodels.User) {
		if f != nil {
			u.HasFrom, u.From, u.Name, u.Lang = true, f.ID, f.FirstName, f.LanguageCode
		}
	}
	switch {
	case lu.Message != nil:
		m := lu.Message
		u.Kind, u.ChatType, u.MsgID, u.Text = upMessage, m.Chat.Type, m.ID, m.Text
		from(m.From)
		u.Forwarded = m.ForwardOrigin != nil
		if rm := m.ReplyToMessage; rm != nil && rm.From != nil && rm.From.IsBot && rm.ReplyMarkup != nil {
			u.ReplyMenu, u.ReplyMsg = staffButton(rm.ReplyMarkup), rm.ID
		}
		if d := m.Document; d != nil {
			u.Doc, u.DocName = d.FileID, d.FileName
		}
	case lu.EditedMessage != nil:
		u.Kind, u.ChatType = upEdited, lu.EditedMessage.Chat.Type
		from(lu.EditedMessage.From)
	case lu.ChannelPost != nil:
		u.Kind, u.Text = upChannelPost, lu.ChannelPost.Text
	case lu.MyChatMember != nil:
		u.Kind, u.ChatType = upMember, lu.MyChatMember.Chat.Type
		u.Banned = lu.MyChatMember.NewChatMember.Type == tgmodels.ChatMemberTypeBanned
	case lu.CallbackQuery != nil:
		cq := lu.CallbackQuery
		u.Kind, u.Query, u.Data = upCallback, cq.ID, cq.Data
		from(&cq.From)
		// A message older than 48 h is "inaccessible" (date 0): nil.
		if m := cq.Message.Message; m != nil {
			u.HasMsg, u.MsgID, u.ChatType = true, m.ID, m.Chat.Type
		}
	}
	return u
}

// libraryChat is the chat of the library's update, as ChatOf read it.
func libraryChat(u *tgmodels.Update) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.EditedMessage != nil:
		return u.EditedMessage.Chat.ID
	case u.ChannelPost != nil:
		return u.ChannelPost.Chat.ID
	case u.EditedChannelPost != nil:
		return u.EditedChannelPost.Chat.ID
	case u.CallbackQuery != nil:
		if m := u.CallbackQuery.Message.Message; m != nil {
			return m.Chat.ID
		}
		return u.CallbackQuery.From.ID
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID
	}
	return 0
}

// decodeUpdate decodes one update as Telegram sends it to the webhook.
//
// The common updates — a person's message (text, a command with its
// entities) and a tap on a button — are read by a hand-written decoder
// (fastUpdate) without reflection and with few allocations: it is the
// largest part of the intake's own CPU (issue 19). It reads nothing
// differently from encoding/json: whatever it is not sure of (a key it
// does not know, null, a duplicate key, an escape in a key, a number
// that is not a plain integer, invalid UTF-8, text after the update)
// makes it give up, and the update is decoded by decodeUpdateJSON, as
// before. FuzzDecodeUpdate holds the two to the same result.
func decodeUpdate(r io.Reader) (*Update, error) { return decodeBody(r, math.MaxInt) }

// decodeBody is decodeUpdate of at most limit bytes of r (as
// io.LimitReader, without allocating one).
func decodeBody(r io.Reader, limit int) (*Update, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	defer putBody(buf)
	buf.Reset()
	if err := readAtMost(buf, r, limit); err != nil {
		// What was read, then the error: as the stream decoder saw it.
		return decodeUpdateJSON(io.MultiReader(bytes.NewReader(buf.Bytes()), errReader{err}))
	}
	if u, ok := fastUpdate(buf.Bytes()); ok {
		return u, nil
	}
	return decodeUpdateJSON(bytes.NewReader(buf.Bytes()))
}

// bodyPool keeps the buffers webhook bodies are read into; a buffer grown
// by an unusually large body is not kept.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		bodyPool.Put(b)
	}
}

// maxBatchHint bounds the buffer decodeUpdates sizes from the
// Content-Length before reading: a larger body grows it as it comes.
const maxBatchHint = 4 << 20

// readAtMost appends up to limit bytes of r to buf, until io.EOF.
func readAtMost(buf *bytes.Buffer, r io.Reader, limit int) error {
	for buf.Len() < limit {
		buf.Grow(min(limit-buf.Len(), 4096))
		b := buf.AvailableBuffer()
		b = b[:min(cap(b), limit-buf.Len())]
		n, err := r.Read(b)
		buf.Write(b[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// decodeUpdateJSON decodes one update with encoding/json.
//
// A callback query carries the whole message its button belongs to: text,
// entities and the inline keyboard. go-telegram's MaybeInaccessibleMessage
// parses that message twice (once for its date, once in full); the bot
// reads only its id, date and chat (classify, ChatOf). So the callback
// query is decoded into leanCallback, which keeps those and skips the
// rest, and converted back to the library's type: the Update handed on is
// the same as a full decode as far as the bot looks at it. Every other
// kind of update is decoded by the library as before. updateOf reads the
// result.
func decodeUpdateJSON(r io.Reader) (*Update, error) {
	var w webhookUpdate
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return nil, err
	}
	return updateOf(w.update()), nil
}

// update converts w into the library's type.
func (w *webhookUpdate) update() *tgmodels.Update {
	u := w.Update
	if cq := w.CallbackQuery; cq != nil {
		u.CallbackQuery = &tgmodels.CallbackQuery{
			ID: cq.ID, From: cq.From, InlineMessageID: cq.InlineMessageID,
			ChatInstance: cq.ChatInstance, Data: cq.Data, GameShortName: cq.GameShortName,
		}
		if m := cq.Message; m != nil {
			u.CallbackQuery.Message = leanMaybe(m.ID, m.Date, m.Chat, nil)
		}
	}
	return &u
}

// leanMaybe is the callback query's message as the bot keeps it: its id,
// date and chat. As MaybeInaccessibleMessage.UnmarshalJSON, date 0 means
// inaccessible (older than 48 h). m, when set, is where the message goes.
func leanMaybe(id, date int, chat tgmodels.Chat, m *tgmodels.Message) tgmodels.MaybeInaccessibleMessage {
	if date == 0 {
		return tgmodels.MaybeInaccessibleMessage{
			Type:                tgmodels.MaybeInaccessibleMessageTypeInaccessibleMessage,
			InaccessibleMessage: &tgmodels.InaccessibleMessage{Chat: chat, MessageID: id},
		}
	}
	if m == nil {
		m = new(tgmodels.Message)
	}
	m.ID, m.Date, m.Chat = id, date, chat
	return tgmodels.MaybeInaccessibleMessage{Type: tgmodels.MaybeInaccessibleMessageTypeMessage, Message: m}
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

// decodeUpdates decodes a getUpdates response of size bytes (its
// Content-Length; -1 when unknown): whether it is ok, its updates (each as
// decodeUpdate reads it) and its description. A response the hand-written
// decoder is not sure of is decoded by encoding/json.
func decodeUpdates(r io.Reader, size int64) (ok bool, result []*Update, description string, err error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	defer putBody(buf)
	return decodeUpdatesIn(buf, r, size)
}

// decodeUpdatesIn is decodeUpdates reading the response into buf, which it
// empties first. Nothing decoded refers to buf (every string is copied),
// so the poller reads each batch into the one buffer (Poller.batch).
func decodeUpdatesIn(buf *bytes.Buffer, r io.Reader, size int64) (ok bool, result []*Update, description string, err error) {
	buf.Reset()
	if size > 0 && size <= maxBatchHint {
		// Read into one buffer of the body's size (and the room ReadFrom
		// wants to see the end): a busy bot's batch of 100 updates is
		// 50–150 KB, more than bodyPool keeps, and ReadFrom grew a new
		// buffer through some ten sizes for each — 12 % of the bytes the
		// bot allocated in polling (issue 19), 3.4 times the body's size.
		buf.Grow(int(size) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return decodeUpdatesJSON(io.MultiReader(bytes.NewReader(buf.Bytes()), errReader{err}))
	}
	if ok, result, description, fast := fastUpdates(buf.Bytes()); fast {
		return ok, result, description, nil
	}
	return decodeUpdatesJSON(bytes.NewReader(buf.Bytes()))
}

func decodeUpdatesJSON(r io.Reader) (bool, []*Update, string, error) {
	var resp struct {
		OK          bool             `json:"ok"`
		Result      []*webhookUpdate `json:"result"`
		Description string           `json:"description"`
	}
	if err := json.NewDecoder(r).Decode(&resp); err != nil {
		return false, nil, "", err
	}
	var result []*Update
	if resp.Result != nil {
		result = make([]*Update, len(resp.Result))
		for i, w := range resp.Result {
			if w == nil {
				// null in the array: as a []*tgmodels.Update decodes it.
				continue
			}
			result[i] = updateOf(w.update())
		}
	}
	return resp.OK, result, resp.Description, nil
}
