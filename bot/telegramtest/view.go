package telegramtest

import (
	"fmt"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"
)

// Kind is what a message carries.
type Kind string

// The kinds of message the fake knows.
const (
	KindText     Kind = "text"
	KindPhoto    Kind = "photo"
	KindDocument Kind = "document"
	KindSticker  Kind = "sticker"
	KindVoice    Kind = "voice"
	KindLocation Kind = "location"
	KindContact  Kind = "contact"
	KindVenue    Kind = "venue"
)

// File is a file in a message. Its Data is shared, not copied: do not modify
// it.
type File struct {
	ID       string
	UniqueID string
	Name     string
	MIME     string
	Data     []byte
	URL      string // set instead of Data when the bot sent a file by URL
	Width    int    // photos
	Height   int    // photos
}

// Button is an inline keyboard button as a user sees it.
type Button struct {
	Text string
	Data string // callback_data, for callback buttons
	URL  string // for URL buttons
}

// Message is a message as the people in the chat see it now: after edits,
// with its current inline keyboard.
type Message struct {
	ID        int
	FromBot   bool
	From      string // the sender's first name; "" for the bot and channel posts
	Date      time.Time
	EditDate  time.Time // zero if never edited
	Kind      Kind
	Text      string                 // the text, or a media caption, as displayed
	Entities  []models.MessageEntity // formatting of Text, UTF-16 offsets
	Source    string                 // Text as the bot sent it, before parse_mode
	ParseMode string
	Buttons   [][]Button // the inline keyboard
	File      *File      // photo, document, sticker or voice
	Emoji     string     // sticker
	Duration  int        // voice, seconds
	Location  *models.Location
	Contact   *models.Contact
	Venue     *models.Venue // a map pin with a title and an address (sendVenue)
	ReplyTo   int           // the message this one replies to, or 0
	Forwarded bool          // from a user: forwarded from someone else
	NoPreview bool          // the bot disabled link previews
}

// Labels returns the inline keyboard as rows of button texts.
func (m Message) Labels() [][]string {
	var out [][]string
	for _, row := range m.Buttons {
		var labels []string
		for _, b := range row {
			labels = append(labels, b.Text)
		}
		out = append(out, labels)
	}
	return out
}

// Button returns the inline button with that text.
func (m Message) Button(label string) (Button, bool) {
	for _, row := range m.Buttons {
		for _, b := range row {
			if b.Text == label {
				return b, true
			}
		}
	}
	return Button{}, false
}

// CallbackAnswer is a tap on an inline button and the bot's answer to it.
type CallbackAnswer struct {
	QueryID    string
	From       string // the first name of who tapped
	MessageID  int
	Label      string // the button's text; "" for TapData
	Data       string
	At         time.Time
	Answered   bool
	AnsweredAt time.Time
	Text       string // the notification or alert the bot showed
	ShowAlert  bool
	URL        string
}

// Chat is a snapshot of a chat as the people in it see it.
type Chat struct {
	ID    int64
	Type  string // private, group, supergroup or channel
	Title string
	// Messages are the chat's messages, oldest first, without deleted ones.
	Messages []Message
	// Callbacks are the taps on inline buttons, oldest first.
	Callbacks []CallbackAnswer
	// ReplyKeyboard is the custom keyboard the bot has shown, if any.
	ReplyKeyboard [][]string
	// Action is the chat action the bot is showing ("typing"), if any.
	Action string
	// Blocked reports whether the user has blocked the bot.
	Blocked bool
	// Pending counts updates the bot has not acknowledged yet.
	Pending int
	// Version increases on every change, for callers that poll for changes.
	Version uint64

	order []step // Messages and Callbacks interleaved, for Transcript
}

type step struct {
	msg, tap int // index into Messages or Callbacks, or -1
}

// Last returns the latest message, or a zero Message.
func (c Chat) Last() Message {
	if len(c.Messages) == 0 {
		return Message{}
	}
	return c.Messages[len(c.Messages)-1]
}

// LastFromBot returns the bot's latest message, or a zero Message.
func (c Chat) LastFromBot() Message {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		if c.Messages[i].FromBot {
			return c.Messages[i]
		}
	}
	return Message{}
}

// LastAnswer returns the latest tap and its answer.
func (c Chat) LastAnswer() (CallbackAnswer, bool) {
	if len(c.Callbacks) == 0 {
		return CallbackAnswer{}, false
	}
	return c.Callbacks[len(c.Callbacks)-1], true
}

