package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

const testPseudonymKey = "test-pseudonym-key-0123456789abcdef0123456789"

// syncBuffer is a log sink the test reads while the bot writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs the real `needsbot run` against the fake Bot API, the real
// Redis and a fresh Postgres database.
type harness struct {
	t     *testing.T
	tg    *telegramtest.Server
	dsn   string
	env   map[string]string
	logs  *syncBuffer
	stop  context.CancelFunc
	done  chan int
	extra []string
	clock func() time.Time                        // the interview core's clock (clockHook), if set
	hooks []func(context.Context) context.Context // more context hooks for start
	store *redisstore.Store                       // the bot's Redis, read by db
}

func newHarness(t *testing.T, opts ...telegramtest.Option) *harness {
	t.Helper()
	rdb, prefix := storagetest.Redis(t)
	// Telegram refuses a callback answer ~15 s after the tap; the fake
	// does too by default. These tests check that every tap is answered
	// once, not how fast (the load test counts answers too old): a loaded
	// CI machine running the race detector legitimately takes longer.
	opts = append([]telegramtest.Option{telegramtest.WithCallbackTimeout(slow(15 * time.Second))}, opts...)
	h := &harness{t: t, tg: telegramtest.NewServer(opts...), dsn: storagetest.Postgres(t), logs: &syncBuffer{},
		store: redisstore.New(rdb, redisstore.Options{Prefix: prefix})}
	t.Cleanup(h.tg.Close)
	t.Cleanup(func() {
		// Registered before start: runs after the bot stopped.
		if t.Failed() {
			logs := h.logs.String()
			t.Logf("the bot's log (last 16 KiB):\n%s", logs[max(0, len(logs)-16<<10):])
		}
	})
	h.env = map[string]string{
		"NEEDSBOT_TELEGRAM_TOKEN":       h.tg.Token(),
		"NEEDSBOT_TELEGRAM_API_URL":     h.tg.URL,
		"NEEDSBOT_REDIS_URL":            storagetest.RedisURL(),
		"NEEDSBOT_REDIS_PREFIX":         prefix,
		"NEEDSBOT_DATABASE_URL":         h.dsn,
		"NEEDSBOT_PSEUDONYM_KEY":        testPseudonymKey,
		"NEEDSBOT_LISTEN_ADDR":          "127.0.0.1:0",
		"NEEDSBOT_DEFAULT_MUNICIPALITY": "058091",
		"NEEDSBOT_LOG_LEVEL":            "debug",
		// The test's people answer at machine speed.
		"NEEDSBOT_INBOUND_LIMIT": "100000",
	}
	return h
}

// start runs the bot until stop.
func (h *harness) start() {
	h.t.Helper()
	// Ready when this run's intake is registered (serve does it after
	// registering the command menu, before taking updates): the run's own
	// signal, not a count of fake Bot API calls that another replica of the
	// same test also makes.
	ready, register := make(chan struct{}), registerIntake(h.t)
	var once sync.Once
	base := context.WithValue(context.Background(), intakeHook{}, func(in *bot.Intake) {
		register(in)
		once.Do(func() { close(ready) })
	})
	if h.clock != nil {
		base = context.WithValue(base, clockHook{}, h.clock)
	}
	for _, hook := range h.hooks {
		base = hook(base)
	}
	ctx, cancel := context.WithCancel(base)
	h.stop, h.done = cancel, make(chan int, 1)
	env := h.env
	go func() {
		h.done <- run(ctx, append([]string{"run"}, h.extra...), func(k string) string { return env[k] }, nil, h.logs, h.logs)
	}()
	h.t.Cleanup(h.shutdown)
	select {
	case <-ready:
	case code := <-h.done:
		h.t.Fatalf("bot exited %d; logs:\n%s", code, h.logs.String())
	case <-time.After(slow(60 * time.Second)):
		h.t.Fatalf("bot did not start; logs:\n%s", h.logs.String())
	}
}

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	select {
	case code := <-h.done:
		if code != 0 {
			h.t.Errorf("bot exited %d; logs:\n%s", code, h.logs.String())
		}
	case <-time.After(slow(30 * time.Second)):
		h.t.Error("bot did not shut down")
	}
	h.stop = nil
}

