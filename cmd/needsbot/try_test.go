//go:build !prod

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestTryFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, o tryOptions)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, o tryOptions) {
			c := o.cfg
			if o.addr != "127.0.0.1:8088" || o.addrSet || o.redis != "" || o.db != "" {
				t.Errorf("options: %+v", o)
			}
			if c.RedisPrefix != "needsbot_try:" || c.DefaultMunicipality != "058091" || c.LogLevel != "warn" {
				t.Errorf("try defaults: prefix %q municipality %q log %q", c.RedisPrefix, c.DefaultMunicipality, c.LogLevel)
			}
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.PseudonymKey) {
				t.Errorf("generated pseudonym key %q", c.PseudonymKey)
			}
			if c.Workers != 32 || c.TelegramChatRate != 1 || c.MinCell != 5 {
				t.Errorf("run's defaults not kept: %+v", c)
			}
		}},
		{name: "the production variables are ignored", env: map[string]string{
			"NEEDSBOT_REDIS_URL": "redis://10.0.0.1:6379/2", "NEEDSBOT_DATABASE_URL": "postgres://u@db/x",
			"NEEDSBOT_DEFAULT_MUNICIPALITY": "015146", "NEEDSBOT_PSEUDONYM_KEY": strings.Repeat("k", 32),
			"NEEDSBOT_REDIS_PREFIX": "needsbot:", "NEEDSBOT_LOG_LEVEL": "debug",
		}, check: func(t *testing.T, o tryOptions) {
			if o.redis != "" || o.db != "" || o.cfg.DefaultMunicipality != "058091" || o.cfg.RedisPrefix != "needsbot_try:" ||
				o.cfg.PseudonymKey == strings.Repeat("k", 32) || o.cfg.LogLevel != "debug" {
				t.Errorf("options: %+v", o)
			}
		}},
		{name: "explicit flags", args: []string{"--redis-url", "redis://10.0.0.1:6379/2", "--database-url", "postgres://u@db/x",
			"--default-municipality", "015146", "--pseudonym-key", strings.Repeat("k", 32)},
			check: func(t *testing.T, o tryOptions) {
				if o.redis != "redis://10.0.0.1:6379/2" || o.db != "postgres://u@db/x" || o.cfg.DefaultMunicipality != "015146" ||
					o.cfg.PseudonymKey != strings.Repeat("k", 32) {
					t.Errorf("options: %+v", o)
				}
			}},
		{name: "flags win over the environment", env: map[string]string{"NEEDSBOT_REDIS_PREFIX": "env:"},
			args: []string{"--addr", "127.0.0.1:0", "--redis-prefix", "flag:", "--database-url", "postgres://f@h/d"},
			check: func(t *testing.T, o tryOptions) {
				if o.addr != "127.0.0.1:0" || !o.addrSet || o.cfg.RedisPrefix != "flag:" || o.db != "postgres://f@h/d" || o.redis != "" {
					t.Errorf("options: %+v", o)
				}
			}},
		{name: "bad municipality", args: []string{"--default-municipality", "Roma"}, wantErr: "six-digit ISTAT code"},
		{name: "bad Redis URL", args: []string{"--redis-url", "http://x"}, wantErr: "NEEDSBOT_REDIS_URL must start with redis://"},
		{name: "bad number", env: map[string]string{"NEEDSBOT_MIN_CELL": "-1"}, wantErr: "NEEDSBOT_MIN_CELL"},
		{name: "no Telegram flags", args: []string{"--telegram-token", "1:x"}, wantErr: "flag provided but not defined"},
		{name: "no arguments", args: []string{"now"}, wantErr: "unexpected arguments: now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseTry(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
	var out bytes.Buffer
	if _, err := parseTry([]string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(out.String(), "--addr") && !strings.Contains(out.String(), "-addr") || !strings.Contains(out.String(), "NEEDSBOT_DATABASE_URL") {
		t.Fatalf("help: %v\n%s", err, out.String())
	}
}

// ---- running try ---------------------------------------------------------

// tryRun is a `needsbot try` running in the test process.
type tryRun struct {
	t        *testing.T
	url      string
	out, err *syncBuffer
	cancel   context.CancelFunc
	done     chan int
}

var chatURLRe = regexp.MustCompile(`Open the chat:\s+(http://\S+)`)

// startTry runs try with env on a free port until the test ends. With p
// set it replaces the probes of Redis and Postgres.
func startTry(t *testing.T, env map[string]string, p *trykit.Probes) *tryRun {
	t.Helper()
	// The bot's intake is registered for waitIdle (pageClient.waitIdle).
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), intakeHook{}, registerIntake(t)))
	r := &tryRun{t: t, out: &syncBuffer{}, err: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	getenv := func(k string) string { return env[k] }
	args := []string{"--addr", "127.0.0.1:0"}
	// try reads no backing service from the environment: the test's are
	// given as flags.
	for _, k := range []string{"NEEDSBOT_DATABASE_URL", "NEEDSBOT_REDIS_URL", "NEEDSBOT_REDIS_PREFIX"} {
		if v := env[k]; v != "" {
			args = append(args, "--"+flagName(k), v)
		}
	}
	go func() {
		if p == nil {
			r.done <- run(ctx, append([]string{"try"}, args...), getenv, nil, r.out, r.err)
			return
		}
		e := &cmdEnv{getenv: getenv, stdout: r.out, stderr: r.err}
		o, err := parseTry(args, getenv, r.err)
		if err != nil {
			r.done <- 2
			return
		}
		r.done <- (&trial{e: e, o: o, probes: *p}).run(ctx)
	}()
	deadline := time.After(slow(60 * time.Second))
	for r.url == "" {
		if m := chatURLRe.FindStringSubmatch(r.out.String()); m != nil {
			r.url = strings.TrimSuffix(m[1], "/")
			break
		}
		select {
		case code := <-r.done:
			t.Fatalf("try exited %d before serving:\n%s\n%s", code, r.out, r.err)
		case <-deadline:
			t.Fatalf("try did not print its URL:\n%s\n%s", r.out, r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// stop sends the equivalent of Ctrl-C and returns the exit code.
func (r *tryRun) stop() int {
	if r.cancel == nil {
		return 0
	}
	r.cancel()
	r.cancel = nil
	select {
	case code := <-r.done:
		if code != 0 {
			r.t.Errorf("try exited %d:\n%s\n%s", code, r.out, r.err)
		}
		return code
	case <-time.After(slow(30 * time.Second)):
		r.t.Errorf("try did not stop after Ctrl-C:\n%s", r.out)
		return -1
	}
}

// pageClient drives the web chat's API as the page's JavaScript does.
type pageClient struct {
	t    *testing.T
	base string
}

func (c *pageClient) call(method, path string, body, out any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testnet.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatal(err)
		}
	}
}

// pageChat is the part of GET /api/chat the tests read.
type pageChat struct {
	Version  uint64 `json:"version"`
	Pending  int    `json:"pending"`
	Messages []struct {
		ID      int    `json:"id"`
		FromBot bool   `json:"from_bot"`
		HTML    string `json:"html"`
		Buttons [][]struct {
			Text string `json:"text"`
		} `json:"buttons"`
	} `json:"messages"`
}

// screen converts the chat to what a person reads.
func (p pageChat) screen() []shown {
	var out []shown
	for _, m := range p.Messages {
		s := shown{ID: m.ID, FromBot: m.FromBot, Text: tghtml.Plain(m.HTML)}
		for _, row := range m.Buttons {
			var labels []string
			for _, b := range row {
				labels = append(labels, b.Text)
			}
			s.Labels = append(s.Labels, labels)
		}
		out = append(out, s)
	}
	return out
}

// waitIdle long-polls until the bot has handled everything and the chat
// changed since version.
func (c *pageClient) waitIdle(user int64, version uint64) pageChat {
	c.t.Helper()
	deadline := time.Now().Add(slow(30 * time.Second))
	var ch pageChat
	c.call("GET", fmt.Sprintf("/api/chat?user=%d", user), nil, &ch)
	for ch.Pending > 0 || ch.Version == version {
		if time.Now().After(deadline) {
			c.t.Fatalf("the bot did not answer: %+v", ch)
		}
		c.call("GET", fmt.Sprintf("/api/chat?user=%d&since=%d", user, ch.Version), nil, &ch)
	}
	// Pending counts the updates the bot has not acknowledged, and the
	// poller acknowledges a batch's stragglers while their turns still run
	// (bot.Poller's stragglerHold): wait for the bot's own work for this
	// chat too, then read the chat as it is now.
	ctx, cancel := context.WithTimeout(context.Background(), slow(30*time.Second))
	defer cancel()
	if err := waitIdle(ctx, c.t, user); err != nil {
		c.t.Fatalf("the bot did not finish with chat %d: %v", user, err)
	}
	c.call("GET", fmt.Sprintf("/api/chat?user=%d", user), nil, &ch)
	return ch
}

// shown is a message as a person sees it in the chat.
type shown struct {
	ID      int
	FromBot bool
	Text    string
	Labels  [][]string
}

// move is what the person does next.
type move struct {
	done       bool
	msg        int
	row, col   int // the button, when tapping
	label      string
	text       string // what to type, when not tapping
	chooseLang bool
}

var navPrefixes = []string{"◀", "Skip", "Salta", "✓ Done", "✓ Fatto"}

// nextMove answers the interview like answerRest does: the language
// asked for in the picker, an adult age band, the first option of single
// choices, the first option and Done in multiple choices, and comment at a
// text question. tapped remembers the multiple-choice messages already
// ticked.
func nextMove(msgs []shown, language, comment string, tapped map[int]bool) (move, error) {
	if len(msgs) == 0 {
		return move{}, errors.New("empty chat")
	}
	// The interview ends on the card: closing words, no keyboard left.
	live, thanked := false, false
	for _, m := range msgs {
		live = live || m.FromBot && len(m.Labels) > 0
		thanked = thanked || m.FromBot && strings.Contains(m.Text, "Thank you very much")
	}
	if thanked && !live {
		return move{done: true}, nil
	}
	var q *shown
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].FromBot && len(msgs[i].Labels) > 0 {
			q = &msgs[i]
			break
		}
	}
	if q == nil {
		return move{}, fmt.Errorf("no question on screen; last: %+v", msgs[len(msgs)-1])
	}
	type opt struct {
		label    string
		row, col int
	}
	var opts []opt
	done := opt{row: -1}
	ticked := false
	for r, row := range q.Labels {
		for c, l := range row {
			if l == language {
				return move{msg: q.ID, row: r, col: c, label: l, chooseLang: true}, nil
			}
			nav := false
			for _, p := range navPrefixes {
				nav = nav || strings.HasPrefix(l, p)
			}
			ticked = ticked || strings.HasPrefix(l, "✅")
			switch {
			case strings.HasPrefix(l, "✓ "):
				done = opt{l, r, c}
			case !nav:
				opts = append(opts, opt{l, r, c})
			}
		}
	}
	var pick opt
	switch {
	case len(opts) == 0:
		return move{text: comment}, nil
	case done.row >= 0 && ticked:
		// One card holds question after question: a tick on screen, not
		// the message id, says this multi-select was answered.
		pick = done
	case done.row >= 0:
		tapped[q.ID] = true
		pick = opts[0]
	case strings.Contains(opts[0].label, "18") && len(opts) > 2:
		pick = opts[2] // an adult age band
	default:
		pick = opts[0]
	}
	return move{msg: q.ID, row: pick.row, col: pick.col, label: pick.label}, nil
}

