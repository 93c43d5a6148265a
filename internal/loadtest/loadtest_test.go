package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

// TestLoadtestDecide: the simulated respondent answers from the callback
// data, whatever the labels' language.
func TestLoadtestDecide(t *testing.T) {
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	form := lib.Latest("immigrati")
	pos := func(name string) int { return form.Question(name).Index }
	key := func(kind byte, p int, opt string) telegramtest.Button {
		data, err := bot.Callback{Kind: kind, Pos: p, Seq: 7, Option: opt}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return telegramtest.Button{Text: string(kind) + ":" + opt, Data: data}
	}
	back := key(bot.CbBack, 0, "")
	for _, tc := range []struct {
		name        string
		buttons     []telegramtest.Button
		lastToggled int
		wantKind    string
		wantLabels  []string // any of these
	}{
		{"language", []telegramtest.Button{key(bot.CbLanguage, 0, "it"), key(bot.CbLanguage, 0, "uk"), key(bot.CbLanguage, 0, "ar")}, 0, "language", []string{"L:uk"}},
		// uk on the picker's second page: turn it (issue 15's 23 languages).
		{"language page", []telegramtest.Button{key(bot.CbLanguage, 0, "it"), key(bot.CbLanguage, 0, "ar"), pageKey(t, 1)}, 0, "language", []string{"L:>"}},
		{"language page 2", []telegramtest.Button{key(bot.CbLanguage, 0, "fa"), key(bot.CbLanguage, 0, "uk"), pageKey(t, 0)}, 0, "language", []string{"L:uk"}},
		{"consent", []telegramtest.Button{key(bot.CbChoose, pos("consenso"), "no"), key(bot.CbChoose, pos("consenso"), "yes")}, 0, "choose", []string{"c:yes"}},
		{"age", []telegramtest.Button{key(bot.CbChoose, pos("eta"), "under18"), key(bot.CbChoose, pos("eta"), "18_24"), back}, 0, "choose", []string{"c:18_24"}},
		{"single", []telegramtest.Button{key(bot.CbChoose, pos("genere"), "a"), key(bot.CbChoose, pos("genere"), "b"), back}, 0, "choose", []string{"c:a", "c:b"}},
		{"multi first", []telegramtest.Button{key(bot.CbToggle, pos("priorita"), "x"), key(bot.CbDone, pos("priorita"), ""), back}, 0, "toggle", []string{"t:x"}},
		{"multi ticked", []telegramtest.Button{key(bot.CbToggle, pos("priorita"), "x"), key(bot.CbDone, pos("priorita"), ""), back}, 42, "done", []string{"d:"}},
		{"note", []telegramtest.Button{key(bot.CbAck, pos("intro"), "")}, 0, "ack", []string{"k:"}},
		{"free text", []telegramtest.Button{back, key(bot.CbSkip, 3, "")}, 0, "text", []string{""}},
		{"only foreign buttons", []telegramtest.Button{{Text: "site", URL: "https://example.org"}}, 0, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := telegramtest.Message{ID: 42, FromBot: true, Buttons: [][]telegramtest.Button{tc.buttons}}
			chat := telegramtest.Chat{Messages: []telegramtest.Message{{ID: 41, FromBot: true, Text: "answered"}, q, {ID: 43, Text: "me"}}}
			r := &Walker{Form: form, Rng: rand.New(rand.NewPCG(1, 2)), Lang: "uk", Comment: "ok", lastToggled: tc.lastToggled, toggledPos: pos("priorita")}
			m, keys, ok := currentQuestion(chat, 0)
			if tc.wantKind == "" {
				if ok {
					t.Fatalf("found a question in %v", m.Labels())
				}
				return
			}
			if !ok || m.ID != 42 {
				t.Fatalf("current question %d %v", m.ID, ok)
			}
			for i := 0; i < 20; i++ {
				kind, k, text := r.decide(m, keys)
				label := k.label
				if kind != tc.wantKind || !slices.Contains(tc.wantLabels, label) {
					t.Fatalf("decide = %s %q, want %s one of %q", kind, label, tc.wantKind, tc.wantLabels)
				}
				if kind == "text" && text != "ok" {
					t.Fatalf("typed %q", text)
				}
			}
		})
	}
}

