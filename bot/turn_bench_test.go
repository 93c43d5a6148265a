package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	tg "github.com/go-telegram/bot"
	"golang.org/x/time/rate"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
)

// benchAPI is a Bot API that answers every direct call at once, in
// memory: a benchmark of the turn then measures the bot's own work (the
// interview, rendering, the request bodies), not HTTP. Message ids count
// up like a private chat's; record keeps the keyboards sent, for the walk.
type benchAPI struct {
	next   int
	calls  int
	record bool
	cards  map[int][][]jsonButton // message id -> its keyboard (record)
	last   int                    // the last message with a keyboard (record)
}

var (
	okTrue = []byte(`{"ok":true,"result":true}`)
)

func (a *benchAPI) Do(req *http.Request) (*http.Response, error) {
	a.calls++
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	method := req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:]
	var reply []byte
	id := 0
	switch method {
	case "sendMessage":
		a.next++
		id = a.next
		reply = []byte(`{"ok":true,"result":{"message_id":` + strconv.Itoa(id) + `,"date":0}}`)
	case "editMessageText", "editMessageReplyMarkup":
		reply = []byte(`{"ok":true,"result":{"message_id":0,"date":0}}`)
	default:
		reply = okTrue
	}
	if a.record {
		var m jsonMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		if id == 0 {
			id = m.MessageID
		}
		if m.ReplyMarkup != nil && len(m.ReplyMarkup.InlineKeyboard) > 0 {
			a.cards[id] = m.ReplyMarkup.InlineKeyboard
			a.last = id
		} else if method != "sendMessage" || a.last == id {
			delete(a.cards, id)
		}
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(reply)), Header: http.Header{}}, nil
}

// benchTurns is a handler over in-memory sessions and benchAPI, and the
// updates of one whole interview of the shipped questionnaire in Italian,
// recorded by walking it (first options, an adult age band, "7" typed).
type benchTurns struct {
	h        *Handler
	api      *benchAPI
	sessions *memSessions
	updates  []*Update
}

const benchChat = 4242

func newBenchTurns(b testing.TB) *benchTurns {
	b.Helper()
	cat, err := locales.New()
	if err != nil {
		b.Fatal(err)
	}
	_, lib := testRenderer(b)
	api := &benchAPI{record: true, cards: map[int][][]jsonButton{}}
	tgAPI, err := tg.New("1:x", tg.WithServerURL("http://127.0.0.1:9"), tg.WithSkipGetMe())
	if err != nil {
		b.Fatal(err)
	}
	sender := NewSender(tgAPI, SenderOptions{Direct: NewDirectAPI("http://bench.invalid", "1:x", api),
		Global: rate.NewLimiter(rate.Inf, 1), ChatRate: rate.Inf, ChatBurst: 1000})
	bt := &benchTurns{api: api, sessions: newMemSessions()}
	core := interview.New(interview.Config{Forms: lib, Catalog: cat, Sessions: bt.sessions,
		Responses:      &memResponses{done: map[string]interview.Completion{}},
		DefaultContext: map[string]string{interview.CtxMunicipality: "1"}, Pseudonym: func(int64) string { return "p" }})
	bt.h = NewHandler(Config{Core: core, Catalog: cat, Sender: sender, Username: "bench_bot"})
	bt.walk(b, lib)
	return bt
}