// db connects to the bot's Postgres once the completions recorded with
// the bot's saves are written there (the drainer writes them after the
// thank-you): a test reads what the bot has recorded.
func (h *harness) db() *pgx.Conn {
	h.t.Helper()
	h.drained()
	c, err := pgx.Connect(context.Background(), h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// drained waits until the completions recorded with the bot's saves are
// written to Postgres: what the bot shows from Postgres (/invites,
// /results) counts them only then.
func (h *harness) drained() {
	h.t.Helper()
	for deadline := time.Now().Add(slow(20 * time.Second)); ; {
		n, err := h.store.PendingCompleted(context.Background())
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d completions not written to Postgres (%v)", n, err)
		}
		time.Sleep(5 * time.Millisecond) // sync: the bot's drainer, another process
	}
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// respondent drives one user through the chat like a person would.
type respondent struct {
	t *testing.T
	u *telegramtest.User
	// junk, when set, makes answerRest send a sticker and a stray text
	// before every answer, and check the question is still on screen.
	junk bool
	// updates counts the updates sent (messages and taps).
	updates int
}

func (r *respondent) wait() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), slow(60*time.Second))
	defer cancel()
	if err := r.u.WaitHandled(ctx); err != nil {
		r.t.Fatalf("bot did not handle the update: %v\n%s", err, r.u.Transcript())
	}
	// Acknowledged is not applied: the bot confirms an update as soon as
	// it is queued behind its own chat's pacing (bot/mailbox.go).
	if err := waitIdle(ctx, r.t, r.u.ID()); err != nil {
		r.t.Fatalf("bot did not apply the update: %v\n%s", err, r.u.Transcript())
	}
	// Staff work (exports, /results) runs on its own queue after the
	// update: it is done when its progress message is gone.
	if _, err := r.u.WaitFor(ctx, func(c telegramtest.Chat) bool {
		for _, m := range c.Messages {
			if m.FromBot && strings.HasPrefix(m.Text, "⏳") {
				return false
			}
		}
		return true
	}); err != nil {
		r.t.Fatalf("staff work did not end: %v\n%s", err, r.u.Transcript())
	}
}

func (r *respondent) send(text string) {
	r.t.Helper()
	r.u.Send(text)
	r.updates++
	r.wait()
}

func (r *respondent) tap(label string) {
	r.t.Helper()
	if err := r.u.Tap(label); err != nil {
		r.t.Fatalf("tap %q: %v\n%s", label, err, r.u.Transcript())
	}
	r.updates++
	r.wait()
}

// question returns the last bot message with a keyboard.
func (r *respondent) question() telegramtest.Message {
	msgs := r.u.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].FromBot && len(msgs[i].Buttons) > 0 {
			return msgs[i]
		}
	}
	return telegramtest.Message{}
}

// live counts the bot messages with a keyboard.
func (r *respondent) live() int {
	n := 0
	for _, m := range r.u.Messages() {
		if m.FromBot && len(m.Buttons) > 0 {
			n++
		}
	}
	return n
}

// warned reports whether a card carries a warning (the sign alternates
// between consecutive re-asks).
func warned(s string) bool { return strings.Contains(s, "⚠️") || strings.Contains(s, "❗") }

// oneLive fails unless exactly one bot message has a keyboard.
func (r *respondent) oneLive() {
	r.t.Helper()
	if n := r.live(); n != 1 {
		r.t.Fatalf("%d live keyboards, want 1:\n%s", n, r.u.Transcript())
	}
}

var navLabels = []string{"◀", "Salta", "Skip", "✓ Fatto", "✓ Done"}

func isNav(label string) bool {
	for _, n := range navLabels {
		if strings.HasPrefix(label, n) {
			return true
		}
	}
	return false
}

// answerRest answers every remaining question with its first sensible
// option (an adult age band, one choice in multi-selects, a short text)
// until the interview ends; it returns the number of questions answered.
func (r *respondent) answerRest(done string) int {
	r.t.Helper()
	for n := 0; n < 80; n++ {
		// The interview ends on the card: the closing words and the
		// summary, no keyboard left anywhere.
		if r.live() == 0 {
			for _, m := range r.u.Messages() {
				if m.FromBot && strings.Contains(m.Text, done) {
					return n
				}
			}
		}
		r.oneLive()
		q := r.question()
		if r.junk {
			r.u.SendSticker()
			r.wait()
			hasOptions := false
			for _, row := range q.Labels() {
				for _, l := range row {
					hasOptions = hasOptions || !isNav(l)
				}
			}
			if hasOptions { // typed text would answer a text question
				r.send("?? 🙂")
			}
			if again := r.question(); !strings.Contains(again.Text, questionLine(q.Text)) {
				r.t.Fatalf("after junk the question changed from %q to %q", q.Text, again.Text)
			}
			q = r.question()
		}
		var opts []string
		multi := false
		for _, row := range q.Labels() {
			for _, l := range row {
				if strings.HasPrefix(l, "✓ ") {
					multi = true
				}
				if !isNav(l) {
					opts = append(opts, l)
				}
			}
		}
		switch {
		case len(opts) == 0:
			r.send("Va bene così")
		case multi:
			r.tap(opts[0])
			r.tap(pick(q.Labels(), "✓ "))
		case strings.Contains(opts[0], "18"):
			r.tap(opts[2]) // an adult age band
		default:
			r.tap(opts[0])
		}
	}
	r.t.Fatalf("interview did not end:\n%s", r.u.Transcript())
	return 0
}

// questionLine is the first line of a card that is not the previous
// answer or a warning.
func questionLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line != "" && !strings.HasPrefix(line, "✓") && !warned(line) {
			return line
		}
	}
	return ""
}

