package webchat

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/go-telegram/bot/models"
)

func ent(typ models.MessageEntityType, off, n int) models.MessageEntity {
	return models.MessageEntity{Type: typ, Offset: off, Length: n}
}

func TestRenderHTML(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		entities []models.MessageEntity
		want     string
	}{
		{"plain text is escaped", `a < b & "c" 'd'`, nil, `a &lt; b &amp; &#34;c&#34; &#39;d&#39;`},
		{"markup in text stays text", "<b>not bold</b><script>x</script>", nil, "&lt;b&gt;not bold&lt;/b&gt;&lt;script&gt;x&lt;/script&gt;"},
		{"bold", "Hello world", []models.MessageEntity{ent("bold", 0, 5)}, "<b>Hello</b> world"},
		{"every simple style", "biusc", []models.MessageEntity{ent("bold", 0, 1), ent("italic", 1, 1), ent("underline", 2, 1), ent("strikethrough", 3, 1), ent("code", 4, 1)},
			"<b>b</b><i>i</i><u>u</u><s>s</s><code>c</code>"},
		{"nested", "bold italic", []models.MessageEntity{ent("italic", 5, 6), ent("bold", 0, 11)}, "<b>bold <i>italic</i></b>"},
		{"same range, outer first as given", "x", []models.MessageEntity{ent("bold", 0, 1), ent("italic", 0, 1)}, "<b><i>x</i></b>"},
		{"crossing entities are closed and reopened", "abcdefghi", []models.MessageEntity{ent("bold", 0, 6), ent("italic", 3, 6)},
			"<b>abc<i>def</i></b><i>ghi</i>"},
		{"UTF-16 offsets after an emoji", "😀 ok", []models.MessageEntity{ent("bold", 3, 2)}, "😀 <b>ok</b>"},
		{"UTF-16 offsets over an emoji", "a😀b", []models.MessageEntity{ent("italic", 1, 2)}, "a<i>😀</i>b"},
		{"question and chosen answer as the bot edits them", "Quanti anni hai?\n✓ Da 25 a 34 anni",
			[]models.MessageEntity{ent("bold", 0, 16), ent("italic", 19, 15)},
			"<b>Quanti anni hai?</b>\n✓ <i>Da 25 a 34 anni</i>"},
		{"right-to-left text passes through", "مرحبا بك", []models.MessageEntity{ent("bold", 0, 5)}, "<b>مرحبا</b> بك"},
		{"text link", "open", []models.MessageEntity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://example.org/?a=1&b=\"2\""}},
			`<a href="https://example.org/?a=1&amp;b=&#34;2&#34;" target="_blank" rel="noopener noreferrer">open</a>`},
		{"javascript link is not a link", "x", []models.MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "javascript:alert(1)"}},
			`<span class="link">x</span>`},
		{"data link is not a link", "x", []models.MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "data:text/html,<b>"}},
			`<span class="link">x</span>`},
		{"tg link", "me", []models.MessageEntity{{Type: "text_link", Offset: 0, Length: 2, URL: "tg://user?id=1"}},
			`<a href="tg://user?id=1" target="_blank" rel="noopener noreferrer">me</a>`},
		{"pre with language", "x := 1", []models.MessageEntity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}},
			`<pre><code class="language-go">x := 1</code></pre>`},
		{"pre with a hostile language", "x", []models.MessageEntity{{Type: "pre", Offset: 0, Length: 1, Language: `"><script>`}}, "<pre>x</pre>"},
		{"spoiler and blockquote", "ab", []models.MessageEntity{ent("spoiler", 0, 1), ent("blockquote", 1, 1)},
			`<span class="spoiler">a</span><blockquote>b</blockquote>`},
		{"bad ranges are ignored, long ones clamped", "abc", []models.MessageEntity{ent("bold", 5, 1), ent("italic", -1, 2), ent("underline", 0, 0), ent("code", 1, 99)},
			"a<code>bc</code>"},
		{"unknown entity types are ignored", "abc", []models.MessageEntity{ent("custom_emoji", 0, 1), ent("future_thing", 1, 1)}, "abc"},
		{"bare URL becomes a link", "see https://example.org/x?a=1&b=2.", nil,
			`see <a href="https://example.org/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">https://example.org/x?a=1&amp;b=2</a>.`},
		{"command becomes tappable", "To erase, send /delete.", nil, `To erase, send <a class="cmd" href="#">/delete</a>.`},
		{"command at the start, with the bot's name", "/start@needsbot_try_bot now", nil, `<a class="cmd" href="#">/start@needsbot_try_bot</a> now`},
		{"no command inside words or numbers", "1/2 and/or a /5", nil, "1/2 and/or a /5"},
		{"command inside directional isolates (Arabic, Urdu)", "اكتب \u2066/delete\u2069.", nil, "اكتب \u2066<a class=\"cmd\" href=\"#\">/delete</a>\u2069."},
		{"command after an opening guillemet", "«/help»", nil, `«<a class="cmd" href="#">/help</a>»`},
		{"nothing tappable inside code", "/start https://x.org", []models.MessageEntity{ent("code", 0, 20)}, "<code>/start https://x.org</code>"},
		{"bot_command entity", "/help", []models.MessageEntity{ent("bot_command", 0, 5)}, `<a class="cmd" href="#">/help</a>`},
		{"newlines stay", "a\nb", nil, "a\nb"},
		{"empty", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderHTML(tt.text, tt.entities); got != tt.want {
				t.Errorf("renderHTML(%q)\n got: %s\nwant: %s", tt.text, got, tt.want)
			}
			checkSafe(t, tt.text, renderHTML(tt.text, tt.entities))
		})
	}
}

