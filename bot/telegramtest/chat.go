package telegramtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"
)

// chatActionTTL is how long a chat action shows, unless a message ends it.
const chatActionTTL = 5 * time.Second

// chatState is one chat, guarded by Server.mu.
type chatState struct {
	id       int64
	typ      string // private, group, supergroup or channel
	title    string
	username string
	peer     *User // the other side of a private chat

	started bool // the user has written to the bot (private chats)
	blocked bool // the user has blocked the bot (private chats)

	nextMsgID int
	timeline  []entry // messages and taps, oldest first, capped
	byID      map[int]*message
	botSent   int // how many messages the bot has sent here
	mark      int // botSent at the last user action

	queue    []*pendingUpdate // this chat's unacknowledged updates, in order
	inflight *webhookState    // set while one of them is being delivered
	inReady  bool             // queued in Server.ready

	bucket        bucket
	replyKeyboard [][]string
	action        string
	actionAt      time.Time

	changed chan struct{} // closed and replaced on every change
	version uint64
}

// entry is one item of a chat's timeline: a message or a tap on a button.
type entry struct {
	msg *message
	tap *callbackQuery
}

type message struct {
	id        int
	chat      *chatState
	from      *User // nil for the bot and channel posts
	fromBot   bool
	date      time.Time
	editDate  time.Time
	kind      Kind
	text      formatted // the text, or the caption of media
	source    string    // text or caption as the bot sent it, before parsing
	parseMode string
	keyboard  [][]button
	file      *File
	emoji     string // sticker
	duration  int    // voice, seconds
	location  *models.Location
	contact   *models.Contact
	venue     *models.Venue
	forwarded bool
	replyTo   int
	noPreview bool
	botSeq    int // 1-based position among the bot's messages in the chat
	deleted   bool
}

type callbackQuery struct {
	id         string
	chat       *chatState
	from       *User
	msgID      int
	label      string
	data       string
	at         time.Time
	answered   bool
	answeredAt time.Time
	text       string
	alert      bool
	url        string
}

// bump wakes whoever waits on the chat; s.mu must be held.
func (ch *chatState) bump() {
	ch.version++
	close(ch.changed)
	ch.changed = make(chan struct{})
}

// chat returns the chat with that id, creating it; s.mu must be held.
func (s *Server) chat(id int64, typ string) *chatState {
	ch := s.chats[id]
	if ch == nil {
		ch = &chatState{id: id, typ: typ, byID: map[int]*message{}, changed: make(chan struct{})}
		s.chats[id] = ch
	}
	return ch
}

// addMessage appends m to its chat, giving it an id; s.mu must be held.
func (s *Server) addMessage(ch *chatState, m *message) {
	ch.nextMsgID++
	m.id = ch.nextMsgID
	m.chat = ch
	if m.fromBot {
		ch.botSent++
		m.botSeq = ch.botSent
		ch.action = ""
	}
	ch.byID[m.id] = m
	s.appendEntry(ch, entry{msg: m})
}

// appendEntry adds to a chat's timeline, forgetting the oldest entries beyond
// the history limit; s.mu must be held.
func (s *Server) appendEntry(ch *chatState, e entry) {
	ch.timeline = append(ch.timeline, e)
	if limit := s.cfg.historyLimit; len(ch.timeline) > limit {
		// Drop a tenth at a time so that trimming is amortised.
		drop := len(ch.timeline) - limit + limit/10
		for _, old := range ch.timeline[:drop] {
			if old.msg != nil {
				delete(ch.byID, old.msg.id)
			}
			if old.tap != nil {
				delete(s.callbacks, old.tap.id)
			}
		}
		ch.timeline = append([]entry(nil), ch.timeline[drop:]...)
	}
	ch.bump()
}

// userAction records that the user did something the bot should answer, for
// WaitMessage; s.mu must be held.
func (ch *chatState) userAction() { ch.mark = ch.botSent }

// wireChat is the chat as it appears in messages; s.mu must be held.
func (ch *chatState) wire() wireChat {
	w := wireChat{ID: ch.id, Type: ch.typ, Title: ch.title, Username: ch.username}
	if ch.peer != nil {
		w.FirstName, w.LastName, w.Username = ch.peer.first, ch.peer.last, ch.peer.username
	}
	return w
}

