package bot

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/tghtml"
)

// TestCommandsTappableInEveryLanguage renders every message that names a
// command in every language, as displayed (HTML removed), and asks the fake
// Bot API's entity parser (Telegram's rules for bot_command) what it makes
// of it: every "/delete", "/restart"… must come out as a command, also
// inside the directional isolates of right-to-left languages.
// slashCommand finds the slash commands a reader sees at the start of a word.
var slashCommand = regexp.MustCompile(`(^|[\s(«"“\x{2066}\x{2068}])(/[a-z_]+)`)

func TestCommandsTappableInEveryLanguage(t *testing.T) {
	r, _ := testRenderer(t)
	srv := telegramtest.NewServer(telegramtest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	ids := []string{MsgHelp, MsgPrivacy, "q.immigrati.intro", "m.done_already"}
	found := 0
	for i, l := range r.cat.Languages() {
		u := srv.User(int64(9000+i), telegramtest.LanguageCode(l.Code))
		for _, id := range ids {
			shown := tghtml.Plain(r.Text(l.Code, id, nil))
			want := slashCommand.FindAllStringSubmatch(shown, -1)
			if len(want) == 0 {
				continue
			}
			u.Send(shown)
			msgs := u.Messages()
			m := msgs[len(msgs)-1]
			got := commands(m.Text, m.Entities)
			for _, w := range want {
				found++
				if !contains(got, w[2]) {
					t.Errorf("%s %s: %s is not a tappable command (entities %v) in %q", l.Code, id, w[2], got, shown)
				}
			}
		}
	}
	if found < 16 {
		t.Fatalf("only %d commands checked", found)
	}
}

func commands(text string, ents []models.MessageEntity) []string {
	units := utf16.Encode([]rune(text))
	var out []string
	for _, e := range ents {
		if e.Type == models.MessageEntityTypeBotCommand {
			out = append(out, string(utf16.Decode(units[e.Offset:e.Offset+e.Length])))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