var tagRe = regexp.MustCompile(`<(/?)([a-z]+)([^>]*)>`)

// checkSafe asserts what the page relies on: only allowed, balanced tags,
// and the text itself (tags removed, entities decoded) unchanged.
func checkSafe(t *testing.T, text, out string) {
	t.Helper()
	allowed := map[string]bool{"b": true, "i": true, "u": true, "s": true, "code": true, "pre": true, "a": true, "span": true, "blockquote": true}
	var stack []string
	for _, m := range tagRe.FindAllStringSubmatch(out, -1) {
		name := m[2]
		if !allowed[name] {
			t.Fatalf("tag %q in %q", name, out)
		}
		if strings.Contains(strings.ToLower(m[3]), "javascript:") || strings.Contains(m[3], "on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(m[3]) {
			t.Fatalf("dangerous attribute in %q", out)
		}
		if m[1] == "" {
			stack = append(stack, name)
			continue
		}
		if len(stack) == 0 || stack[len(stack)-1] != name {
			t.Fatalf("unbalanced </%s> in %q", name, out)
		}
		stack = stack[:len(stack)-1]
	}
	if len(stack) > 0 {
		t.Fatalf("unclosed %v in %q", stack, out)
	}
	if got := html.UnescapeString(tagRe.ReplaceAllString(out, "")); got != string([]rune(text)) {
		t.Fatalf("text changed:\n got: %q\nwant: %q", got, text)
	}
}

// FuzzRenderHTML throws arbitrary text and entities at the renderer: the
// output must stay well formed, with only allowed tags, and keep the text.
func FuzzRenderHTML(f *testing.F) {
	f.Add("Hello <b>world</b> & /start https://a.b/c", 0, 5, 3, 8, "https://x.org", "go")
	f.Add("مرحبا 😀 نعم", 2, 4, 0, 20, "javascript:x", `"><x`)
	f.Add("a\u0000b\xffc", -3, 9, 1, 1, "", "")
	f.Fuzz(func(t *testing.T, text string, o1, l1, o2, l2 int, link, lang string) {
		ents := []models.MessageEntity{
			{Type: "bold", Offset: o1, Length: l1},
			{Type: "text_link", Offset: o2, Length: l2, URL: link},
			{Type: "pre", Offset: o1, Length: l2, Language: lang},
			{Type: "italic", Offset: o2, Length: l1},
		}
		checkSafe(t, text, renderHTML(text, ents))
	})
}