// Transcript renders the chat as plain text, one line per message and tap,
// for golden tests:
//
//	me: /start
//	bot: Choose a language
//	  [English] [Italiano]
//	me tapped [English]
//	  (toast) Saved
//	bot: [document results.csv] Your export
//
// Messages appear as they are now (after edits); in private chats the user
// is "me", in groups people appear by first name. Continuation lines of
// multi-line messages are indented.
func (c Chat) Transcript() string {
	var b strings.Builder
	private := c.Type == "private"
	who := func(fromBot bool, name string) string {
		switch {
		case fromBot:
			return "bot"
		case private:
			return "me"
		case name == "":
			return "channel"
		}
		return name
	}
	for _, st := range c.order {
		if st.tap >= 0 {
			cb := c.Callbacks[st.tap]
			name := "me"
			if !private {
				name = cb.From
			}
			label := cb.Label
			if label == "" {
				label = "data " + cb.Data
			}
			fmt.Fprintf(&b, "%s tapped [%s]\n", name, label)
			if cb.Text != "" {
				kind := "toast"
				if cb.ShowAlert {
					kind = "alert"
				}
				fmt.Fprintf(&b, "  (%s) %s\n", kind, cb.Text)
			}
			continue
		}
		m := c.Messages[st.msg]
		prefix := who(m.FromBot, m.From) + ": "
		body := m.Text
		var media string
		switch m.Kind {
		case KindPhoto:
			media = "[photo]"
		case KindDocument:
			media = "[document " + m.File.Name + "]"
		case KindSticker:
			media = "[sticker " + m.Emoji + "]"
		case KindVoice:
			media = fmt.Sprintf("[voice %ds]", m.Duration)
		case KindLocation:
			media = fmt.Sprintf("[location %g,%g]", m.Location.Latitude, m.Location.Longitude)
		case KindContact:
			media = "[contact " + m.Contact.PhoneNumber + "]"
		case KindVenue:
			media = fmt.Sprintf("[venue %s, %s @%g,%g]", m.Venue.Title, m.Venue.Address, m.Venue.Location.Latitude, m.Venue.Location.Longitude)
		}
		if m.Forwarded {
			media = strings.TrimSpace("[forwarded] " + media)
		}
		if media != "" {
			body = strings.TrimSpace(media + " " + body)
		}
		indent := strings.Repeat(" ", len(prefix))
		b.WriteString(prefix + strings.ReplaceAll(body, "\n", "\n"+indent) + "\n")
		for _, row := range m.Buttons {
			b.WriteString(" ")
			for _, btn := range row {
				b.WriteString(" [" + btn.Text + "]")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// snapshot copies a chat's state for a reader.
func (s *Server) snapshot(ch *chatState) Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked(ch)
}

func (s *Server) snapshotLocked(ch *chatState) Chat {
	now := s.now()
	c := Chat{
		ID:            ch.id,
		Type:          ch.typ,
		Title:         ch.title,
		ReplyKeyboard: cloneRows(ch.replyKeyboard),
		Blocked:       ch.blocked,
		Pending:       len(ch.queue),
		Version:       ch.version,
	}
	if ch.action != "" && now.Sub(ch.actionAt) < chatActionTTL {
		c.Action = ch.action
	}
	for _, e := range ch.timeline {
		switch {
		case e.msg != nil && !e.msg.deleted:
			c.order = append(c.order, step{msg: len(c.Messages), tap: -1})
			c.Messages = append(c.Messages, e.msg.view())
		case e.tap != nil:
			c.order = append(c.order, step{msg: -1, tap: len(c.Callbacks)})
			c.Callbacks = append(c.Callbacks, e.tap.view())
		}
	}
	return c
}

func cloneRows(rows [][]string) [][]string {
	if rows == nil {
		return nil
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = slices.Clone(r)
	}
	return out
}

// view renders a message for readers; s.mu must be held.
func (m *message) view() Message {
	v := Message{
		ID:        m.id,
		FromBot:   m.fromBot,
		Date:      m.date,
		EditDate:  m.editDate,
		Kind:      m.kind,
		Text:      m.text.text,
		Entities:  slices.Clone(m.text.entities),
		Source:    m.source,
		ParseMode: m.parseMode,
		Emoji:     m.emoji,
		Duration:  m.duration,
		ReplyTo:   m.replyTo,
		Forwarded: m.forwarded,
		NoPreview: m.noPreview,
	}
	if m.file != nil {
		f := *m.file
		v.File = &f
	}
	if m.from != nil {
		v.From = m.from.first
	}
	if m.location != nil {
		loc := *m.location
		v.Location = &loc
	}
	if m.contact != nil {
		c := *m.contact
		v.Contact = &c
	}
	if m.venue != nil {
		vn := *m.venue
		v.Venue = &vn
	}
	for _, row := range m.keyboard {
		var btns []Button
		for _, b := range row {
			btns = append(btns, Button{Text: b.Text, Data: b.data, URL: b.url})
		}
		v.Buttons = append(v.Buttons, btns)
	}
	return v
}

func (cq *callbackQuery) view() CallbackAnswer {
	return CallbackAnswer{
		QueryID:    cq.id,
		From:       cq.from.first,
		MessageID:  cq.msgID,
		Label:      cq.label,
		Data:       cq.data,
		At:         cq.at,
		Answered:   cq.answered,
		AnsweredAt: cq.answeredAt,
		Text:       cq.text,
		ShowAlert:  cq.alert,
		URL:        cq.url,
	}
}

// mimeType guesses a file's type from its name, then its content.
func mimeType(name string, data []byte) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		mt, _, _ := mime.ParseMediaType(t)
		if mt != "" {
			return mt
		}
	}
	t, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	return t
}
