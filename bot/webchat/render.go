package webchat

import (
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"
)

// renderHTML turns a message's displayed text and its entities (UTF-16
// offsets, as the Bot API gives them) into HTML that is safe to put in the
// page: every character of the text is escaped, and the only markup is the
// one this function writes for known entity types (b, i, u, s, code, pre, a
// with an http(s), tg or mailto link, blockquote and a spoiler span). It
// never parses HTML, so nothing the bot (or a user) sends can inject markup.
//
// Like a Telegram client, it also makes links of bare URLs and /commands in
// plain text; the Bot API leaves detecting those to the client.
func renderHTML(text string, entities []models.MessageEntity) string {
	units := utf16.Encode([]rune(text))
	n := len(units)
	var ents []models.MessageEntity
	for _, e := range entities {
		if e.Length <= 0 || e.Offset < 0 || e.Offset >= n || tagOf(e).open == "" {
			continue
		}
		e.Length = min(e.Length, n-e.Offset)
		ents = append(ents, e)
	}
	// Outer entities first: earlier start, then longer.
	slices.SortStableFunc(ents, func(a, b models.MessageEntity) int {
		if a.Offset != b.Offset {
			return a.Offset - b.Offset
		}
		return (b.Offset + b.Length) - (a.Offset + a.Length)
	})
	cuts := []int{0, n}
	for _, e := range ents {
		cuts = append(cuts, e.Offset, e.Offset+e.Length)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	var b strings.Builder
	var open []int // indexes into ents, outermost first
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		var want []int
		for j, e := range ents {
			if e.Offset <= from && from < e.Offset+e.Length {
				want = append(want, j)
			}
		}
		// Keep the common prefix open; close the rest (innermost first)
		// and open what is new. Properly nested entities never close
		// early; crossing ones are closed and reopened, so the HTML is
		// always well formed.
		k := 0
		for k < len(open) && k < len(want) && open[k] == want[k] {
			k++
		}
		for j := len(open) - 1; j >= k; j-- {
			b.WriteString(tagOf(ents[open[j]]).close)
		}
		for _, j := range want[k:] {
			b.WriteString(tagOf(ents[j]).open)
		}
		open = want
		seg := string(utf16.Decode(units[from:to]))
		plain := true
		for _, j := range want {
			switch ents[j].Type {
			case models.MessageEntityTypeCode, models.MessageEntityTypePre, models.MessageEntityTypeTextLink,
				models.MessageEntityTypeURL, models.MessageEntityTypeBotCommand, models.MessageEntityTypeEmail:
				plain = false
			}
		}
		if plain {
			b.WriteString(linkify(seg))
		} else {
			b.WriteString(html.EscapeString(seg))
		}
	}
	for j := len(open) - 1; j >= 0; j-- {
		b.WriteString(tagOf(ents[open[j]]).close)
	}
	return b.String()
}

type tag struct{ open, close string }

// tagOf is the markup for one entity; an empty open tag means the entity
// is not rendered (its text still is).
func tagOf(e models.MessageEntity) tag {
	switch e.Type {
	case models.MessageEntityTypeBold:
		return tag{"<b>", "</b>"}
	case models.MessageEntityTypeItalic:
		return tag{"<i>", "</i>"}
	case models.MessageEntityTypeUnderline:
		return tag{"<u>", "</u>"}
	case models.MessageEntityTypeStrikethrough:
		return tag{"<s>", "</s>"}
	case models.MessageEntityTypeSpoiler:
		return tag{`<span class="spoiler">`, "</span>"}
	case models.MessageEntityTypeCode:
		return tag{"<code>", "</code>"}
	case models.MessageEntityTypePre:
		if langRe.MatchString(e.Language) {
			return tag{`<pre><code class="language-` + e.Language + `">`, "</code></pre>"}
		}
		return tag{"<pre>", "</pre>"}
	case models.MessageEntityTypeBlockquote:
		return tag{"<blockquote>", "</blockquote>"}
	case models.MessageEntityTypeExpandableBlockquote:
		return tag{`<blockquote class="expandable">`, "</blockquote>"}
	case models.MessageEntityTypeTextLink:
		if href, ok := safeURL(e.URL); ok {
			return tag{`<a href="` + html.EscapeString(href) + `" target="_blank" rel="noopener noreferrer">`, "</a>"}
		}
		return tag{`<span class="link">`, "</span>"}
	case models.MessageEntityTypeBotCommand:
		// The page sends the command when it is tapped, as Telegram does.
		return tag{`<a class="cmd" href="#">`, "</a>"}
	case models.MessageEntityTypeURL, models.MessageEntityTypeMention, models.MessageEntityTypeHashtag,
		models.MessageEntityTypeCashtag, models.MessageEntityTypeEmail, models.MessageEntityTypePhoneNumber:
		return tag{`<span class="` + string(e.Type) + `">`, "</span>"}
	}
	return tag{}
}

var langRe = regexp.MustCompile(`^[A-Za-z0-9_+-]{1,32}$`)

// safeURL accepts only links a chat page may open.
func safeURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false
		}
	case "tg", "mailto":
	default:
		return "", false
	}
	return u.String(), true
}

// autoRe finds what a Telegram client makes tappable in plain text: URLs
// and bot commands. As in Telegram's own parser, a command is a slash not
// preceded by a letter, digit, '_', '/', '<' or '>': so "/delete" inside
// the directional isolates of Arabic or Urdu text is a command too.
var autoRe = regexp.MustCompile(`https?://[^\s<>"']*[^\s<>"'.,;:!?)\]]|(?:^|[^\p{L}\p{N}_/<>])(/[A-Za-z][A-Za-z0-9_]{0,31})(?:@[A-Za-z0-9_]+)?\b`)

// linkify escapes s, turning URLs and /commands into links.
func linkify(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range autoRe.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[0], m[1]
		isCmd := m[2] >= 0
		if isCmd {
			start = m[2] // the command without the space before it
		}
		b.WriteString(html.EscapeString(s[last:start]))
		frag := s[start:end]
		if isCmd {
			b.WriteString(`<a class="cmd" href="#">` + html.EscapeString(frag) + "</a>")
		} else if href, ok := safeURL(frag); ok {
			b.WriteString(`<a href="` + html.EscapeString(href) + `" target="_blank" rel="noopener noreferrer">` + html.EscapeString(frag) + "</a>")
		} else {
			b.WriteString(html.EscapeString(frag))
		}
		last = end
	}
	b.WriteString(html.EscapeString(s[last:]))
	return b.String()
}
