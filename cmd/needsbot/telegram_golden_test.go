package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/golden"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
)

// TestGoldenTelegram walks the respondents' questionnaire through the real
// `needsbot run` in Italian, Arabic and Persian and compares what Telegram
// receives — every Bot API call to the respondent's chat: the HTML, the
// right-to-left marks and isolates, the inline keyboards with their callback
// data, edits and callback answers — with
// testdata/transcripts/telegram_<lang>.golden, beside the simulate
// transcripts (which show the interview; these show the bot's Telegram
// output). The walk is a fixed policy over the keyboards (see
// telegramWalker), so the goldens change only when the bot's output does.
// Run `make update` (or this test with -update) after an intended change.
func TestGoldenTelegram(t *testing.T) {
	t.Parallel()
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	h := fast(newHarness(t, telegramtest.WithoutRateLimits(), telegramtest.WithRequestLog()))
	h.start()
	for i, lang := range []string{"it", "ar", "fa"} {
		t.Run(lang, func(t *testing.T) {
			l, ok := cat.Language(lang)
			if !ok {
				t.Fatalf("no %s in the catalog", lang)
			}
			u := h.tg.User(int64(8_800_001+i), telegramtest.FirstName("R"), telegramtest.LanguageCode(lang))
			w := &telegramWalker{r: &respondent{t: t, u: u}, tg: h.tg, lang: lang, rtl: l.RTL, from: len(h.tg.Requests())}
			w.walk()
			golden.Check(t, "testdata/transcripts/telegram_"+lang+".golden", []byte(w.transcript(h.tg.Requests())))
		})
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Errorf("Bot API rules violated: %+v", vs)
	}
}

// telegramWalker answers the interview by a fixed policy over the keyboard
// the bot shows, read through its callback data: the suggested language;
// the first option in reading order that keeps the interview going (not
// "no", "under 18", "prefer not to answer" or "none"); in a multiple
// choice the first such option, then Done (another option if Done is
// refused); OK on notes; a short text where only typing answers.
type telegramWalker struct {
	r       *respondent
	tg      *telegramtest.Server
	lang    string
	rtl     bool
	from    int          // the server's requests before the walk (earlier walks)
	actions []walkAction // what the user did, to interleave with the calls
}

// walkAction is one user action and how many requests the bot had
// received before it.
type walkAction struct {
	before int
	what   string
}

func (w *telegramWalker) walk() {
	t, u := w.r.t, w.r.u
	w.act("/start", func() { w.r.send("/start") })
	lastDone := false
	for n := 0; ; n++ {
		if n == 120 {
			t.Fatalf("interview did not end:\n%s", u.Transcript())
		}
		q := w.r.question()
		keys := w.keys(q)
		var lang, choose, toggle, ack, done *walkKey
		checked := 0
		for i := range keys {
			k := &keys[i]
			switch k.cb.Kind {
			case bot.CbLanguage:
				if k.cb.Option == w.lang {
					lang = k
				}
			case bot.CbChoose:
				if !avoid(k.cb.Option) {
					choose = first(choose, k)
				}
			case bot.CbToggle:
				if strings.HasPrefix(k.text, "✅") {
					checked++
				} else if !avoid(k.cb.Option) {
					toggle = first(toggle, k)
				}
			case bot.CbAck:
				ack = first(ack, k)
			case bot.CbDone:
				done = k
			}
		}
		hasAnswerKeys := lang != nil || choose != nil || toggle != nil || ack != nil || done != nil
		switch {
		case lang != nil:
			w.tap(q, lang)
		case ack != nil:
			w.tap(q, ack)
		case toggle != nil && (checked == 0 || lastDone):
			w.tap(q, toggle)
			lastDone = false
			continue
		case done != nil:
			w.tap(q, done)
			lastDone = true
			continue
		case choose != nil:
			w.tap(q, choose)
		case len(keys) > 0 && !hasAnswerKeys && w.onlyNavigation(keys):
			// A question answered by typing (its keys are Back/Skip).
			w.act("send “Roma”", func() { w.r.send("Roma") })
		default:
			return // no interview keyboard left: the interview is over
		}
		lastDone = false
	}
}

// walkKey is a key of the live keyboard with its decoded callback data.
type walkKey struct {
	text, data string
	cb         bot.Callback
}

func first(cur, k *walkKey) *walkKey {
	if cur != nil {
		return cur
	}
	return k
}

// avoid names the options the walk does not take, so that it reaches the
// end of the questionnaire through its main path.
func avoid(option string) bool {
	return slices.Contains([]string{"no", "under18", "pnta", "none", "nessuno", "altro", "other"}, option)
}

