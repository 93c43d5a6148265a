package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// Limits on text after entity parsing, in Unicode code points (TDLib counts
// utf8_length of the cleaned text).
const (
	maxTextLength    = 4096
	maxCaptionLength = 1024
)

// entity is a message entity with UTF-16 offsets, as Telegram counts them.
type entity struct {
	typ    string // Bot API type; "pre" with arg set is a pre block with a language
	off, n int
	arg    string // URL of a text_link, language of a pre, id of a custom_emoji
}

// hidden reports whether an entity carries data beyond its text, so that
// Telegram keeps it even around whitespace only.
func (e entity) hidden() bool {
	return e.typ == "text_link" || e.typ == "text_mention" || e.typ == "custom_emoji"
}

func (e entity) model() models.MessageEntity {
	m := models.MessageEntity{Type: models.MessageEntityType(e.typ), Offset: e.off, Length: e.n}
	switch e.typ {
	case "text_link":
		m.URL = e.arg
	case "pre":
		m.Language = e.arg
	case "custom_emoji":
		m.CustomEmojiID = e.arg
	}
	return m
}

// formatted is text as Telegram stores it after parsing and cleaning.
type formatted struct {
	text     string
	entities []models.MessageEntity
}

func (f formatted) equal(g formatted) bool {
	return f.text == g.text && slices.EqualFunc(f.entities, g.entities, func(a, b models.MessageEntity) bool {
		return a.Type == b.Type && a.Offset == b.Offset && a.Length == b.Length &&
			a.URL == b.URL && a.Language == b.Language && a.CustomEmojiID == b.CustomEmojiID
	})
}

// formatOptions say how to turn a text parameter into formatted text.
type formatOptions struct {
	parseMode  string
	entities   string // JSON array, the alternative to parse_mode
	maxLen     int
	tooLong    string // description when longer than maxLen
	allowEmpty bool   // captions may be empty
	strictHTML bool
	lintAmp    func(offset int)
	lintLegacy func()
}

// format parses and cleans text the way the Bot API does before it stores a
// message, returning a Telegram-shaped error description on failure.
func format(text string, o formatOptions) (formatted, *apiError) {
	if !utf8.ValidString(text) {
		return formatted{}, badRequest("strings must be encoded in UTF-8")
	}
	var ents []entity
	switch {
	case o.entities != "":
		var in []models.MessageEntity
		if err := json.Unmarshal([]byte(o.entities), &in); err != nil {
			return formatted{}, badRequest("can't parse entities JSON object")
		}
		for _, e := range in {
			if e.Offset < 0 || e.Length < 0 {
				return formatted{}, badRequest("can't parse entities: entity offset and length must be non-negative")
			}
			ents = append(ents, fromModel(e))
		}
	case o.parseMode == "":
	case strings.EqualFold(o.parseMode, "HTML"):
		plain, parsed, amp, err := parseHTML(text)
		if err != nil {
			return formatted{}, badRequest("can't parse entities: %s", err)
		}
		if amp >= 0 {
			if o.strictHTML {
				return formatted{}, badRequest("can't parse entities: unescaped '&' at byte offset %d (strict mode of the fake; Telegram shows it literally)", amp)
			}
			if o.lintAmp != nil {
				o.lintAmp(amp)
			}
		}
		text, ents = plain, parsed
	case o.parseMode == "MarkdownV2":
	case o.parseMode == "Markdown":
		if o.lintLegacy != nil {
			o.lintLegacy()
		}
	default:
		return formatted{}, badRequest("unsupported parse_mode")
	}

	text, ents = clean(text, ents)
	if text == "" && !o.allowEmpty {
		return formatted{}, badRequest("message must be non-empty")
	}
	if utf8.RuneCountInString(text) > o.maxLen {
		return formatted{}, badRequest("%s", o.tooLong)
	}
	f := formatted{text: text}
	for _, e := range ents {
		f.entities = append(f.entities, e.model())
	}
	return f, nil
}

func fromModel(m models.MessageEntity) entity {
	e := entity{typ: string(m.Type), off: m.Offset, n: m.Length}
	switch m.Type {
	case "text_link":
		e.arg = m.URL
	case "pre":
		e.arg = m.Language
	case "custom_emoji":
		e.arg = m.CustomEmojiID
	}
	return e
}

