package telegramtest

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"
)

// The cases come from TDLib's test/message_entities.cpp, so that the fake's
// errors match Telegram's byte for byte.
func TestParseHTMLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"},
		{"🏟 🏟&lt;<abac aba>", `Unsupported start tag "abac" at byte offset 13`},
		{"🏟 🏟&lt;<abac>", `Unsupported start tag "abac" at byte offset 13`},
		{"🏟 🏟&lt;<i   =aba>", `Empty attribute name in the tag "i" at byte offset 13`},
		{"🏟 🏟&lt;<i    aba>", `Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13`},
		{"🏟 🏟&lt;<i    aba  =  ", `Unclosed start tag "i" at byte offset 13`},
		{"🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"},
		{"🏟 🏟&lt;<i    aba  =  \"&lt;&gt;&quot;>", "Unclosed start tag at byte offset 13"},
		{"🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;>", "Unclosed start tag at byte offset 13"},
		{"🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"},
		{"🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"},
		{"🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"},
		{"🏟 🏟&lt;<i>a</em   >", `Unmatched end tag at byte offset 17, expected "</i>", found "</em>"`},
		{"&#57311;", "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"},
		{"a < b", `Unsupported start tag "" at byte offset 2`},
		{"<br>", `Unsupported start tag "br" at byte offset 0`},
		{"<span>x</span>", `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"<b>x", "Can't find end tag corresponding to start tag b"},
	}
	for _, tt := range tests {
		_, _, _, err := parseHTML(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseHTML(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseHTML(t *testing.T) {
	e := func(typ string, off, n int, arg ...string) entity {
		en := entity{typ: typ, off: off, n: n}
		if len(arg) > 0 {
			en.arg = arg[0]
		}
		return en
	}
	tests := []struct {
		in, text string
		ents     []entity
	}{
		{"", "", nil},
		{"&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", "<>&\"&laquo;&raquo;&#12345678;", nil},
		{"➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", []entity{e("italic", 5, 5)}},
		{"➡️ ➡️<strong>➡️ ➡️</strong>", "➡️ ➡️➡️ ➡️", []entity{e("bold", 5, 5)}},
		{"➡️ ➡️<i>➡️ ➡️</i><b>➡️ ➡️</b>", "➡️ ➡️➡️ ➡️➡️ ➡️", []entity{e("italic", 5, 5), e("bold", 10, 5)}},
		{"🏟 🏟<i>🏟 &lt🏟</i>", "🏟 🏟🏟 <🏟", []entity{e("italic", 5, 6)}},
		{"🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟", []entity{e("italic", 5, 7), e("bold", 9, 3)}},
		{"🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", []entity{e("italic", 6, 1)}},
		{"<a href=telegram.org> </a>", " ", []entity{e("text_link", 0, 1, "http://telegram.org/")}},
		{"<a>telegram.org</a>", "telegram.org", []entity{e("text_link", 0, 12, "http://telegram.org/")}},
		{"🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>", "🏟 🏟<🏟 🏟<", []entity{e("pre", 6, 6), e("code", 6, 6)}},
		{"🏟 🏟&lt;<pre><code class=\"language-fift\">🏟 🏟&lt;</></>", "🏟 🏟<🏟 🏟<", []entity{e("pre", 6, 6, "fift")}},
		{"🏟 🏟&lt;<code class=\"language-fift\"><pre>🏟 🏟&lt;</></>", "🏟 🏟<🏟 🏟<", []entity{e("pre", 6, 6, "fift")}},
		{"<span class=\"tg-spoiler\">s</span><tg-spoiler>t</tg-spoiler>", "st", []entity{e("spoiler", 0, 1), e("spoiler", 1, 1)}},
		{"<blockquote expandable>q</blockquote>", "q", []entity{e("expandable_blockquote", 0, 1)}},
		{"Q&A", "Q&A", nil},
	}
	for _, tt := range tests {
		text, ents, _, err := parseHTML(tt.in)
		if err != nil {
			t.Errorf("parseHTML(%q) error: %v", tt.in, err)
			continue
		}
		if text != tt.text || !slices.Equal(ents, tt.ents) {
			t.Errorf("parseHTML(%q) = %q %v, want %q %v", tt.in, text, ents, tt.text, tt.ents)
		}
	}
}

func TestBareAmpersand(t *testing.T) {
	for in, want := range map[string]int{"Q&A": 1, "a &amp; b": -1, "&laquo;": 0, "x &#38; y & z": 10} {
		if _, _, amp, _ := parseHTML(in); amp != want {
			t.Errorf("parseHTML(%q) bare & at %d, want %d", in, amp, want)
		}
	}
}

func TestFormatCleansLikeTelegram(t *testing.T) {
	tests := []struct {
		in, mode, want string
		ents           []models.MessageEntity
	}{
		{"  hi  \n", "", "hi", nil},
		{"\n<b> bold </b> x\r\n", "HTML", "bold  x", []models.MessageEntity{{Type: "bold", Offset: 0, Length: 5}}},
		{"<i> </i>x", "HTML", "x", nil},
		{"a\tb", "", "a b", nil},
		{"<a href=\"https://t.me\"> </a>x", "HTML", " x", []models.MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://t.me/"}}},
		{"😀 <b>é</b>", "HTML", "😀 é", []models.MessageEntity{{Type: "bold", Offset: 3, Length: 1}}},
	}
	for _, tt := range tests {
		f, err := format(tt.in, formatOptions{parseMode: tt.mode, maxLen: maxTextLength})
		if err != nil {
			t.Errorf("format(%q): %v", tt.in, err)
			continue
		}
		if f.text != tt.want || !slices.Equal(f.entities, tt.ents) {
			t.Errorf("format(%q) = %q %+v, want %q %+v", tt.in, f.text, f.entities, tt.want, tt.ents)
		}
	}
	if _, err := format(" \n <b> </b>", formatOptions{parseMode: "HTML", maxLen: maxTextLength}); err == nil || err.desc != "Bad Request: message must be non-empty" {
		t.Errorf("whitespace-only text: error %v", err)
	}
}

func TestCommandEntities(t *testing.T) {
	tests := []struct {
		in   string
		want []models.MessageEntity
	}{
		{"/start", []models.MessageEntity{{Type: "bot_command", Offset: 0, Length: 6}}},
		{"/start@needsbot_test_bot abc-123", []models.MessageEntity{{Type: "bot_command", Offset: 0, Length: 24}}},
		{"hello", nil},
		{"a/b", nil},
		{"😀 /help me", []models.MessageEntity{{Type: "bot_command", Offset: 3, Length: 5}}},
		{"/x@ab", nil}, // a username needs at least 3 characters
	}
	for _, tt := range tests {
		if got := commandEntities(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("commandEntities(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseHTML(f *testing.F) {
	for _, seed := range []string{"<b>x</b>", "a < b", "&amp;&#x1F600;", "<a href='x.org'>l</a>", "<pre><code class=\"language-go\">x</code></pre>", "<i>\r\n</i> ", "<blockquote expandable>q</blockquote>"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fm, err := format(in, formatOptions{parseMode: "HTML", maxLen: 1 << 30, allowEmpty: true})
		if err != nil {
			if !strings.HasPrefix(err.desc, "Bad Request: ") {
				t.Fatalf("error without prefix: %q", err.desc)
			}
			return
		}
		n := len(utf16.Encode([]rune(fm.text)))
		for _, e := range fm.entities {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				t.Fatalf("entity %+v out of text %q (UTF-16 length %d)", e, fm.text, n)
			}
		}
	})
}