func TestLoadtestLatencyFromTimestamps(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	chat := telegramtest.Chat{
		Messages: []telegramtest.Message{
			{ID: 1, FromBot: true, Date: at(-500), EditDate: at(7)}, // the answered question, edited
			{ID: 2, Date: at(0)},                   // the user's text
			{ID: 3, FromBot: true, Date: at(12)},   // the next question
			{ID: 4, FromBot: true, Date: at(-900)}, // older
		},
		Callbacks: []telegramtest.CallbackAnswer{{At: at(-600), Answered: true, AnsweredAt: at(-590)}},
	}
	enq, ok := enqueuedAt(chat, 2)
	if !ok || !enq.Equal(at(0)) {
		t.Fatalf("enqueued %v %v", enq, ok)
	}
	first, last, ok := Replies(chat, enq)
	if !ok || !last.Equal(at(12)) || !first.Equal(at(7)) {
		t.Fatalf("replies %v … %v %v, want +7 ms … +12 ms", first, last, ok)
	}
	if _, ok := enqueuedAt(chat, 9); ok {
		t.Error("found a message that is not there")
	}
	// A tap: the latest callback, answered after the messages.
	chat.Callbacks = append(chat.Callbacks, telegramtest.CallbackAnswer{At: at(1), Answered: true, AnsweredAt: at(30)})
	enq, _ = enqueuedAt(chat, 0)
	if first, last, _ := Replies(chat, enq); !enq.Equal(at(1)) || !last.Equal(at(30)) || !first.Equal(at(7)) {
		t.Errorf("tap: enqueued %v, replies %v … %v", enq, first, last)
	}
	if _, _, ok := Replies(chat, at(100)); ok {
		t.Error("a reply after the last one")
	}
}

func TestLoadtestDist(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := distOf(ds)
	want := ltDist{N: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}
	if d != want {
		t.Errorf("distOf(1..100 ms) = %+v, want %+v", d, want)
	}
	if d := distOf([]time.Duration{3 * time.Millisecond}); d.P50 != 3 || d.P99 != 3 || d.Max != 3 {
		t.Errorf("one sample: %+v", d)
	}
	if d := distOf(nil); d.N != 0 || d.String() != "(none)" {
		t.Errorf("no samples: %+v", d)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("distOf sorted its argument in place")
	}
}

