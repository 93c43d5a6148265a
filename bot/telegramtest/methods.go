package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func (s *Server) getMe(*call) (any, *apiError) { return s.bot, nil }

// targetChat resolves chat_id; s.mu must be held.
func (s *Server) targetChat(c *call) (*chatState, *apiError) {
	raw := strings.TrimSpace(c.p.str("chat_id"))
	if raw == "" {
		return nil, badRequest("chat_id is empty")
	}
	var ch *chatState
	if name, ok := strings.CutPrefix(raw, "@"); ok {
		for _, cand := range s.chats {
			if cand.typ != "private" && strings.EqualFold(cand.username, name) {
				ch = cand
				break
			}
		}
	} else if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
		ch = s.chats[id]
	}
	if ch == nil {
		return nil, badRequest("chat not found")
	}
	c.chatID = ch.id
	return ch, nil
}

// writable checks that the bot may write to the chat; s.mu must be held.
func writable(ch *chatState) *apiError {
	if ch.typ != "private" {
		return nil
	}
	if ch.blocked {
		return forbidden("bot was blocked by the user")
	}
	if !ch.started {
		return forbidden("bot can't initiate conversation with a user")
	}
	return nil
}

// admit applies flood control to a new message (perChat) or an edit;
// s.mu must be held.
func (s *Server) admit(ch *chatState, now time.Time, perChat bool) *apiError {
	limits := s.cfg.limits
	chatLimit := limits.Chat
	if ch.typ != "private" {
		chatLimit = limits.Group
	}
	var wait time.Duration
	if perChat {
		wait = ch.bucket.refill(now, chatLimit)
	}
	wait = max(wait, s.global.refill(now, limits.Global))
	if wait > 0 {
		return tooManyRequests(retryAfter(wait))
	}
	if perChat {
		ch.bucket.take(chatLimit)
	}
	s.global.take(limits.Global)
	return nil
}

// formatText parses a text or caption parameter; it needs no lock.
func (s *Server) formatText(c *call, text string, caption bool) (formatted, *apiError) {
	o := formatOptions{
		parseMode:  c.p.str("parse_mode"),
		entities:   c.p.str("entities"),
		maxLen:     maxTextLength,
		tooLong:    "message is too long",
		strictHTML: s.cfg.strictHTML,
		lintAmp: func(offset int) {
			c.warnings = append(c.warnings, fmt.Sprintf("unescaped '&' at byte offset %d of HTML text (Telegram shows it literally; escape it as &amp;)", offset))
		},
		lintLegacy: func() {
			c.warnings = append(c.warnings, `parse_mode "Markdown" is legacy; use HTML`)
		},
	}
	if caption {
		o.entities = c.p.str("caption_entities")
		o.maxLen, o.tooLong, o.allowEmpty = maxCaptionLength, "message caption is too long", true
	}
	return format(text, o)
}

// replyTarget resolves reply_parameters (or the older reply_to_message_id);
// s.mu must be held.
func replyTarget(c *call, ch *chatState) (int, *apiError) {
	var rp struct {
		MessageID                int  `json:"message_id"`
		AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
	}
	if raw := c.p.str("reply_parameters"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &rp); err != nil {
			return 0, badRequest("can't parse reply parameters JSON object")
		}
	} else {
		id, _, err := c.p.int("reply_to_message_id")
		if err != nil {
			return 0, err
		}
		rp.MessageID, rp.AllowSendingWithoutReply = id, c.p.bool("allow_sending_without_reply")
	}
	if rp.MessageID == 0 {
		return 0, nil
	}
	if m := ch.byID[rp.MessageID]; m == nil || m.deleted {
		if rp.AllowSendingWithoutReply {
			return 0, nil
		}
		return 0, badRequest("message to be replied not found")
	}
	return rp.MessageID, nil
}

func noPreview(c *call) (bool, *apiError) {
	if raw := c.p.str("link_preview_options"); raw != "" {
		var o struct {
			IsDisabled bool `json:"is_disabled"`
		}
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return false, badRequest("can't parse link preview options JSON object")
		}
		return o.IsDisabled, nil
	}
	return c.p.bool("disable_web_page_preview"), nil
}

