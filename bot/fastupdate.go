package bot

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	tgmodels "github.com/go-telegram/bot/models"
)

// The hand-written update decoder (decodeUpdate).
//
// It knows the keys of the updates a questionnaire bot gets all day — a
// message or an edited message (id, sender, date, chat, text, entities,
// edit date) and a callback query (its message read as id, date and chat
// only, as decodeUpdateJSON does) — checks every member as encoding/json
// would check it decoding into go-telegram's structs, and fills the bot's
// Update as updateOf reads those structs (what the bot does not read — the
// other names, the entities, the dates — is checked and not kept).
// Anything else makes it report !ok, and the caller
// decodes with encoding/json: an unknown key (so a new Telegram field can
// never be dropped silently), a key with an upper-case letter, an escape
// or a non-ASCII byte (encoding/json matches keys case-insensitively), a
// duplicate key, null, a number that is not a plain integer of at most 18
// digits, a string with invalid UTF-8, a type that does not fit, nesting
// deeper than maxSkipDepth, anything but white space after the update.
// Only the callback query's message may hold other keys: their values are
// checked to be valid JSON and skipped, as encoding/json skips them.

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes c after white space.
func (s *scanner) lit(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// member reads the key of an object's next member, up to its colon; first
// is true for the object's first member. more is false at the object's
// end. A key that is not plain lower-case ASCII is not ok.
func (s *scanner) member(first bool) (key []byte, more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, false, false
	}
	switch c := s.b[s.i]; {
	case c == '}':
		s.i++
		return nil, false, true
	case first:
	case c == ',':
		s.i++
		s.ws()
	default:
		return nil, false, false
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c == '"' {
			break
		}
		if c < 0x20 || c >= 0x80 || c == '\\' || ('A' <= c && c <= 'Z') {
			return nil, false, false
		}
	}
	if s.i >= len(s.b) {
		return nil, false, false
	}
	key = s.b[start:s.i]
	s.i++
	if !s.lit(':') {
		return nil, false, false
	}
	return key, true, true
}

// once records key number k of an object in seen; a duplicate is not ok.
func once(seen *uint32, k uint) bool {
	if *seen&(1<<k) != 0 {
		return false
	}
	*seen |= 1 << k
	return true
}

// integer reads an integer of at most 18 digits (no fraction, no
// exponent: encoding/json refuses those for an int).
func (s *scanner) integer() (int64, bool) {
	s.ws()
	neg := false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start := s.i
	var n int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func (s *scanner) boolean() (v, ok bool) {
	s.ws()
	switch {
	case hasPrefix(s.b[s.i:], "true"):
		s.i += 4
		return true, true
	case hasPrefix(s.b[s.i:], "false"):
		s.i += 5
		return false, true
	}
	return false, false
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// str reads a string. The strings that recur in every update (a chat's
// type, a language code, an entity's type) are not allocated again.
func (s *scanner) str() (string, bool) {
	raw, escaped, ok := s.rawString()
	if !ok {
		return "", false
	}
	if !escaped {
		return common(raw), true
	}
	return unquote(raw)
}

// common returns raw as a string, without allocating one for the
// strings that recur in every update.
func common(raw []byte) string {
	switch string(raw) {
	case "private":
		return "private"
	case "group":
		return "group"
	case "supergroup":
		return "supergroup"
	case "channel":
		return "channel"
	case "bot_command":
		return "bot_command"
	case "en":
		return "en"
	case "it":
		return "it"
	case "de":
		return "de"
	case "fr":
		return "fr"
	case "es":
		return "es"
	case "pt":
		return "pt"
	case "ru":
		return "ru"
	case "uk":
		return "uk"
	case "ar":
		return "ar"
	case "fa":
		return "fa"
	case "tr":
		return "tr"
	case "zh":
		return "zh"
	case "ro":
		return "ro"
	case "pl":
		return "pl"
	case "sq":
		return "sq"
	case "ur":
		return "ur"
	case "bn":
		return "bn"
	case "/start":
		return "/start"
	}
	return string(raw)
}

// rawString reads a string token: its bytes between the quotes and
// whether it holds escapes. Raw control characters are not ok (invalid
// JSON), nor is invalid UTF-8 (encoding/json would replace it).
func (s *scanner) rawString() (raw []byte, escaped, ok bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, escaped, true
		case c == '\\':
			escaped = true
			s.i += 2 // the escape is checked by unquote or skipString
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
			s.i++
		default:
			s.i++
		}
	}
	return nil, false, false
}