// TestLoadtestThroughput: interviews per hour over the run and in its
// steady window, the flood-limited calls (new messages and edits, not
// callback answers) per interview, and the share of the bot's budget used.
func TestLoadtestThroughput(t *testing.T) {
	calls := map[string]int{"sendMessage": 30, "editMessageText": 200, "editMessageReplyMarkup": 80, "answerCallbackQuery": 290, "getUpdates": 7}
	if n := FloodLimited(calls); n != 310 {
		t.Errorf("FloodLimited = %d, want 310", n)
	}
	r := &Report{TelegramLimits: true, Completed: 10, DurationS: 12, CallsByMethod: calls}
	from := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	w := ltWindow{from: from, to: from.Add(100 * time.Second),
		calls0: map[string]int{"sendMessage": 10, "answerCallbackQuery": 5},
		calls1: map[string]int{"sendMessage": 60, "editMessageText": 2000, "editMessageReplyMarkup": 750, "answerCallbackQuery": 2800}}
	r.addThroughput(w, 28)
	if r.FloodCalls != 310 || r.FloodPerInterview != 31 || r.InterviewsPerHour != 3000 || r.BudgetRate != 28 || r.BudgetCeiling != 3252 {
		t.Errorf("run: flood %d, %.2f per interview, %.0f an hour, budget %g, ceiling %.0f", r.FloodCalls, r.FloodPerInterview, r.InterviewsPerHour, r.BudgetRate, r.BudgetCeiling)
	}
	want := ltSteady{Seconds: 100, FloodCallsPerS: 28, InterviewsPerHour: 3252, BudgetUsedPct: 100}
	if r.Steady == nil || *r.Steady != want {
		t.Errorf("steady = %+v, want %+v", r.Steady, want)
	}
	var b strings.Builder
	r.WriteText(&b)
	for _, s := range []string{"3000 interviews an hour over the whole run", "28.00 flood-limited calls/s = 100.0% of the bot's budget of 28/s = 3252 interviews an hour", "at 31.00 flood-limited calls per interview the budget allows 3252"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
	// No steady window (fewer respondents than slots), no limits: no budget.
	r = &Report{Completed: 10, DurationS: 12, CallsByMethod: calls}
	r.addThroughput(ltWindow{}, 100000)
	if r.Steady != nil || r.BudgetRate != 0 || r.BudgetCeiling != 0 {
		t.Errorf("without a window or limits: %+v, budget %g, ceiling %.0f", r.Steady, r.BudgetRate, r.BudgetCeiling)
	}
}

func TestLoadtestProcParsers(t *testing.T) {
	// comm may contain spaces and parentheses.
	stat := "1234 (needs bot) (x)) S 1 1234 1234 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	if d, err := parseProcStat(stat); err != nil || d != 3250*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 3.25s", d, err)
	}
	if _, err := parseProcStat("garbage"); err == nil {
		t.Error("parseProcStat accepted garbage")
	}
	status := "Name:\tneedsbot\nVmPeak:\t 1000 kB\nVmHWM:\t   52224 kB\nVmRSS:\t 40000 kB\n"
	if n, err := parseVmHWM(strings.NewReader(status)); err != nil || n != 52224*1024 {
		t.Errorf("parseVmHWM = %d, %v", n, err)
	}
	if _, err := parseVmHWM(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("parseVmHWM without VmHWM")
	}
	info := "# Stats\r\ntotal_commands_processed:1234\r\n# CPU\r\nused_cpu_sys:1.50\r\nused_cpu_user:2.25\r\n# Commandstats\r\ncmdstat_evalsha:calls=77,usec=1,usec_per_call=0.01,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=5,usec=1\r\n"
	got := redisInfo(info, redisFields()...)
	want := map[string]float64{"total_commands_processed": 1234, "used_cpu_sys": 1.5, "used_cpu_user": 2.25, "cmdstat_evalsha": 77}
	if len(got) != len(want) {
		t.Errorf("redisInfo = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("redisInfo[%s] = %v, want %v", k, got[k], v)
		}
	}
}

func TestLoadtestRedisUsec(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_evalsha:calls=77,usec=1000,usec_per_call=12.99\r\ncmdstat_eval:calls=1,usec=20,usec_per_call=20\r\n" +
		"cmdstat_get:calls=5,usec=300,usec_per_call=60\r\ncmdstat_zadd:calls=2,usec=7\r\n# CPU\r\nused_cpu_sys:1.50\r\n"
	if scripts, all := redisUsec(info); scripts != 1020 || all != 1327 {
		t.Errorf("redisUsec = %v, %v; want 1020, 1327", scripts, all)
	}
}