func isSpace(c byte) bool {
	// Like TDLib's is_space, NUL counts: it is also what at() returns past the end.
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == '\v' || c == '\f'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// parseHTML turns Bot API HTML into plain text and entities. It follows the
// algorithm (and the error messages) of TDLib's parse_html. amp is the byte
// offset of the first '&' that does not start a supported character
// reference, or -1.
func parseHTML(src string) (text string, ents []entity, amp int, err error) {
	at := func(i int) byte {
		if i < len(src) {
			return src[i]
		}
		return 0
	}
	type open struct {
		tag, arg string
		off      int // UTF-16 offset in the output where the tag's text begins
		pos      int // byte offset in the output
	}
	var (
		out   []byte
		off   int
		stack []open
	)
	amp = -1
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '&' {
			if r, n := decodeHTMLEntity(src, i); r != 0 {
				if r >= 0xd800 && r <= 0xdfff {
					return "", nil, -1, fmt.Errorf("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units")
				}
				out = utf8.AppendRune(out, r)
				off += utf16.RuneLen(r)
				i += n - 1
				continue
			}
			if amp < 0 {
				amp = i
			}
		}
		if c != '<' {
			if c&0xc0 != 0x80 { // first byte of a UTF-8 sequence
				off++
				if c >= 0xf0 { // four bytes: a surrogate pair in UTF-16
					off++
				}
			}
			out = append(out, c)
			continue
		}

		begin := i
		i++
		if at(i) != '/' {
			for !isSpace(at(i)) && at(i) != '>' {
				i++
			}
			if at(i) == 0 {
				return "", nil, -1, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			tag := strings.ToLower(src[begin+1 : i])
			switch tag {
			case "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
				"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote":
			default:
				return "", nil, -1, fmt.Errorf("Unsupported start tag %q at byte offset %d", tag, begin)
			}
			arg := ""
			for at(i) != '>' {
				for at(i) != 0 && isSpace(at(i)) {
					i++
				}
				if at(i) == '>' {
					break
				}
				nameBegin := i
				for !isSpace(at(i)) && at(i) != '=' && (tag != "blockquote" || at(i) != '>') {
					i++
				}
				name := src[nameBegin:i]
				if tag == "blockquote" && name == "expandable" {
					// The one attribute Telegram accepts without a value.
					arg = "expandable"
					continue
				}
				if name == "" {
					return "", nil, -1, fmt.Errorf("Empty attribute name in the tag %q at byte offset %d", tag, begin)
				}
				for at(i) != 0 && isSpace(at(i)) {
					i++
				}
				if at(i) != '=' {
					return "", nil, -1, fmt.Errorf("Expected equal sign in declaration of an attribute of the tag %q at byte offset %d", tag, begin)
				}
				i++
				for at(i) != 0 && isSpace(at(i)) {
					i++
				}
				if at(i) == 0 {
					return "", nil, -1, fmt.Errorf("Unclosed start tag %q at byte offset %d", tag, begin)
				}
				var value string
				if q := at(i); q != '\'' && q != '"' {
					// A name token: letters, digits, periods and hyphens.
					tokenBegin := i
					for isAlnum(at(i)) || at(i) == '.' || at(i) == '-' {
						i++
					}
					value = strings.ToLower(src[tokenBegin:i])
					if !isSpace(at(i)) && at(i) != '>' {
						return "", nil, -1, fmt.Errorf("Unexpected end of name token at byte offset %d", tokenBegin)
					}
				} else {
					i++
					var v []byte
					for at(i) != q && at(i) != 0 {
						if at(i) == '&' {
							if r, n := decodeHTMLEntity(src, i); r != 0 {
								v = utf8.AppendRune(v, r)
								i += n
								continue
							}
						}
						v = append(v, at(i))
						i++
					}
					if at(i) == q {
						i++
					}
					value = string(v)
				}
				if at(i) == 0 {
					return "", nil, -1, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
				}
				switch {
				case tag == "a" && name == "href":
					arg = value
				case tag == "code" && name == "class" && strings.HasPrefix(value, "language-"):
					arg = value[len("language-"):]
				case tag == "span" && name == "class" && strings.HasPrefix(value, "tg-"):
					arg = value[len("tg-"):]
				case tag == "tg-emoji" && name == "emoji-id":
					arg = value
				}
			}
			if tag == "span" && arg != "spoiler" {
				return "", nil, -1, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
			}
			stack = append(stack, open{tag: tag, arg: arg, off: off, pos: len(out)})
			continue
		}

		// An end tag.
		if len(stack) == 0 {
			return "", nil, -1, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
		}
		for !isSpace(at(i)) && at(i) != '>' {
			i++
		}
		endTag := strings.ToLower(src[begin+2 : i])
		for isSpace(at(i)) && at(i) != 0 {
			i++
		}
		if at(i) != '>' {
			return "", nil, -1, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
		}
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if endTag != "" && endTag != top.tag {
			return "", nil, -1, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.tag, endTag)
		}
		if off <= top.off {
			continue // an empty entity is dropped
		}
		e := entity{off: top.off, n: off - top.off}
		last := func() *entity {
			if len(ents) > 0 && ents[len(ents)-1].off == e.off && ents[len(ents)-1].n == e.n {
				return &ents[len(ents)-1]
			}
			return nil
		}
		switch top.tag {
		case "i", "em":
			e.typ = "italic"
		case "b", "strong":
			e.typ = "bold"
		case "s", "strike", "del":
			e.typ = "strikethrough"
		case "u", "ins":
			e.typ = "underline"
		case "tg-spoiler", "span":
			e.typ = "spoiler"
		case "tg-emoji":
			if id, err := strconv.ParseInt(top.arg, 10, 64); err != nil || id == 0 {
				return "", nil, -1, fmt.Errorf("Invalid custom emoji identifier specified")
			}
			e.typ, e.arg = "custom_emoji", top.arg
		case "a":
			link := top.arg
			if link == "" {
				link = string(out[top.pos:])
			}
			link = checkedLink(link)
			if link == "" {
				continue // Telegram silently drops links it cannot use
			}
			e.typ, e.arg = "text_link", link
		case "pre":
			// <pre><code class="language-x"> is one pre entity with a language.
			if l := last(); l != nil && l.typ == "code" && l.arg != "" {
				l.typ = "pre"
				continue
			}
			e.typ = "pre"
		case "code":
			if l := last(); l != nil && l.typ == "pre" && l.arg == "" && top.arg != "" {
				l.arg = top.arg
				continue
			}
			e.typ, e.arg = "code", top.arg
		case "blockquote":
			e.typ = "blockquote"
			if top.arg == "expandable" {
				e.typ = "expandable_blockquote"
			}
		}
		ents = append(ents, e)
	}
	if len(stack) > 0 {
		return "", nil, -1, fmt.Errorf("Can't find end tag corresponding to start tag %s", stack[len(stack)-1].tag)
	}
	for i := range ents {
		if ents[i].typ == "code" {
			ents[i].arg = "" // a language only survives inside <pre>
		}
	}
	sortEntities(ents)
	return string(out), ents, amp, nil
}