// unquote decodes a string's escapes as encoding/json does (a lone or
// broken surrogate becomes U+FFFD); a malformed escape is not ok.
func unquote(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			if r < 0 {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 := hex4(raw[i+2:])
					if r2 < 0 {
						return "", false
					}
					if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
						out = utf8.AppendRune(out, d)
						i += 6
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

// hex4 reads the 4 hex digits of a \u escape; -1 when they are not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// maxSkipDepth bounds the nesting of a skipped value.
const maxSkipDepth = 64

// skip passes over any valid JSON value (checking it as encoding/json's
// scanner would).
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == end {
			s.i++
			return true
		}
		for {
			if c == '{' && (!s.skipString() || !s.lit(':')) {
				return false
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case end:
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) word(w string) bool {
	if hasPrefix(s.b[s.i:], w) {
		s.i += len(w)
		return true
	}
	return false
}

// skipString passes over a string, checking its escapes (invalid UTF-8
// is valid JSON syntax: encoding/json only replaces it).
func (s *scanner) skipString() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if hex4(s.b[s.i+2:]) < 0 {
					return false
				}
				s.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			s.i++
		}
	}
	return false
}

// number passes over a JSON number.
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// fastUpdate decodes a webhook body; !ok: decode it with encoding/json.
func fastUpdate(b []byte) (*Update, bool) {
	s := scanner{b: b}
	u, ok := s.update()
	if !ok || !s.end() {
		return nil, false
	}
	return u, true
}

// fastUpdates decodes a getUpdates response; !fast: decode it with
// encoding/json.
func fastUpdates(b []byte) (ok bool, result []*Update, description string, fast bool) {
	s := scanner{b: b}
	if !s.lit('{') {
		return false, nil, "", false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, good := s.member(first)
		if !good {
			return false, nil, "", false
		}
		if !more {
			break
		}
		switch string(key) {
		case "ok":
			if good = once(&seen, 0); good {
				ok, good = s.boolean()
			}
		case "description":
			if good = once(&seen, 1); good {
				description, good = s.str()
			}
		case "result":
			if !once(&seen, 2) || !s.lit('[') {
				return false, nil, "", false
			}
			result = []*Update{}
			for first := true; ; first = false {
				s.ws()
				if s.i < len(s.b) && s.b[s.i] == ']' {
					s.i++
					break
				}
				if !first && !s.lit(',') {
					return false, nil, "", false
				}
				u, good := s.update()
				if !good {
					return false, nil, "", false
				}
				result = append(result, u)
			}
		default:
			good = false
		}
		if !good {
			return false, nil, "", false
		}
	}
	if !s.end() {
		return false, nil, "", false
	}
	return ok, result, description, true
}

// fastMessage is what the bot reads of a message (or of a tap's message:
// its id, date and chat).
type fastMessage struct {
	id, date int
	chat     int64
	chatType tgmodels.ChatType
	hasFrom  bool
	from     fastUser
	text     string
}

type fastUser struct {
	id         int64
	name, lang string
}

type fastCallback struct {
	query, data string
	from        fastUser
	hasMsg      bool // a message, accessible or not
	msg         fastMessage
}