// wireMessage renders m as the Bot API sends it; s.mu must be held.
func (s *Server) wireMessage(m *message, withReply bool) *wireMessage {
	w := &wireMessage{MessageID: m.id, Date: m.date.Unix(), Chat: m.chat.wire()}
	switch {
	case m.fromBot:
		bot := s.bot
		bot.CanJoinGroups, bot.CanReadAllGroupMessages, bot.SupportsInlineQueries = nil, nil, nil
		w.From = &bot
	case m.from != nil:
		u := m.from.wire()
		w.From = &u
	default:
		c := m.chat.wire()
		w.SenderChat = &c
	}
	if !m.editDate.IsZero() {
		w.EditDate = m.editDate.Unix()
	}
	if m.forwarded {
		w.ForwardOrigin = &wireOrigin{Type: "hidden_user", Date: m.date.Unix() - 3600, SenderUserName: "Someone"}
	}
	if m.kind == KindText {
		w.Text, w.Entities = m.text.text, m.text.entities
	} else {
		w.Caption, w.CaptionEntities = m.text.text, m.text.entities
	}
	switch m.kind {
	case KindPhoto:
		f := m.file
		w.Photo = []models.PhotoSize{{FileID: f.ID, FileUniqueID: f.UniqueID, Width: f.Width, Height: f.Height, FileSize: len(f.Data)}}
	case KindDocument:
		f := m.file
		w.Document = &models.Document{FileID: f.ID, FileUniqueID: f.UniqueID, FileName: f.Name, MimeType: f.MIME, FileSize: int64(len(f.Data))}
	case KindSticker:
		f := m.file
		w.Sticker = &wireSticker{FileID: f.ID, FileUniqueID: f.UniqueID, Type: "regular", Width: 512, Height: 512, Emoji: m.emoji, FileSize: len(f.Data)}
	case KindVoice:
		f := m.file
		w.Voice = &models.Voice{FileID: f.ID, FileUniqueID: f.UniqueID, Duration: m.duration, MimeType: f.MIME, FileSize: int64(len(f.Data))}
	case KindLocation:
		loc := *m.location
		w.Location = &loc
	case KindContact:
		c := *m.contact
		w.Contact = &c
	case KindVenue:
		v := *m.venue
		w.Venue = &v
		w.Location = &v.Location
	}
	if len(m.keyboard) > 0 {
		w.ReplyMarkup = &wireInlineKeyboard{InlineKeyboard: m.keyboard}
	}
	if withReply && m.replyTo != 0 {
		if r := m.chat.byID[m.replyTo]; r != nil && !r.deleted {
			w.ReplyToMessage = s.wireMessage(r, false)
		}
	}
	return w
}

// newFile stores file data under a fresh file id; s.mu must be held.
func (s *Server) newFile(prefix string, f *File) *File {
	s.nextFile++
	f.ID = fmt.Sprintf("%s%020d", prefix, s.nextFile)
	f.UniqueID = fmt.Sprintf("AQAD%08d", s.nextFile)
	s.files[f.ID] = f
	s.fileOrder = append(s.fileOrder, f.ID)
	if len(s.fileOrder) > maxStoredFiles {
		delete(s.files, s.fileOrder[0])
		s.fileOrder = s.fileOrder[1:]
	}
	return f
}

// UserOption configures a User.
type UserOption func(*User)

// FirstName sets the user's first name (default "Test").
func FirstName(name string) UserOption { return func(u *User) { u.first = name } }

// LastName sets the user's last name (default none).
func LastName(name string) UserOption { return func(u *User) { u.last = name } }

// Username sets the user's username, without "@" (default none).
func Username(name string) UserOption {
	return func(u *User) { u.username = strings.TrimPrefix(name, "@") }
}

// LanguageCode sets the language_code the user's client reports, e.g. "it",
// "pt-br"; "" leaves it out, as some clients do (default "en").
func LanguageCode(code string) UserOption { return func(u *User) { u.lang = code } }