// keys lists the live keyboard in reading order (right to left in
// right-to-left languages, whose rows the bot mirrors).
func (w *telegramWalker) keys(q telegramtest.Message) []walkKey {
	var out []walkKey
	for _, row := range q.Buttons {
		row = slices.Clone(row)
		if w.rtl {
			slices.Reverse(row)
		}
		for _, b := range row {
			cb, err := bot.DecodeCallback(b.Data)
			if err != nil {
				continue
			}
			out = append(out, walkKey{text: b.Text, data: b.Data, cb: cb})
		}
	}
	return out
}

func (w *telegramWalker) onlyNavigation(keys []walkKey) bool {
	for _, k := range keys {
		if k.cb.Kind != bot.CbBack && k.cb.Kind != bot.CbSkip {
			return false
		}
	}
	return true
}

func (w *telegramWalker) tap(q telegramtest.Message, k *walkKey) {
	w.act(fmt.Sprintf("tap “%s” on message %d", k.text, q.ID), func() {
		if err := w.r.u.TapIn(q.ID, k.text); err != nil {
			w.r.t.Fatalf("tap %q: %v\n%s", k.text, err, w.r.u.Transcript())
		}
		w.r.wait()
	})
}

// act records a user action, with how many calls to the chat came
// before it, and does it.
func (w *telegramWalker) act(what string, do func()) {
	w.actions = append(w.actions, walkAction{before: len(w.chatRequests(w.tg.Requests())), what: marks.Replace(what)})
	do()
}

// chatRequests keeps the calls about the walker's chat: those naming it,
// the callback answers (the walks run one at a time, so they are this
// chat's) and a command menu scoped to it. Polling and start-up calls are
// left out.
func (w *telegramWalker) chatRequests(all []telegramtest.Request) []telegramtest.Request {
	id := fmt.Sprint(w.r.u.ID())
	var out []telegramtest.Request
	for _, r := range all[w.from:] {
		switch {
		case r.Method == "getUpdates":
		case r.ChatID == w.r.u.ID(), r.Method == "answerCallbackQuery",
			r.Method == "setMyCommands" && strings.Contains(r.Params["scope"], id):
			out = append(out, r)
		}
	}
	return out
}

// transcript writes the chat's calls, with the user's actions between
// them. Invisible directional marks are written as {RLM}, {LRI}, {FSI}
// and {PDI}, so that the golden shows where they are.
func (w *telegramWalker) transcript(all []telegramtest.Request) string {
	reqs := w.chatRequests(all)
	var b strings.Builder
	a := 0
	for i := 0; i <= len(reqs); i++ {
		for ; a < len(w.actions) && w.actions[a].before <= i; a++ {
			fmt.Fprintf(&b, "\n» %s\n", w.actions[a].what)
		}
		if i == len(reqs) {
			break
		}
		writeRequest(&b, reqs[i])
	}
	return b.String()
}

// marks shows the invisible directional marks.
var marks = strings.NewReplacer(tghtml.RLM, "{RLM}", tghtml.LRI, "{LRI}", tghtml.FSI, "{FSI}", tghtml.PDI, "{PDI}")

func writeRequest(b *strings.Builder, r telegramtest.Request) {
	fmt.Fprintf(b, "%s", r.Method)
	if r.Code != 0 {
		fmt.Fprintf(b, " → error %d", r.Code)
	}
	var rest []string
	for k, v := range r.Params {
		switch k {
		case "chat_id", "text", "reply_markup", "callback_query_id", "scope":
			// chat_id is the walker's; callback query ids are counters.
			continue
		}
		rest = append(rest, k+"="+marks.Replace(v))
	}
	sort.Strings(rest)
	if len(rest) > 0 {
		b.WriteString(" " + strings.Join(rest, " "))
	}
	b.WriteString("\n")
	if text, ok := r.Params["text"]; ok {
		for _, line := range strings.Split(marks.Replace(text), "\n") {
			b.WriteString("  | " + line + "\n")
		}
	}
	if mk := r.Params["reply_markup"]; mk != "" {
		var m struct {
			Keyboard [][]struct {
				Text string `json:"text"`
				Data string `json:"callback_data"`
				URL  string `json:"url"`
			} `json:"inline_keyboard"`
		}
		if err := json.Unmarshal([]byte(mk), &m); err != nil || m.Keyboard == nil {
			b.WriteString("  keyboard: " + mk + "\n")
			return
		}
		if len(m.Keyboard) == 0 {
			b.WriteString("  keyboard: none\n")
		}
		for _, row := range m.Keyboard {
			var keys []string
			for _, k := range row {
				data := k.Data
				if k.URL != "" {
					data = "url " + k.URL
				}
				keys = append(keys, "["+marks.Replace(k.Text)+" ⟨"+data+"⟩]")
			}
			b.WriteString("  keys: " + strings.Join(keys, " ") + "\n")
		}
	}
}