func pick(rows [][]string, prefix string) string {
	for _, row := range rows {
		for _, l := range row {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
	}
	return ""
}

func TestEndToEndPollingInterview(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	u := h.tg.User(5550001, telegramtest.FirstName("Amina"), telegramtest.Username("amina_r"), telegramtest.LanguageCode("it-IT"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	if q := r.question(); q.Labels()[0][0] != "Italiano" {
		t.Fatalf("language picker does not suggest Italian first: %v", q.Labels())
	}
	r.tap("Italiano")
	r.tap("Sì, accetto")
	// A typed label answers a choice question (case and spacing forgiven).
	r.send("da 25 a 34 ANNI")
	if q := r.question(); !strings.Contains(q.Text, "✓ Da 25 a 34 anni") || !strings.Contains(q.Text, "Sei…") {
		t.Fatalf("typed label not accepted: %q", q.Text)
	}
	// Junk at a button question: a sticker, then typed text.
	u.SendSticker()
	r.wait()
	if q := r.question(); !strings.Contains(q.Text, "Sei…") || !warned(q.Text) {
		t.Fatalf("after a sticker the question card does not explain: %q", q.Text)
	}
	r.send("boh")
	if q := r.question(); !strings.Contains(q.Text, "Sei…") || !warned(q.Text) {
		t.Fatalf("after junk text the question card does not explain: %q", q.Text)
	}
	r.oneLive()
	// A typed number (Arabic-Indic digit) answers too.
	r.send("١")
	if q := r.question(); !strings.Contains(q.Text, "✓ Una donna") {
		t.Fatalf("typed number not accepted: %q", q.Text)
	}
	r.oneLive()
	// Back and change.
	r.tap("◀ Indietro")
	r.tap("Un uomo")
	n := r.answerRest("Grazie mille")
	t.Logf("answered %d more questions", n)
	if v := h.count(`SELECT count(*) FROM responses WHERE form = 'immigrati' AND language = 'it'`); v != 1 {
		t.Fatalf("responses: %d\n%s", v, u.Transcript())
	}
	var gender string
	if err := h.db().QueryRow(context.Background(), `SELECT value FROM answers WHERE question = 'genere'`).Scan(&gender); err != nil || gender != "uomo" {
		t.Fatalf("changed answer not stored: %q %v", gender, err)
	}
	if v := h.count(`SELECT count(*) FROM answers WHERE question = 'eta' AND value = '25_34'`); v != 1 {
		t.Fatalf("typed age band not stored")
	}
	pseudo := storage.Pseudonym([]byte(testPseudonymKey), 5550001)
	if v := h.count(`SELECT count(*) FROM responses WHERE respondent = $1`, pseudo); v != 1 {
		t.Fatalf("response not under the pseudonym")
	}
	if v := h.count(`SELECT count(*) FROM responses r JOIN municipalities m ON m.id = r.municipality_id WHERE m.istat_code = '058091'`); v != 1 {
		t.Fatal("response not attributed to Roma")
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Fatalf("Bot API limits violated: %+v", vs)
	}
	// Privacy: the logs (at debug level) never carry the respondent's raw
	// id, name, username or any answer text.
	logs := h.logs.String()
	if !strings.Contains(logs, `"level"`) {
		t.Fatalf("no structured logs captured: %q", logs)
	}
	for _, secret := range []string{"5550001", "Amina", "amina_r", "Va bene così", "boh", "uomo"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

// intakes are the intakes of the bots the tests run, with the top-level
// test that runs each, so that a test can wait until a chat's updates are
// applied by its own bots (tests run in parallel and reuse chat ids).
var intakes = struct {
	sync.Mutex
	m map[*bot.Intake]string
}{m: map[*bot.Intake]string{}}

// rootTest is the name of the top-level test t belongs to.
func rootTest(t testing.TB) string {
	root, _, _ := strings.Cut(t.Name(), "/")
	return root
}

// registerIntake returns the hook that serve calls with its intake; the
// intake is forgotten when the test ends.
func registerIntake(t *testing.T) func(*bot.Intake) {
	return func(in *bot.Intake) {
		intakes.Lock()
		intakes.m[in] = rootTest(t)
		intakes.Unlock()
		t.Cleanup(func() {
			intakes.Lock()
			delete(intakes.m, in)
			intakes.Unlock()
		})
	}
}

// waitIdle waits until no bot of t's top-level test has work queued,
// running or parked for chat.
func waitIdle(ctx context.Context, t testing.TB, chat int64) error {
	root := rootTest(t)
	intakes.Lock()
	var all []*bot.Intake
	for in, test := range intakes.m {
		if test == root {
			all = append(all, in)
		}
	}
	intakes.Unlock()
	for _, in := range all {
		if err := in.WaitIdle(ctx, chat); err != nil {
			return err
		}
	}
	return nil
}