func TestLoadtestHistogramQuantile(t *testing.T) {
	// 100 observations: 50 ≤ 10 ms, 40 in (10, 50] ms, 10 in (50, 100] ms.
	bucket := func(le float64, n uint64) *dto.Bucket {
		return &dto.Bucket{UpperBound: proto.Float64(le), CumulativeCount: proto.Uint64(n)}
	}
	h := func(buckets ...*dto.Bucket) *dto.Metric {
		return &dto.Metric{Histogram: &dto.Histogram{SampleCount: proto.Uint64(buckets[len(buckets)-1].GetCumulativeCount()),
			SampleSum: proto.Float64(3), Bucket: buckets}}
	}
	// Two series (two update kinds) that sum to the above.
	fam := &dto.MetricFamily{Metric: []*dto.Metric{
		h(bucket(.01, 30), bucket(.05, 50), bucket(.1, 55), bucket(math.Inf(1), 55)),
		h(bucket(.01, 20), bucket(.05, 40), bucket(.1, 45), bucket(math.Inf(1), 45)),
	}}
	for _, tc := range []struct{ q, want float64 }{{.25, .005}, {.5, .01}, {.7, .03}, {.95, .075}, {1, .1}} {
		if got := histogramQuantile(tc.q, fam); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	if mean, n := histogramMean(fam); n != 100 || math.Abs(mean-.06) > 1e-9 {
		t.Errorf("mean %v over %d", mean, n)
	}
	if !math.IsNaN(histogramQuantile(.5, nil)) || secToMS(math.NaN()) != 0 {
		t.Error("no data must give NaN, reported as 0")
	}
}

// pageKey is the language menu's key to page p.
func pageKey(t *testing.T, p int) telegramtest.Button {
	t.Helper()
	data, err := bot.Callback{Kind: bot.CbLanguage, Pos: p, Option: ">"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return telegramtest.Button{Text: "L:>", Data: data}
}

// TestWalkerEndsAtThankYou: a walk is completed only when the bot sent the
// completion message (the form's closing note, by its locale key, in the
// person's language); a chat with no card with buttons and no thank-you
// (a keyboard stripped, the next card never sent) is not the end.
func TestWalkerEndsAtThankYou(t *testing.T) {
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	form := lib.Latest("immigrati")
	texts := TextsOf(cat, form)
	thanks := texts.Thanks
	if len(thanks) != len(cat.Languages()) || len(texts.Stale) != len(cat.Languages()) {
		t.Fatalf("thank-yous in %d languages, want %d", len(thanks), len(cat.Languages()))
	}
	last := form.Questions[len(form.Questions)-1]
	for _, l := range cat.Languages() {
		ts := thanks[l.Code]
		if len(ts) != 1 || ts[0] == "" || ts[0] == last.Label || ts[0] != bot.NewRenderer(cat).Text(l.Code, last.Label, nil) {
			t.Fatalf("%s: thank-yous %q, want the text of %s", l.Code, ts, last.Label)
		}
	}
	if thanks["it"][0] == thanks["en"][0] || texts.Stale["it"] == texts.Stale["en"] || texts.Stale["uk"] == "" {
		t.Fatalf("the same texts in Italian and English, or none: %q %q", thanks["it"], texts.Stale)
	}
	card := telegramtest.Message{ID: 5, FromBot: true, Source: "question", Buttons: [][]telegramtest.Button{{{Text: "ok", Data: ackData(t)}}}}
	stripped := telegramtest.Message{ID: 5, FromBot: true, Source: "question"}
	end := telegramtest.Message{ID: 7, FromBot: true, Source: "✓ answer\n\n" + thanks["uk"][0] + "\n\nsummary"}
	for _, tc := range []struct {
		name     string
		lang     string
		msgs     []telegramtest.Message
		card     bool
		complete bool
	}{
		{"a card", "uk", []telegramtest.Message{card}, true, false},
		{"stripped, no next card yet", "uk", []telegramtest.Message{stripped, {ID: 6, Text: "me"}}, false, false},
		{"thanked", "uk", []telegramtest.Message{stripped, {ID: 6, Text: "me"}, end}, false, true},
		{"thanked in another language", "it", []telegramtest.Message{stripped, end}, false, false},
		{"language not known: any", "", []telegramtest.Message{stripped, end}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Walker{Form: form, Lang: tc.lang, Texts: texts}
			chat := telegramtest.Chat{Messages: tc.msgs}
			if _, _, ok := currentQuestion(chat, 0); ok != tc.card {
				t.Errorf("card %v, want %v", ok, tc.card)
			}
			if got := w.thanked(chat); got != tc.complete {
				t.Errorf("thanked %v, want %v", got, tc.complete)
			}
		})
	}
}

func ackData(t *testing.T) string {
	t.Helper()
	data, err := bot.Callback{Kind: bot.CbAck, Pos: 1, Seq: 1}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