// User is a Telegram user talking to the bot in a private chat whose id is the
// user's id. Get one with Server.User.
type User struct {
	s    *Server
	id   int64
	chat *chatState
	// Guarded by s.mu.
	first, last, username, lang string
}

// User returns the user with that id, creating them with the options or, if
// they exist, applying the options to them.
func (s *Server) User(id int64, opts ...UserOption) *User {
	if id <= 0 {
		panic("telegramtest: user ids are positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		u = &User{s: s, id: id, first: "Test", lang: "en"}
		s.users[id] = u
		u.chat = s.chat(id, "private")
		u.chat.peer = u
	}
	for _, o := range opts {
		o(u)
	}
	return u
}

// ID returns the user's id, which is also the id of their private chat.
func (u *User) ID() int64 { return u.id }

// wire renders the user; s.mu must be held.
func (u *User) wire() wireUser {
	return wireUser{ID: u.id, FirstName: u.first, LastName: u.last, Username: u.username, LanguageCode: u.lang}
}

// Send sends a text message to the bot and returns its message id. Commands
// ("/start", "/start@bot payload") get bot_command entities, as on Telegram.
func (u *User) Send(text string) int {
	return u.s.post(u.chat, u, &message{kind: KindText, text: formatted{text: text, entities: commandEntities(text)}}, 0)
}

// Start sends "/start" or, with a payload, "/start payload" — what Telegram
// sends when a user opens t.me/bot?start=payload.
func (u *User) Start(payload string) int {
	if payload == "" {
		return u.Send("/start")
	}
	return u.Send("/start " + payload)
}

// Reply sends a text message replying to the message with that id.
func (u *User) Reply(messageID int, text string) int {
	return u.s.post(u.chat, u, &message{kind: KindText, text: formatted{text: text, entities: commandEntities(text)}}, messageID)
}

// Forward sends text as a message forwarded from someone else.
func (u *User) Forward(text string) int {
	return u.s.post(u.chat, u, &message{kind: KindText, text: formatted{text: text}, forwarded: true}, 0)
}

// SendSticker sends a sticker (👍).
func (u *User) SendSticker() int {
	return u.s.post(u.chat, u, &message{kind: KindSticker, emoji: "👍", file: &File{MIME: "image/webp", Data: []byte("RIFF....WEBP")}}, 0)
}

// SendPhoto sends a photo with an optional caption.
func (u *User) SendPhoto(caption string) int {
	return u.s.post(u.chat, u, &message{kind: KindPhoto, text: formatted{text: caption}, file: &File{MIME: "image/jpeg", Width: 1280, Height: 960, Data: []byte("\xff\xd8\xff\xe0 fake jpeg")}}, 0)
}

// SendVoice sends a three-second voice message.
func (u *User) SendVoice() int {
	return u.s.post(u.chat, u, &message{kind: KindVoice, duration: 3, file: &File{MIME: "audio/ogg", Data: []byte("OggS fake voice")}}, 0)
}

// SendLocation sends a location.
func (u *User) SendLocation(latitude, longitude float64) int {
	return u.s.post(u.chat, u, &message{kind: KindLocation, location: &models.Location{Latitude: latitude, Longitude: longitude}}, 0)
}

// SendContact shares the user's own contact with that phone number.
func (u *User) SendContact(phone string) int {
	u.s.mu.Lock()
	c := &models.Contact{PhoneNumber: phone, FirstName: u.first, LastName: u.last, UserID: u.id}
	u.s.mu.Unlock()
	return u.s.post(u.chat, u, &message{kind: KindContact, contact: c}, 0)
}

// SendDocument sends a file.
func (u *User) SendDocument(name string, data []byte) int {
	return u.s.post(u.chat, u, &message{kind: KindDocument, file: &File{Name: name, MIME: mimeType(name, data), Data: data}}, 0)
}

// Edit edits one of the user's own text messages, which sends the bot an
// edited_message update.
func (u *User) Edit(messageID int, text string) error {
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m := u.chat.byID[messageID]
	if m == nil || m.deleted || m.from != u || m.kind != KindText {
		return fmt.Errorf("telegramtest: user %d has no text message %d to edit", u.id, messageID)
	}
	m.text = formatted{text: text, entities: commandEntities(text)}
	m.editDate = s.now()
	u.chat.userAction()
	s.enqueue(u.chat, "edited_message", &wireUpdate{EditedMessage: s.wireMessage(m, true)})
	u.chat.bump()
	return nil
}

// Tap taps the inline button with that text on the latest message in the
// chat that has an inline keyboard, which sends the bot a callback_query.
func (u *User) Tap(label string) error { return u.s.tap(u.chat, u, 0, label, "", false) }

// TapIn taps the button with that text on the message with that id.
func (u *User) TapIn(messageID int, label string) error {
	return u.s.tap(u.chat, u, messageID, label, "", false)
}

// TapData sends a callback_query for the message with that id carrying any
// data, as a forged or stale client could.
func (u *User) TapData(messageID int, data string) error {
	return u.s.tap(u.chat, u, messageID, "", data, true)
}

// Block blocks the bot: sending to the user fails with 403 and the bot gets a
// my_chat_member update.
func (u *User) Block() { u.s.Block(u.id) }

// Unblock unblocks the bot again.
func (u *User) Unblock() { u.s.Unblock(u.id) }

// Chat returns the chat as the user sees it now.
func (u *User) Chat() Chat { return u.s.snapshot(u.chat) }

// Messages returns the chat's messages as the user sees them now.
func (u *User) Messages() []Message { return u.Chat().Messages }

// Last returns the chat's latest message, or a zero Message.
func (u *User) Last() Message { return u.Chat().Last() }

// Transcript renders the chat as text; see Chat.Transcript.
func (u *User) Transcript() string { return u.Chat().Transcript() }

// CallbackAnswers returns the user's taps and how the bot answered them.
func (u *User) CallbackAnswers() []CallbackAnswer { return u.Chat().Callbacks }

// WaitFor waits until cond holds for the chat, and returns the chat.
func (u *User) WaitFor(ctx context.Context, cond func(Chat) bool) (Chat, error) {
	return u.s.waitFor(ctx, u.chat, cond)
}

// WaitMessage waits until the bot has sent at least n messages since the
// user's last action (message, edit or tap) and returns them.
func (u *User) WaitMessage(ctx context.Context, n int) ([]Message, error) {
	return u.s.waitMessages(ctx, u.chat, n)
}

// WaitHandled waits until the bot has acknowledged every update of the chat:
// confirmed it with a later getUpdates offset, or answered its webhook
// delivery with a 2xx (after which any method in the answer has run).
func (u *User) WaitHandled(ctx context.Context) error { return u.s.waitHandled(ctx, u.chat) }

// Block makes the user with that id block the bot.
func (s *Server) Block(userID int64) { s.setBlocked(userID, true) }

// Unblock makes the user with that id unblock the bot.
func (s *Server) Unblock(userID int64) { s.setBlocked(userID, false) }

func (s *Server) setBlocked(userID int64, blocked bool) {
	u := s.User(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := u.chat
	if ch.blocked == blocked {
		return
	}
	ch.blocked = blocked
	if !ch.started {
		ch.bump()
		return
	}
	bot := s.bot
	bot.CanJoinGroups, bot.CanReadAllGroupMessages, bot.SupportsInlineQueries = nil, nil, nil
	member := wireChatMember{Status: "member", User: bot}
	var zero int64
	kicked := wireChatMember{Status: "kicked", User: bot, UntilDate: &zero}
	upd := &wireChatMemberUpdated{Chat: ch.wire(), From: u.wire(), Date: s.now().Unix(), OldChatMember: member, NewChatMember: kicked}
	if !blocked {
		upd.OldChatMember, upd.NewChatMember = kicked, member
	}
	s.enqueue(ch, "my_chat_member", &wireUpdate{MyChatMember: upd})
	ch.bump()
}

// post adds a message from a user (or, with from nil, a channel post) and
// sends the bot its update; it returns the message id.
func (s *Server) post(ch *chatState, from *User, m *message, replyTo int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.from = from
	m.date = s.now()
	if r := ch.byID[replyTo]; r != nil && !r.deleted {
		m.replyTo = replyTo
	}
	if m.file != nil {
		prefix := map[Kind]string{KindPhoto: "AgAC", KindSticker: "CAAC", KindVoice: "AwAC"}[m.kind]
		if prefix == "" {
			prefix = "BQAC"
		}
		s.newFile(prefix, m.file)
	}
	s.addMessage(ch, m)
	ch.userAction()
	switch {
	case ch.typ == "private":
		ch.started = true
		s.enqueue(ch, "message", &wireUpdate{Message: s.wireMessage(m, true)})
	case ch.typ == "channel":
		s.enqueue(ch, "channel_post", &wireUpdate{ChannelPost: s.wireMessage(m, true)})
	case s.botSees(m):
		s.enqueue(ch, "message", &wireUpdate{Message: s.wireMessage(m, true)})
	}
	return m.id
}

// botSees applies group privacy mode; s.mu must be held.
func (s *Server) botSees(m *message) bool {
	if !s.cfg.groupPrivacy {
		return true
	}
	if r := m.chat.byID[m.replyTo]; r != nil && r.fromBot {
		return true
	}
	text := m.text.text
	mention := "@" + strings.ToLower(s.bot.Username)
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		_, to, addressed := strings.Cut(cmd, "@")
		return !addressed || strings.EqualFold("@"+to, mention)
	}
	return strings.Contains(strings.ToLower(text), mention)
}

func (s *Server) tap(ch *chatState, from *User, msgID int, label, data string, forged bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m *message
	if msgID == 0 {
		for i := len(ch.timeline) - 1; i >= 0 && m == nil; i-- {
			if e := ch.timeline[i].msg; e != nil && !e.deleted && len(e.keyboard) > 0 {
				m = e
			}
		}
		if m == nil {
			return fmt.Errorf("telegramtest: no message with an inline keyboard in chat %d", ch.id)
		}
	} else if m = ch.byID[msgID]; m == nil || m.deleted {
		return fmt.Errorf("telegramtest: no message %d in chat %d", msgID, ch.id)
	}
	if !forged {
		var found *button
		var labels []string
		for _, row := range m.keyboard {
			for i := range row {
				labels = append(labels, "["+row[i].Text+"]")
				if row[i].Text == label && found == nil {
					found = &row[i]
				}
			}
		}
		if found == nil {
			return fmt.Errorf("telegramtest: no button %q on message %d (buttons: %s)", label, m.id, strings.Join(labels, " "))
		}
		if found.kind != "callback_data" {
			return fmt.Errorf("telegramtest: button %q on message %d is a %s button, not a callback button", label, m.id, found.kind)
		}
		data = found.data
	}
	s.nextCallback++
	cq := &callbackQuery{
		id:    strconv.FormatInt(4_000_000_000_000_000_000+s.nextCallback, 10),
		chat:  ch,
		from:  from,
		msgID: m.id,
		label: label,
		data:  data,
		at:    s.now(),
	}
	s.callbacks[cq.id] = cq
	s.appendEntry(ch, entry{tap: cq})
	ch.userAction()
	s.enqueue(ch, "callback_query", &wireUpdate{CallbackQuery: &wireCallbackQuery{
		ID:           cq.id,
		From:         from.wire(),
		Message:      s.wireMessage(m, true),
		ChatInstance: strconv.FormatInt(ch.id*7_919+s.bot.ID, 10),
		Data:         data,
	}})
	return nil
}

// Group is a group or supergroup chat with the bot as a member. Get one with
// Server.Group.
type Group struct {
	s    *Server
	chat *chatState
}

// Group returns the group with that (negative) chat id, creating it: a
// supergroup if the id is of the -100… form, a basic group otherwise.
func (s *Server) Group(chatID int64, title string) *Group {
	if chatID >= 0 {
		panic("telegramtest: group chat ids are negative")
	}
	typ := "group"
	if chatID <= -1_000_000_000_000 {
		typ = "supergroup"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chat(chatID, typ)
	ch.title = title
	return &Group{s: s, chat: ch}
}

// ID returns the group's chat id.
func (g *Group) ID() int64 { return g.chat.id }

// Send sends text to the group as the user. With privacy mode on, the bot
// only gets commands, mentions of it and replies to it.
func (g *Group) Send(from *User, text string) int {
	return g.s.post(g.chat, from, &message{kind: KindText, text: formatted{text: text, entities: commandEntities(text)}}, 0)
}

// Reply sends text to the group as the user, replying to a message.
func (g *Group) Reply(from *User, messageID int, text string) int {
	return g.s.post(g.chat, from, &message{kind: KindText, text: formatted{text: text, entities: commandEntities(text)}}, messageID)
}

// Tap taps, as the user, the button with that text on the latest message with
// an inline keyboard.
func (g *Group) Tap(from *User, label string) error {
	return g.s.tap(g.chat, from, 0, label, "", false)
}

// Chat returns the group chat as its members see it now.
func (g *Group) Chat() Chat { return g.s.snapshot(g.chat) }

// Transcript renders the group chat; see Chat.Transcript.
func (g *Group) Transcript() string { return g.Chat().Transcript() }

// WaitFor waits until cond holds for the group chat.
func (g *Group) WaitFor(ctx context.Context, cond func(Chat) bool) (Chat, error) {
	return g.s.waitFor(ctx, g.chat, cond)
}

// WaitHandled waits until the bot has acknowledged every update of the group.
func (g *Group) WaitHandled(ctx context.Context) error { return g.s.waitHandled(ctx, g.chat) }

// Channel is a channel where the bot is an administrator. Get one with
// Server.Channel.
type Channel struct {
	s    *Server
	chat *chatState
}

// Channel returns the channel with that (negative, -100…) chat id, creating
// it.
func (s *Server) Channel(chatID int64, title string) *Channel {
	if chatID >= 0 {
		panic("telegramtest: channel chat ids are negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chat(chatID, "channel")
	ch.title = title
	return &Channel{s: s, chat: ch}
}

// ID returns the channel's chat id.
func (c *Channel) ID() int64 { return c.chat.id }

// Post publishes text in the channel, which the bot gets as a channel_post.
func (c *Channel) Post(text string) int {
	return c.s.post(c.chat, nil, &message{kind: KindText, text: formatted{text: text}}, 0)
}

// Chat returns the channel as its readers see it now.
func (c *Channel) Chat() Chat { return c.s.snapshot(c.chat) }

// WaitHandled waits until the bot has acknowledged every update of the
// channel.
func (c *Channel) WaitHandled(ctx context.Context) error { return c.s.waitHandled(ctx, c.chat) }

// ErrClosed is returned by the Wait methods when the server is closed.
var ErrClosed = errors.New("telegramtest: server closed")

// waitState waits until cond, evaluated with s.mu held, is true.
func (s *Server) waitState(ctx context.Context, ch *chatState, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, changed := cond(), ch.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		}
	}
}

func (s *Server) waitFor(ctx context.Context, ch *chatState, cond func(Chat) bool) (Chat, error) {
	for {
		s.mu.Lock()
		c, changed := s.snapshotLocked(ch), ch.changed
		s.mu.Unlock()
		if cond(c) {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return c, ctx.Err()
		case <-s.closing:
			return c, ErrClosed
		}
	}
}

func (s *Server) waitMessages(ctx context.Context, ch *chatState, n int) ([]Message, error) {
	s.mu.Lock()
	mark := ch.mark
	s.mu.Unlock()
	err := s.waitState(ctx, ch, func() bool { return ch.botSent-mark >= n })
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, e := range ch.timeline {
		if m := e.msg; m != nil && m.fromBot && m.botSeq > mark && !m.deleted {
			out = append(out, m.view())
		}
	}
	return out, err
}

func (s *Server) waitHandled(ctx context.Context, ch *chatState) error {
	return s.waitState(ctx, ch, func() bool { return len(ch.queue) == 0 && ch.inflight == nil })
}