// decodeHTMLEntity decodes the character reference at s[pos] ('&'): the four
// named ones Telegram supports and numeric ones. It returns 0 when there is
// none, in which case the '&' is literal text.
func decodeHTMLEntity(s string, pos int) (r rune, n int) {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	end := pos + 1
	var code uint64
	if at(pos+1) == '#' {
		end++
		if at(pos+2) == 'x' {
			end++
			for d := hexDigit(at(end)); d >= 0; d = hexDigit(at(end)) {
				code = min(code*16+uint64(d), 1<<32)
				end++
			}
		} else {
			for c := at(end); '0' <= c && c <= '9'; c = at(end) {
				code = min(code*10+uint64(c-'0'), 1<<32)
				end++
			}
		}
		if code == 0 || code >= 0x10ffff || end-pos >= 10 {
			return 0, 0
		}
	} else {
		for c := at(end); 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'; c = at(end) {
			end++
		}
		switch s[pos+1 : end] {
		case "lt":
			code = '<'
		case "gt":
			code = '>'
		case "amp":
			code = '&'
		case "quot":
			code = '"'
		default:
			return 0, 0
		}
	}
	if at(end) == ';' {
		end++
	}
	return rune(code), end - pos
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// checkedLink approximates TDLib's link check: it adds a missing http://
// scheme and a missing root path, and rejects what is not a usable link.
func checkedLink(link string) string {
	link = strings.TrimSpace(link)
	if link == "" {
		return ""
	}
	if !strings.Contains(link, "://") && !strings.HasPrefix(strings.ToLower(link), "tg:") {
		link = "http://" + link
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp", "ton":
		if u.Host == "" || !strings.Contains(u.Host, ".") && u.Hostname() != "localhost" {
			return ""
		}
		if u.Path == "" {
			u.Path = "/"
		}
		return u.String()
	case "tg":
		return link
	}
	return ""
}