// TestTryEmbeddedRedisInterview runs try as a newcomer without Redis would:
// with the embedded miniredis (the local server is made unreachable), a
// Postgres of its own, and a complete interview through the web chat's
// API, from START through the demo invite to the stored response.
func TestTryEmbeddedRedisInterview(t *testing.T) {
	if testing.Short() {
		t.Skip("a complete interview at Telegram's pace takes about 40 s")
	}
	t.Parallel()
	dsn := storagetest.Postgres(t)
	p := trykit.RealProbes()
	p.PingRedis = func(context.Context, string) error { return errors.New("connection refused") }
	r := startTry(t, map[string]string{"NEEDSBOT_DATABASE_URL": dsn}, &p)
	out := r.out.String()
	for _, want := range []string{"Redis      embedded (miniredis in this process", "no Redis at 127.0.0.1:6379",
		"Postgres   postgres://postgres@", "(--database-url)", "Telegram   fake Bot API at http://127.0.0.1:",
		"through the invite /start try-", "operator 4503599627370497 and manager 4503599627370498 are staff of Roma"} {
		if !strings.Contains(out, want) {
			t.Errorf("try's output lacks %q:\n%s", want, out)
		}
	}

	c := &pageClient{t: t, base: r.url}
	var cfg struct {
		Personas []struct {
			Key string `json:"key"`
		} `json:"personas"`
		Languages []struct {
			Code string `json:"code"`
		} `json:"languages"`
	}
	c.call("GET", "/api/config", nil, &cfg)
	if len(cfg.Personas) != 4 || cfg.Personas[0].Key != "respondent" || cfg.Personas[1].Key != "operator" || cfg.Personas[2].Key != "manager" ||
		cfg.Personas[3].Key != "admin" || len(cfg.Languages) != 24 { // 23 and "none"
		t.Fatalf("config: %+v", cfg)
	}
	var s struct {
		User int64 `json:"user"`
	}
	c.call("POST", "/api/session", map[string]any{"persona": "respondent", "lang": "it"}, &s)
	c.call("POST", "/api/start", map[string]any{"user": s.User}, nil)
	ch := c.waitIdle(s.User, 0)
	if first := ch.screen()[1]; first.Labels[0][0] != "Italiano" {
		t.Fatalf("the language hint it did not put Italiano first: %+v", first)
	}
	tapped := map[int]bool{}
	const comment = "Più corsi di sera, per favore."
	steps := 0
	for ; steps < 90; steps++ {
		m, err := nextMove(ch.screen(), "English", comment, tapped)
		if err != nil {
			t.Fatal(err)
		}
		if m.done {
			break
		}
		if m.text != "" {
			c.call("POST", "/api/send", map[string]any{"user": s.User, "text": m.text}, nil)
		} else {
			c.call("POST", "/api/tap", map[string]any{"user": s.User, "message": m.msg, "label": m.label}, nil)
		}
		ch = c.waitIdle(s.User, ch.Version)
	}
	t.Logf("interview done in %d steps", steps)
	if steps >= 90 {
		sc := ch.screen()
		t.Fatalf("the interview did not end; the chat ends with %+v", sc[max(0, len(sc)-4):])
	}
	checkStoredResponse(t, dsn, s.User, "en", comment)
	checkDemoSeed(t, dsn)

	// The manager's page offers to fill the demo with synthetic
	// interviews, so a first /results is not a wall of hidden counts.
	var act struct {
		Text string `json:"text"`
	}
	c.call("POST", "/api/action", map[string]any{"persona": "manager"}, &act)
	if !strings.Contains(act.Text, "synthetic interviews") {
		t.Fatalf("seed action: %q", act.Text)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = conn.QueryRow(context.Background(), `SELECT count(*) FROM responses r JOIN municipalities m ON m.id = r.municipality_id WHERE m.istat_code = '058091'`).Scan(&n)
	conn.Close(context.Background())
	if err != nil || n < 100 {
		t.Fatalf("after the seed action Roma has %d responses (%v)", n, err)
	}

	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.out.String(), "Stopped.") {
		t.Fatalf("no goodbye:\n%s", r.out)
	}
}

