//go:build !prod

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/bot/webchat"
	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// defaultTryAddr is where `try` serves the web chat unless --addr says
// otherwise.
const defaultTryAddr = "127.0.0.1:8088"

// tryOptions is `try`'s command line.
type tryOptions struct {
	addr    string
	addrSet bool // --addr given: do not fall back to a free port
	cfg     Config
	redis   string // NEEDSBOT_REDIS_URL as given ("" = not set)
	db      string // NEEDSBOT_DATABASE_URL as given
}

// runTry is `needsbot try`: the real bot against an in-process fake Bot
// API, with a web chat that plays the people on the other side.
func runTry(ctx context.Context, e *cmdEnv, args []string) int {
	o, err := parseTry(args, e.getenv, e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot try:", err)
		return 2
	}
	return (&trial{e: e, o: o, probes: trykit.RealProbes()}).run(ctx)
}

func parseTry(args []string, getenv func(string) string, stderr interface{ Write([]byte) (int, error) }) (tryOptions, error) {
	var o tryOptions
	fs := flag.NewFlagSet("try", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", defaultTryAddr, "where to serve the web chat (host:port; port 0 picks a free one)")
	given := map[string]bool{}
	values := map[string]*string{}
	for _, s := range settings() {
		// try never reads the production variables (database, Redis,
		// pseudonym key, municipality…): only harmless ones. The backing
		// services are try's own unless a flag names them.
		v := ""
		if tryReadsEnv(s.env) {
			v = getenv(s.env)
		}
		switch {
		case v != "":
		case s.env == "NEEDSBOT_REDIS_PREFIX":
			v = "needsbot_try:" // keep apart from a local development bot
		case s.env == "NEEDSBOT_DEFAULT_MUNICIPALITY":
			v = "058091" // Roma: /start works without an invite
		case s.env == "NEEDSBOT_LOG_LEVEL":
			v = "warn" // the terminal is for the person trying it
		case s.env == "NEEDSBOT_INBOUND_LIMIT":
			// One person clicking through a demo taps faster than a
			// respondent: a tap is one edit now, nothing paces it.
			v = "100"
		default:
			v = s.def
		}
		if isTrySetting(s.env) {
			values[s.env] = fs.String(flagName(s.env), v, s.help+" ($"+s.env+")")
		} else {
			values[s.env] = &v
		}
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: needsbot try [flags]\n\n"+
			"Runs needsbot locally with no Telegram token: the real bot, a fake Telegram\n"+
			"Bot API in the process, and a web page that plays a Telegram chat on a phone.\n"+
			"Redis and PostgreSQL are found or started for you; it prints what it chose.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "addr" {
			o.addrSet = true
		}
		for _, s := range settings() {
			if flagName(s.env) == f.Name {
				given[s.env] = true
			}
		}
	})
	var problems []string
	for _, s := range settings() {
		if err := s.set(&o.cfg, *values[s.env]); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.env, err))
		}
	}
	if given["NEEDSBOT_REDIS_URL"] {
		o.redis = o.cfg.RedisURL
	}
	if given["NEEDSBOT_DATABASE_URL"] {
		o.db = o.cfg.DatabaseURL
	}
	// The URLs try chooses itself are valid; check what the user gave.
	problems = append(problems, o.cfg.validateCommon()...)
	if o.cfg.PseudonymKey == "" {
		o.cfg.PseudonymKey = newPseudonymKey() // a new one each run: nothing here is kept for long
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
}

// tryReadsEnv tells the NEEDSBOT_* variables try takes from the
// environment: none that could point it at production data or identities.
func tryReadsEnv(env string) bool {
	switch env {
	case "NEEDSBOT_LOG_LEVEL", "NEEDSBOT_FORMS_DIR", "NEEDSBOT_MIN_CELL":
		return true
	}
	return false
}

// isTrySetting tells the NEEDSBOT_* settings that make sense for `try`
// and so are also flags of it; the Telegram, webhook and listener
// settings are try's own business.
func isTrySetting(env string) bool {
	switch env {
	case "NEEDSBOT_REDIS_URL", "NEEDSBOT_REDIS_PREFIX", "NEEDSBOT_DATABASE_URL", "NEEDSBOT_PSEUDONYM_KEY",
		"NEEDSBOT_LOG_LEVEL", "NEEDSBOT_FORMS_DIR", "NEEDSBOT_DEFAULT_MUNICIPALITY", "NEEDSBOT_MIN_CELL":
		return true
	}
	return false
}

// newPseudonymKey returns a random pseudonym key: 32 bytes, hex.
func newPseudonymKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// trial is one run of `try`.
type trial struct {
	e      *cmdEnv
	o      tryOptions
	probes trykit.Probes
}

func (t *trial) say(format string, args ...any) { fmt.Fprintf(t.e.stdout, format+"\n", args...) }