// state is the chat's saved interview.
func (bt *benchTurns) state(b testing.TB) dialog.State {
	s, err := dialog.Decode(bt.sessions.states[benchChat].Blob)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// walk answers the interview once, recording its updates.
func (bt *benchTurns) walk(b testing.TB, lib *dialog.Library) {
	ctx := context.Background()
	id := int64(0)
	text := func(s string) *Update {
		id++
		bt.api.next++ // the person's message takes a message id too
		u := textUpdate(id, benchChat, s)
		u.MsgID = bt.api.next
		return u
	}
	do := func(u *Update) {
		if _, err := bt.h.Handle(ctx, u, true); err != nil {
			b.Fatal(err)
		}
		bt.updates = append(bt.updates, u)
	}
	do(text("/start"))
	toggled := -1
	for len(bt.updates) < 200 {
		s := bt.state(b)
		if s.Phase == dialog.PhaseDone {
			break
		}
		kb := bt.api.cards[bt.api.last]
		var pick string
		for _, row := range kb {
			for _, k := range row {
				cb, err := DecodeCallback(k.CallbackData)
				if err != nil {
					b.Fatal(err)
				}
				switch {
				case cb.Kind == CbToggle && toggled != s.Pos && pick == "":
					pick = k.CallbackData
				case cb.Kind == CbDone && toggled == s.Pos:
					pick = k.CallbackData
				case cb.Kind == CbChoose && cb.Option == "25_34":
					pick = k.CallbackData
				case pick == "" && (cb.Kind == CbChoose || cb.Kind == CbAck || cb.Kind == CbLanguage && cb.Option == "it"):
					pick = k.CallbackData
				}
			}
		}
		if pick == "" {
			do(text("7"))
			continue
		}
		if cb, _ := DecodeCallback(pick); cb.Kind == CbToggle {
			toggled = s.Pos
		}
		id++
		do(tapUpdate(id, benchChat, "q"+strconv.FormatInt(id, 10), pick, bt.api.last))
	}
	if bt.state(b).Phase != dialog.PhaseDone {
		b.Fatalf("the walk did not finish in %d updates", len(bt.updates))
	}
	bt.api.record = false
}

// replay applies the recorded interview again from scratch.
func (bt *benchTurns) replay(b testing.TB) {
	ctx := context.Background()
	bt.api.next = 0
	clear(bt.sessions.states)
	clear(bt.sessions.seen)
	bt.sessions.order = bt.sessions.order[:0]
	for _, u := range bt.updates {
		if u.Kind == upMessage {
			bt.api.next++
		}
		if _, err := bt.h.Handle(ctx, u, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTurnWalk is the bot's own cost of a whole interview of the
// shipped questionnaire (webhook mode: callback answers in the response),
// over in-memory sessions and a Bot API that answers in memory: per
// update, the core's turn, the engine's step, rendering and the request
// bodies.
func BenchmarkTurnWalk(b *testing.B) {
	bt := newBenchTurns(b)
	bt.replay(b)
	if bt.state(b).Phase != dialog.PhaseDone {
		b.Fatal("the replay did not finish the interview")
	}
	n := len(bt.updates)
	bt.api.calls = 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bt.replay(b)
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "updates/walk")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/update")
}

// BenchmarkDirectEdit is one editMessageText request's body and reply
// over the in-memory Bot API.
func BenchmarkDirectEdit(b *testing.B) {
	api := &benchAPI{}
	d := NewDirectAPI("http://bench.invalid", "1:x", api)
	m := &directMessage{ChatID: benchChat, MessageID: 12, Text: "✓ <i>Sì</i>\n\n<b>Quanti anni hai?</b>\n<i>3 di 30</i>",
		ParseMode: "HTML", Preview: &directPreview{IsDisabled: true},
		ReplyMarkup: directKeyboard([][]Key{{{"18–24", "1c5.3.18_24"}, {"25–34", "1c5.3.25_34"}, {"35–44", "1c5.3.35_44"}},
			{{"45–54", "1c5.3.45_54"}, {"55–64", "1c5.3.55_64"}, {"65+", "1c5.3.65"}}, {{"◀ Indietro", "1b5.3"}}}, false)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.call(ctx, "editMessageText", m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTurnWalkAllocations bounds the bot's own allocations over a whole
// interview (BenchmarkTurnWalk's walk, 29 updates). Session 8: 1,542 on
// main (with wire2's cheaper direct calls) before the turn's step changed
// the decoded answers in place (dialog.StepOwned), a keyboard took 3
// allocations instead of 5, a step's replies and a turn's first edit one
// allocation fewer; 1,358 after. Under the race
// detector sync.Pool keeps nothing, so the count is not checked there.
func TestTurnWalkAllocations(t *testing.T) {
	if raceOn {
		t.Skip("allocations differ under the race detector")
	}
	bt := newBenchTurns(t)
	n := testing.AllocsPerRun(3, func() { bt.replay(t) })
	t.Logf("%.0f allocations per walk of %d updates", n, len(bt.updates))
	if n > 1450 {
		t.Errorf("a walk of %d updates makes %.0f allocations, want at most 1,450", len(bt.updates), n)
	}
}

// BenchmarkCompletionTurn is the bot's own cost of the turn that finishes
// the interview (the typed last answer of BenchmarkTurnWalk's walk): the
// core's step recording the completion, the closing card and summary, the
// services below; over in-memory sessions and Bot API. Each iteration
// restores the state before the last answer.
func BenchmarkCompletionTurn(b *testing.B) {
	bt := newBenchTurns(b)
	last := bt.updates[len(bt.updates)-1]
	ctx := context.Background()
	// Replay all but the last update, and keep the state it finds.
	bt.api.next = 0
	clear(bt.sessions.states)
	clear(bt.sessions.seen)
	for _, u := range bt.updates[:len(bt.updates)-1] {
		if u.Kind == upMessage {
			bt.api.next++
		}
		if _, err := bt.h.Handle(ctx, u, true); err != nil {
			b.Fatal(err)
		}
	}
	before := bt.sessions.states[benchChat]
	next := bt.api.next
	run := func() {
		bt.sessions.states[benchChat] = before
		clear(bt.sessions.seen)
		bt.sessions.order = bt.sessions.order[:0]
		bt.api.next = next + 1
		if _, err := bt.h.Handle(ctx, last, true); err != nil {
			b.Fatal(err)
		}
	}
	run()
	if bt.state(b).Phase != dialog.PhaseDone {
		b.Fatal("the last update did not finish the interview")
	}
	calls := bt.api.calls
	run()
	b.ReportMetric(float64(bt.api.calls-calls), "calls/op")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