// checkStoredResponse waits for the interview's response in Postgres.
func checkStoredResponse(t *testing.T, dsn string, user int64, lang, comment string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(slow(10 * time.Second))
	var n int
	for {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM responses WHERE form = 'immigrati'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n != 1 {
		t.Fatalf("%d responses, want 1", n)
	}
	var gotLang, istat, respondent, stored, invite, service string
	var answers int
	err = conn.QueryRow(ctx, `
		SELECT r.language, m.istat_code, coalesce(r.respondent, ''), coalesce((SELECT i.label FROM invites i WHERE i.id = r.invite_id AND i.revoked_at IS NULL), ''), coalesce(s.code, ''),
		       (SELECT value FROM answers a WHERE a.response_id = r.id AND a.question = 'commenti'),
		       (SELECT count(*) FROM answers a WHERE a.response_id = r.id)
		FROM responses r JOIN municipalities m ON m.id = r.municipality_id LEFT JOIN services s ON s.id = r.service_id`).
		Scan(&gotLang, &istat, &respondent, &invite, &service, &stored, &answers)
	if err != nil {
		t.Fatal(err)
	}
	if gotLang != lang || istat != "058091" || stored != comment || answers < 15 {
		t.Fatalf("response: language %q, municipality %s, comment %q, %d answers", gotLang, istat, stored, answers)
	}
	// The respondent came through the demo invite: the response is
	// attributed to it and to its service.
	if invite != "needsbot try: demo invite" || service != "sportello_immigrati" {
		t.Fatalf("response attributed to invite %q, service %q; want the demo invite of sportello_immigrati", invite, service)
	}
	if respondent == "" || strings.Contains(respondent, strconv.FormatInt(user, 10)) {
		t.Fatalf("respondent stored as %q: want a pseudonym", respondent)
	}
}

// checkDemoSeed checks the demo staff and invite try wrote.
func checkDemoSeed(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var staff, admins, invites int
	err = conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM staff s JOIN municipalities m ON m.id = s.municipality_id
		        WHERE m.istat_code = '058091' AND revoked_at IS NULL AND
		              ((s.telegram_user_id = 4503599627370497 AND s.role = 'operator') OR (s.telegram_user_id = 4503599627370498 AND s.role = 'manager'))),
		       (SELECT count(*) FROM staff WHERE telegram_user_id = 4503599627370499 AND role = 'admin' AND municipality_id IS NULL AND revoked_at IS NULL),
		       (SELECT count(*) FROM invites i JOIN services v ON v.id = i.service_id
		        WHERE i.label = 'needsbot try: demo invite' AND i.revoked_at IS NULL AND i.form = 'immigrati' AND v.code = 'sportello_immigrati')`).Scan(&staff, &admins, &invites)
	if err != nil {
		t.Fatal(err)
	}
	if staff != 2 || admins != 1 || invites != 1 {
		t.Fatalf("demo seed: %d staff, %d admins, %d invites", staff, admins, invites)
	}
}