// sortEntities orders entities as Telegram does: by offset, longer first,
// then by TDLib's type priority.
func sortEntities(ents []entity) {
	priority := func(e entity) int {
		switch e.typ {
		case "blockquote", "expandable_blockquote":
			return 0
		case "pre":
			if e.arg != "" {
				return 10
			}
			return 11
		case "code":
			return 20
		case "text_link", "text_mention":
			return 49
		case "bold":
			return 90
		case "italic":
			return 91
		case "underline":
			return 92
		case "strikethrough":
			return 93
		case "spoiler":
			return 94
		case "custom_emoji":
			return 99
		}
		return 50
	}
	slices.SortStableFunc(ents, func(a, b entity) int {
		if a.off != b.off {
			return a.off - b.off
		}
		if a.n != b.n {
			return b.n - a.n
		}
		return priority(a) - priority(b)
	})
}

// clean applies what TDLib's fix_formatted_text does to a message before it
// is stored: '\r' is removed and other control characters become spaces,
// entities lose their leading whitespace and disappear when nothing else is
// left (unless they carry data, like links), and the text is trimmed of
// spaces and newlines at the end and, up to the first entity, at the start.
func clean(text string, ents []entity) (string, []entity) {
	in := utf16.Encode([]rune(text))
	out := make([]uint16, 0, len(in))
	newIndex := make([]int, len(in)+1)
	for i, c := range in {
		newIndex[i] = len(out)
		if c == '\r' {
			continue
		}
		if c < 32 && c != '\n' {
			c = ' '
		}
		out = append(out, c)
	}
	newIndex[len(in)] = len(out)

	ws := func(c uint16) bool { return c == ' ' || c == '\n' }
	// nextText[i] is the index of the first non-whitespace unit at or after i.
	nextText := make([]int, len(out)+1)
	nextText[len(out)] = len(out)
	for i := len(out) - 1; i >= 0; i-- {
		nextText[i] = nextText[i+1]
		if !ws(out[i]) {
			nextText[i] = i
		}
	}
	kept := ents[:0:0]
	for _, e := range ents {
		start := min(max(e.off, 0), len(in))
		end := min(max(e.off+e.n, start), len(in))
		e.off, e.n = newIndex[start], newIndex[end]-newIndex[start]
		if !e.hidden() {
			// Entities lose leading whitespace, and vanish if that is all.
			end := e.off + e.n
			e.off = min(nextText[e.off], end)
			e.n = end - e.off
		}
		if e.n > 0 {
			kept = append(kept, e)
		}
	}

	last := len(out) - 1
	for last >= 0 && ws(out[last]) {
		last--
	}
	if last < 0 {
		return "", nil
	}
	out = out[:last+1]
	trimmed := kept[:0]
	for _, e := range kept {
		if e.off >= len(out) {
			continue
		}
		e.n = min(e.n, len(out)-e.off)
		trimmed = append(trimmed, e)
	}

	first, limit := 0, len(out)
	for _, e := range trimmed {
		limit = min(limit, e.off)
	}
	for first < limit && ws(out[first]) {
		first++
	}
	for i := range trimmed {
		trimmed[i].off -= first
	}
	sortEntities(trimmed)
	if len(trimmed) == 0 {
		trimmed = nil
	}
	return string(utf16.Decode(out[first:])), trimmed
}

// commandEntities finds bot commands the way Telegram does in a user's text:
// "/" not preceded by a word character, "/", "<" or ">", 1–64 of [A-Za-z0-9_],
// optionally "@" and 3–32 of them, not followed by a word character, "/",
// "<" or ">".
func commandEntities(text string) []models.MessageEntity {
	runes := []rune(text)
	word := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	cmdChar := func(r rune) bool { return r < 128 && (isAlnum(byte(r)) || r == '_') }
	boundary := func(r rune) bool { return word(r) || r == '/' || r == '<' || r == '>' }
	var out []models.MessageEntity
	for i := 0; i < len(runes); i++ {
		if runes[i] != '/' || i > 0 && boundary(runes[i-1]) {
			continue
		}
		j := i + 1
		for j < len(runes) && cmdChar(runes[j]) {
			j++
		}
		if n := j - i - 1; n < 1 || n > 64 {
			continue
		}
		if j < len(runes) && runes[j] == '@' {
			k := j + 1
			for k < len(runes) && cmdChar(runes[k]) {
				k++
			}
			if n := k - j - 1; n < 3 || n > 32 {
				continue
			}
			j = k
		}
		if j < len(runes) && boundary(runes[j]) {
			continue
		}
		out = append(out, models.MessageEntity{
			Type:   models.MessageEntityTypeBotCommand,
			Offset: utf16Len(runes[:i]),
			Length: utf16Len(runes[i:j]),
		})
		i = j - 1
	}
	return out
}

func utf16Len(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += utf16.RuneLen(r)
	}
	return n
}