// applyMarkup attaches a parsed reply_markup to a new message; s.mu must be
// held.
func applyMarkup(ch *chatState, m *message, mk markup) {
	switch {
	case mk.isInline:
		m.keyboard = mk.inline
	case mk.isReply:
		ch.replyKeyboard = mk.replyLabels
	case mk.remove:
		ch.replyKeyboard = nil
	}
}

func (s *Server) sendMessage(c *call) (any, *apiError) {
	text := c.p.str("text")
	if text == "" {
		return nil, badRequest("message text is empty")
	}
	f, err := s.formatText(c, text, false)
	if err != nil {
		return nil, err
	}
	mk, err := parseMarkup(c.p.str("reply_markup"), false)
	if err != nil {
		return nil, err
	}
	hidePreview, err := noPreview(c)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	if err := writable(ch); err != nil {
		return nil, err
	}
	replyTo, err := replyTarget(c, ch)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.admit(ch, now, true); err != nil {
		return nil, err
	}
	m := &message{
		fromBot: true, date: now, kind: KindText, text: f,
		source: text, parseMode: c.p.str("parse_mode"), replyTo: replyTo, noPreview: hidePreview,
	}
	applyMarkup(ch, m, mk)
	s.addMessage(ch, m)
	return s.wireMessage(m, true), nil
}

// editTarget finds the bot's message an edit method names; s.mu must be
// held.
func (s *Server) editTarget(c *call) (*chatState, *message, *apiError) {
	if c.p.str("inline_message_id") != "" {
		return nil, nil, badRequest("MESSAGE_ID_INVALID")
	}
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, nil, err
	}
	if err := writable(ch); err != nil {
		return nil, nil, err
	}
	id, ok, err := c.p.int("message_id")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, badRequest("message identifier is not specified")
	}
	m := ch.byID[id]
	if m == nil || m.deleted {
		return nil, nil, badRequest("message to edit not found")
	}
	if !m.fromBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return ch, m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func (s *Server) editMessageText(c *call) (any, *apiError) {
	text := c.p.str("text")
	if text == "" {
		return nil, badRequest("message text is empty")
	}
	f, err := s.formatText(c, text, false)
	if err != nil {
		return nil, err
	}
	// Without reply_markup the edit removes the inline keyboard.
	mk, err := parseMarkup(c.p.str("reply_markup"), true)
	if err != nil {
		return nil, err
	}
	hidePreview, err := noPreview(c)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch, m, err := s.editTarget(c)
	if err != nil {
		return nil, err
	}
	if m.kind != KindText {
		return nil, badRequest("there is no text in the message to edit")
	}
	if m.text.equal(f) && keyboardsEqual(m.keyboard, mk.inline) {
		return nil, badRequest(notModified)
	}
	now := s.now()
	if err := s.admit(ch, now, false); err != nil {
		return nil, err
	}
	m.text, m.source, m.parseMode, m.keyboard = f, text, c.p.str("parse_mode"), mk.inline
	m.noPreview = hidePreview
	m.editDate = now
	ch.bump()
	return s.wireMessage(m, true), nil
}