func (t *trial) run(ctx context.Context) int {
	cfg := t.o.cfg
	t.say("needsbot try: the real bot, a fake Telegram and a web chat, all on this machine.\n")

	rb, err := trykit.ChooseRedis(ctx, t.probes, t.o.redis)
	if err != nil {
		fmt.Fprintln(t.e.stderr, "needsbot try:", err)
		return 1
	}
	defer rb.Close()
	t.say("  Redis      %s", rb.What)
	pg, err := trykit.ChoosePostgres(ctx, t.probes, t.o.db)
	if err != nil {
		fmt.Fprintln(t.e.stderr, "needsbot try:", err)
		return 1
	}
	defer pg.Close()
	if t.probes.CheckDemo != nil {
		if err := t.probes.CheckDemo(ctx, pg.URL); err != nil {
			fmt.Fprintf(t.e.stderr, "needsbot try: refusing %s: %v.\n"+
				"try only uses its own database (needsbot_try, or a throwaway cluster) or an empty or demo one given with --database-url.\n",
				storage.RedactURL(pg.URL), err)
			return 1
		}
	}
	t.say("  Postgres   %s", pg.What)

	tg := telegramtest.NewServer(telegramtest.WithBotName("needsbot"), telegramtest.WithBotUsername("needsbot_try_bot"))
	defer tg.Close()
	t.say("  Telegram   fake Bot API at %s (no token needed), bot @%s", tg.URL, tg.BotUsername())

	cfg.RedisURL, cfg.DatabaseURL = rb.URL, pg.URL
	cfg.TelegramToken, cfg.TelegramAPIURL = tg.Token(), tg.URL
	cfg.WebhookURL, cfg.WebhookSecret = "", ""
	log := slog.New(slog.NewTextHandler(t.e.stderr, &slog.HandlerOptions{Level: tryLogLevel(cfg.LogLevel)}))

	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(t.e.stderr, "needsbot try:", err)
		return 1
	}
	cfg.ListenAddr = appLn.Addr().String()
	a, err := newApp(ctx, cfg, log, &appHooks{listener: appLn})
	if err != nil {
		appLn.Close()
		fmt.Fprintln(t.e.stderr, "needsbot try: the bot did not start:", err)
		return 1
	}
	demo, otherISTAT, err := seedDemo(ctx, a, cfg.DefaultMunicipality)
	if err != nil {
		// The respondent side works without it; say what is missing.
		fmt.Fprintln(t.e.stderr, "needsbot try: demo staff and invite not set up:", err)
	}
	t.say("  Bot        polling; health at http://%s/healthz, metrics at /metrics", cfg.ListenAddr)
	t.say("  Demo       %s", demo.Describe(cfg.DefaultMunicipality))
	t.say("             the manager's page offers to fill the demo with %d synthetic interviews, so /results has charts at once", trykit.DemoSeedN)
	var seedBoth func(context.Context) (string, error)
	if otherISTAT != "" {
		seedBoth = seedAction(a, cfg.DefaultMunicipality, otherISTAT)
		t.say("             the admin's with %d in each of %s and %s, so the comparison of municipalities has numbers", trykit.DemoSeedN, demo.Municipality, demo.Other)
	}

	ln, err := t.listen()
	if err != nil {
		a.close()
		fmt.Fprintln(t.e.stderr, "needsbot try:", err)
		return 1
	}
	page := webchat.New(tg, webchat.Options{Title: "needsbot", Personas: demo.Personas(seedAction(a, cfg.DefaultMunicipality), seedBoth), Languages: tryLanguages(a.cat), Logger: log,
		TimeZone: pgstore.ResultsZone,
		// "typing…" lasts while the bot's intake works on the chat (a
		// private chat's id is its user's).
		WaitIdle: a.intake.WaitIdle})
	// Long polls of the page end with this context, so that the web
	// server can shut down at once.
	pageCtx, stopPage := context.WithCancel(context.WithoutCancel(ctx))
	srv := &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return pageCtx }}

	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	appDone := make(chan error, 1)
	go func() { appDone <- a.serve(appCtx) }()
	pageDone := make(chan error, 1)
	go func() { pageDone <- srv.Serve(ln) }()

	t.say("\n  Open the chat:  http://%s/\n", ln.Addr())
	t.say("  Be a respondent (press START), an operator, a manager or an admin: switch on the page.")
	t.say("  Press Ctrl-C to stop.")

	code := 0
	select {
	case <-ctx.Done():
	case err := <-appDone:
		fmt.Fprintln(t.e.stderr, "needsbot try: the bot stopped:", err)
		appDone <- err
		code = 1
	case err := <-pageDone:
		fmt.Fprintln(t.e.stderr, "needsbot try: the web chat stopped:", err)
		code = 1
	}
	t.say("\nStopping…")
	stopPage()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(shut)
	cancel()
	stopApp()
	if err := <-appDone; err != nil && code == 0 {
		fmt.Fprintln(t.e.stderr, "needsbot try: the bot stopped with an error:", err)
		code = 1
	}
	tg.Close()
	pg.Close()
	rb.Close()
	t.say("Stopped.")
	return code
}

// listen opens the web chat's listener: --addr, or the default address,
// falling back to a free port when the default is taken.
func (t *trial) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", t.o.addr)
	if err == nil || t.o.addrSet {
		if err != nil {
			return nil, fmt.Errorf("web chat: %w (choose another with --addr)", err)
		}
		return ln, nil
	}
	host, _, _ := net.SplitHostPort(t.o.addr)
	ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, fmt.Errorf("web chat: %w", err)
	}
	t.say("  (%s is taken; using a free port)", t.o.addr)
	return ln, nil
}

func tryLogLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// tryLanguages are the choices of the page's language selector: the
// respondents' languages, and a client that sends no language_code.
func tryLanguages(cat *locales.Catalog) []webchat.Language {
	var out []webchat.Language
	for _, l := range cat.Languages() {
		out = append(out, webchat.Language{Code: l.Code, Name: l.Name, RTL: l.RTL})
	}
	return append(out, webchat.Language{Code: "", Name: "(not sent)"})
}