// update reads one update object into an Update as updateOf reads the
// library's: the message before the edited message before the tap.
func (s *scanner) update() (*Update, bool) {
	if !s.lit('{') {
		return nil, false
	}
	var (
		id            int64
		seen          uint32
		message, edit fastMessage
		cq            fastCallback
	)
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		switch string(key) {
		case "update_id":
			if ok = once(&seen, 0); ok {
				id, ok = s.integer()
			}
		case "message":
			if ok = once(&seen, 1); ok {
				ok = s.message(&message)
			}
		case "edited_message":
			if ok = once(&seen, 2); ok {
				ok = s.message(&edit)
			}
		case "callback_query":
			if ok = once(&seen, 3); ok {
				ok = s.callback(&cq)
			}
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
	u := &Update{ID: id}
	switch {
	case seen&(1<<1) != 0:
		m := &message
		u.Kind, u.Chat, u.ChatType, u.MsgID, u.Text = upMessage, m.chat, m.chatType, m.id, m.text
		if m.hasFrom {
			u.HasFrom, u.From, u.Name, u.Lang = true, m.from.id, m.from.name, m.from.lang
		}
	case seen&(1<<2) != 0:
		m := &edit
		u.Kind, u.Chat, u.ChatType = upEdited, m.chat, m.chatType
		if m.hasFrom {
			u.HasFrom, u.From, u.Name, u.Lang = true, m.from.id, m.from.name, m.from.lang
		}
	case seen&(1<<3) != 0:
		u.Kind, u.Query, u.Data = upCallback, cq.query, cq.data
		u.HasFrom, u.From, u.Name, u.Lang = true, cq.from.id, cq.from.name, cq.from.lang
		u.Chat = cq.from.id
		// A message older than 48 h is "inaccessible" (date 0).
		if cq.hasMsg && cq.msg.date != 0 {
			u.HasMsg, u.MsgID, u.Chat, u.ChatType = true, cq.msg.id, cq.msg.chat, cq.msg.chatType
		}
	}
	return u, true
}

// message reads a message's members: all of them are checked as
// encoding/json would decode them into the library's Message; what the bot
// does not read (the sender's other names, the entities, the dates) is not
// kept.
func (s *scanner) message(m *fastMessage) bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		var n int64
		switch string(key) {
		case "message_id":
			if ok = once(&seen, 0); ok {
				n, ok = s.integer()
				m.id = int(n)
			}
		case "from":
			if ok = once(&seen, 1); ok {
				m.hasFrom = true
				ok = s.user(&m.from)
			}
		case "date":
			if ok = once(&seen, 2); ok {
				_, ok = s.integer()
			}
		case "chat":
			if ok = once(&seen, 3); ok {
				ok = s.chat(m)
			}
		case "text":
			if ok = once(&seen, 4); ok {
				m.text, ok = s.str()
			}
		case "entities":
			if ok = once(&seen, 5); ok {
				ok = s.entities()
			}
		case "edit_date":
			if ok = once(&seen, 6); ok {
				_, ok = s.integer()
			}
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// user reads a user; the bot keeps its id, first name and language.
func (s *scanner) user(u *fastUser) bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		switch string(key) {
		case "id":
			if ok = once(&seen, 0); ok {
				u.id, ok = s.integer()
			}
		case "is_bot":
			if ok = once(&seen, 1); ok {
				_, ok = s.boolean()
			}
		case "first_name":
			if ok = once(&seen, 2); ok {
				u.name, ok = s.str()
			}
		case "last_name":
			ok = once(&seen, 3) && s.skipString()
		case "username":
			ok = once(&seen, 4) && s.skipString()
		case "language_code":
			if ok = once(&seen, 5); ok {
				u.lang, ok = s.str()
			}
		case "is_premium":
			if ok = once(&seen, 6); ok {
				_, ok = s.boolean()
			}
		case "added_to_attachment_menu":
			if ok = once(&seen, 7); ok {
				_, ok = s.boolean()
			}
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// chat reads a chat into m; the bot keeps its id and type.
func (s *scanner) chat(m *fastMessage) bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		var v string
		switch string(key) {
		case "id":
			if ok = once(&seen, 0); ok {
				m.chat, ok = s.integer()
			}
		case "type":
			if ok = once(&seen, 1); ok {
				v, ok = s.str()
				m.chatType = tgmodels.ChatType(v)
			}
		case "title":
			ok = once(&seen, 2) && s.skipString()
		case "username":
			ok = once(&seen, 3) && s.skipString()
		case "first_name":
			ok = once(&seen, 4) && s.skipString()
		case "last_name":
			ok = once(&seen, 5) && s.skipString()
		case "is_forum":
			if ok = once(&seen, 6); ok {
				_, ok = s.boolean()
			}
		case "is_direct_messages":
			if ok = once(&seen, 7); ok {
				_, ok = s.boolean()
			}
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// entities checks a message's entities (the bot reads commands from the
// text); one with a user (a text mention) is left to encoding/json.
func (s *scanner) entities() bool {
	if !s.lit('[') {
		return false
	}
	for first := true; ; first = false {
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		if !first && !s.lit(',') {
			return false
		}
		if !s.entity() {
			return false
		}
	}
}

func (s *scanner) entity() bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		switch string(key) {
		case "type":
			ok = once(&seen, 0) && s.skipString()
		case "offset":
			if ok = once(&seen, 1); ok {
				_, ok = s.integer()
			}
		case "length":
			if ok = once(&seen, 2); ok {
				_, ok = s.integer()
			}
		case "url":
			ok = once(&seen, 3) && s.skipString()
		case "language":
			ok = once(&seen, 4) && s.skipString()
		case "custom_emoji_id":
			ok = once(&seen, 5) && s.skipString()
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) callback(cq *fastCallback) bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		switch string(key) {
		case "id":
			if ok = once(&seen, 0); ok {
				cq.query, ok = s.str()
			}
		case "from":
			if ok = once(&seen, 1); ok {
				ok = s.user(&cq.from)
			}
		case "message":
			if ok = once(&seen, 2); ok {
				cq.hasMsg = true
				ok = s.leanMessage(&cq.msg)
			}
		case "inline_message_id":
			ok = once(&seen, 3) && s.skipString()
		case "chat_instance":
			ok = once(&seen, 4) && s.skipString()
		case "data":
			if ok = once(&seen, 5); ok {
				cq.data, ok = s.str()
			}
		case "game_short_name":
			ok = once(&seen, 6) && s.skipString()
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// leanMessage reads a callback query's message as leanMessage: its id,
// date and chat; other members are skipped.
func (s *scanner) leanMessage(m *fastMessage) bool {
	if !s.lit('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		var n int64
		switch string(key) {
		case "message_id":
			if ok = once(&seen, 0); ok {
				n, ok = s.integer()
				m.id = int(n)
			}
		case "date":
			if ok = once(&seen, 1); ok {
				n, ok = s.integer()
				m.date = int(n)
			}
		case "chat":
			if ok = once(&seen, 2); ok {
				ok = s.chat(m)
			}
		default:
			ok = s.skip(0)
		}
		if !ok {
			return false
		}
	}
}