func (s *Server) editMessageReplyMarkup(c *call) (any, *apiError) {
	mk, err := parseMarkup(c.p.str("reply_markup"), true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, m, err := s.editTarget(c)
	if err != nil {
		return nil, err
	}
	if keyboardsEqual(m.keyboard, mk.inline) {
		return nil, badRequest(notModified)
	}
	now := s.now()
	if err := s.admit(ch, now, false); err != nil {
		return nil, err
	}
	m.keyboard = mk.inline
	m.editDate = now
	ch.bump()
	return s.wireMessage(m, true), nil
}

func (s *Server) answerCallbackQuery(c *call) (any, *apiError) {
	id := c.p.str("callback_query_id")
	text := c.p.str("text")
	if utf8.RuneCountInString(text) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cq := s.callbacks[id]
	now := s.now()
	if cq != nil {
		c.chatID = cq.chat.id
	}
	if cq == nil || cq.answered || now.Sub(cq.at) > s.cfg.callbackTimeout {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	cq.answered, cq.answeredAt = true, now
	cq.text, cq.alert, cq.url = text, c.p.bool("show_alert"), c.p.str("url")
	cq.chat.bump()
	return true, nil
}

func (s *Server) sendMedia(c *call, kind Kind) (any, *apiError) {
	field := string(kind)
	caption := c.p.str("caption")
	f, err := s.formatText(c, caption, true)
	if err != nil {
		return nil, err
	}
	mk, err := parseMarkup(c.p.str("reply_markup"), false)
	if err != nil {
		return nil, err
	}
	up, uploaded := c.p.files[field]
	ref := c.p.str(field)
	if name, ok := strings.CutPrefix(ref, "attach://"); ok {
		up, uploaded = c.p.files[name]
		if !uploaded {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
	}
	var file *File
	if uploaded {
		file = &File{Name: up.name, Data: up.data, MIME: mimeType(up.name, up.data)}
		switch kind {
		case KindPhoto:
			w, h, ok := imageSize(up.data)
			if !ok {
				return nil, badRequest("IMAGE_PROCESS_FAILED")
			}
			file.Width, file.Height = w, h
		case KindDocument:
			if len(up.data) == 0 {
				return nil, badRequest("file must be non-empty")
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	if err := writable(ch); err != nil {
		return nil, err
	}
	switch {
	case uploaded:
	case ref == "":
		return nil, badRequest("there is no %s in the request", field)
	case s.files[ref] != nil:
		file = s.files[ref]
	default:
		u, perr := url.Parse(ref)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
		file = &File{Name: path.Base(u.Path), URL: ref}
	}
	replyTo, err := replyTarget(c, ch)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.admit(ch, now, true); err != nil {
		return nil, err
	}
	if file.ID == "" {
		prefix := "BQAC"
		if kind == KindPhoto {
			prefix = "AgAC"
		}
		s.newFile(prefix, file)
	}
	m := &message{
		fromBot: true, date: now, kind: kind, text: f, file: file,
		source: caption, parseMode: c.p.str("parse_mode"), replyTo: replyTo,
	}
	applyMarkup(ch, m, mk)
	s.addMessage(ch, m)
	return s.wireMessage(m, true), nil
}

// imageSize decodes the dimensions of a PNG, JPEG or GIF image.
func imageSize(data []byte) (int, int, bool) {
	for _, decode := range []func([]byte) (int, int, error){
		func(b []byte) (int, int, error) {
			c, err := png.DecodeConfig(bytes.NewReader(b))
			return c.Width, c.Height, err
		},
		func(b []byte) (int, int, error) {
			c, err := jpeg.DecodeConfig(bytes.NewReader(b))
			return c.Width, c.Height, err
		},
		func(b []byte) (int, int, error) {
			c, err := gif.DecodeConfig(bytes.NewReader(b))
			return c.Width, c.Height, err
		},
	} {
		if w, h, err := decode(data); err == nil && w > 0 && h > 0 {
			return w, h, true
		}
	}
	return 0, 0, false
}

func (s *Server) sendChatAction(c *call) (any, *apiError) {
	action := c.p.str("action")
	switch action {
	case "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
		"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note":
	default:
		return nil, badRequest("wrong parameter action in request")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	if err := writable(ch); err != nil {
		return nil, err
	}
	ch.action, ch.actionAt = action, s.now()
	ch.bump()
	return true, nil
}

func (s *Server) deleteMessage(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	id, _, err := c.p.int("message_id")
	if err != nil {
		return nil, err
	}
	m := ch.byID[id]
	if m == nil || m.deleted {
		return nil, badRequest("message to delete not found")
	}
	if s.now().Sub(m.date) > 48*time.Hour {
		return nil, badRequest("message can't be deleted for everyone")
	}
	m.deleted = true
	ch.bump()
	return true, nil
}

// deleteMessages deletes 1 to 100 messages of a chat; like Telegram, it
// skips those it cannot find or delete (older than 48 hours) and returns
// true unless none of them could be deleted.
func (s *Server) deleteMessages(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	var ids []int
	if e := json.Unmarshal([]byte(c.p.str("message_ids")), &ids); e != nil {
		return nil, badRequest("can't parse message identifiers JSON object")
	}
	if len(ids) < 1 || len(ids) > 100 {
		return nil, badRequest("too many messages to delete")
	}
	n := 0
	for _, id := range ids {
		m := ch.byID[id]
		if m == nil || m.deleted || s.now().Sub(m.date) > 48*time.Hour {
			continue
		}
		m.deleted = true
		n++
	}
	if n == 0 {
		return nil, badRequest("message to delete not found")
	}
	ch.bump()
	return true, nil
}

// botCommand is a command as set with setMyCommands.
type botCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// commandKey identifies a command list: its scope (e.g. "default",
// "all_private_chats", "chat:123") and language ("" for all).
type commandKey struct {
	scope, lang string
}

func commandTarget(c *call) (commandKey, *apiError) {
	k := commandKey{scope: "default", lang: c.p.str("language_code")}
	if k.lang != "" && (len(k.lang) != 2 || strings.ContainsFunc(k.lang, func(r rune) bool { return r < 'a' || r > 'z' })) {
		return k, badRequest("invalid language code specified")
	}
	raw := strings.TrimSpace(c.p.str("scope"))
	if raw == "" {
		return k, nil
	}
	var sc struct {
		Type   string          `json:"type"`
		ChatID json.RawMessage `json:"chat_id"`
		UserID int64           `json:"user_id"`
	}
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return k, badRequest("can't parse BotCommandScope JSON object")
	}
	chat := strings.Trim(string(sc.ChatID), `"`)
	switch sc.Type {
	case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
		k.scope = sc.Type
	case "chat", "chat_administrators":
		k.scope = sc.Type + ":" + chat
	case "chat_member":
		k.scope = fmt.Sprintf("%s:%s:%d", sc.Type, chat, sc.UserID)
	default:
		return k, badRequest("unsupported bot command scope type %q", sc.Type)
	}
	return k, nil
}

func (s *Server) setMyCommands(c *call) (any, *apiError) {
	var cmds []botCommand
	if err := json.Unmarshal([]byte(c.p.str("commands")), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON array")
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for _, cmd := range cmds {
		if n := len(cmd.Command); n < 1 || n > 32 || strings.ContainsFunc(cmd.Command, func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_')
		}) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := utf8.RuneCountInString(cmd.Description); n < 1 || n > 256 {
			return nil, badRequest("command description must be 1-256 characters long")
		}
	}
	k, err := commandTarget(c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cmds) == 0 {
		delete(s.commands, k)
	} else {
		s.commands[k] = cmds
	}
	return true, nil
}

func (s *Server) getMyCommands(c *call) (any, *apiError) {
	k, err := commandTarget(c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := s.commands[k]
	if cmds == nil {
		cmds = []botCommand{}
	}
	return cmds, nil
}

func (s *Server) deleteMyCommands(c *call) (any, *apiError) {
	k, err := commandTarget(c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.commands, k)
	return true, nil
}

// Command is a bot command as set with setMyCommands.
type Command struct {
	Command     string
	Description string
}

// Commands returns the commands set for a scope ("default",
// "all_private_chats", "all_group_chats", "all_chat_administrators",
// "chat:<id>", …) and language code ("" for all languages).
func (s *Server) Commands(scope, languageCode string) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Command
	for _, c := range s.commands[commandKey{scope: scope, lang: languageCode}] {
		out = append(out, Command(c))
	}
	return out
}

func (s *Server) setChatMenuButton(c *call) (any, *apiError) {
	button := json.RawMessage(`{"type":"default"}`)
	if raw := strings.TrimSpace(c.p.str("menu_button")); raw != "" {
		var mb struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(raw), &mb); err != nil {
			return nil, badRequest("can't parse menu button JSON object")
		}
		switch mb.Type {
		case "commands", "web_app", "default":
		default:
			return nil, badRequest("unsupported menu button type %q", mb.Type)
		}
		button = json.RawMessage(raw)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var chatID int64
	if c.p.str("chat_id") != "" {
		ch, err := s.targetChat(c)
		if err != nil {
			return nil, err
		}
		chatID = ch.id
	}
	s.menuButtons[chatID] = button
	return true, nil
}

func (s *Server) getChatMenuButton(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var chatID int64
	if c.p.str("chat_id") != "" {
		ch, err := s.targetChat(c)
		if err != nil {
			return nil, err
		}
		chatID = ch.id
	}
	if b, ok := s.menuButtons[chatID]; ok {
		return b, nil
	}
	if b, ok := s.menuButtons[0]; ok {
		return b, nil
	}
	return json.RawMessage(`{"type":"default"}`), nil
}

// MenuButton returns the menu button set for a chat (0 for the default), as
// JSON, or "" if none was set.
func (s *Server) MenuButton(chatID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.menuButtons[chatID])
}
