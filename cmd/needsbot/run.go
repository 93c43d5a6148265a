package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/schedule"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/durable"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// runRun is `needsbot run`: the bot in production.
func runRun(ctx context.Context, e *cmdEnv, args []string) int {
	cfg, _, err := loadConfig("run", args, e.getenv, e.stderr)
	if errors.Is(err, flagHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	if err := cfg.validateRun(); err != nil {
		fmt.Fprintln(e.stderr, "needsbot run: configuration problems:\n"+err.Error())
		return 2
	}
	tuneGC(e.getenv) // memory.go
	log := newLogger(e.stderr, cfg.LogLevel)
	startPprof(e.getenv, log)
	a, err := newApp(ctx, cfg, log, nil)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	if err := a.serve(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

func newLogger(w interface{ Write([]byte) (int, error) }, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// app is a running needsbot: what run and try share.
type app struct {
	cfg      Config
	log      *slog.Logger
	rdb      redis.UniversalClient
	db       *pgstore.DB
	store    *redisstore.Store
	quiet    schedule.Quiet // reminders: no sends in these hours (wire_remind.go)
	durable  *durable.Responses
	abandon  *durable.Abandonment // records abandoned interviews (the core's expiry, and the sweep)
	now      func() time.Time     // the core's and the scheduler's clock (clockHook), nil = time.Now
	lib      *formlib.Live        // the questionnaires in force, reloaded live (wire_forms.go)
	forms    *dialog.Library      // the first snapshot's, for what is not reloaded
	cat      *locales.Catalog     // the first snapshot's
	api      *tg.Bot
	sender   *bot.Sender
	handler  *bot.Handler
	intake   *bot.Intake
	metrics  *metrics
	username string
	httpc    *http.Client
	listener net.Listener

	builds formBuilds // the published versions that did not load (wire_forms.go)
}

// appHooks let `try` and tests adjust the wiring.
type appHooks struct {
	httpClient *http.Client // Bot API client (default: tuned keep-alive transport)
	listener   net.Listener // HTTP listener (default: cfg.ListenAddr)
}

// httpClient keeps enough idle connections to the Bot API: the default
// transport keeps 2 per host, which means a new TLS handshake for most
// calls under load (DESIGN.md).
func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: bufferedBodies{t}, Timeout: 60 * time.Second}
}

// directClient is the client of the Sender's direct calls (bot.DirectAPI):
// c over its bare *http.Transport (the same connections). Their bodies
// have a Content-Length already, and with a transport it knows,
// http.Client applies its Timeout through the request's context — nothing
// at all when the caller's deadline is sooner, as a turn's 30 s is —
// instead of a timer, two channels and a goroutine per call (issue 19:
// ~1 % of the bot's CPU in polling).
func directClient(c *http.Client) *http.Client {
	b, ok := c.Transport.(bufferedBodies)
	if !ok {
		return c
	}
	d := *c
	d.Transport = b.next
	return &d
}

// bufferedBodies sends each request body with a Content-Length:
// go-telegram/bot streams multipart bodies through an io.Pipe, which
// net/http sends chunked in many small writes (DESIGN.md). Measured with
// the load test: write(2) calls per update 31.7 → 6.0, bot CPU per update
// 0.75 → 0.62 ms.
type bufferedBodies struct{ next http.RoundTripper }

func (b bufferedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength > 0 {
		return b.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	c := r.Clone(r.Context())
	c.ContentLength = int64(len(body))
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return b.next.RoundTrip(c)
}

func newApp(ctx context.Context, cfg Config, log *slog.Logger, hooks *appHooks) (*app, error) {
	if hooks == nil {
		hooks = &appHooks{}
	}
	a := &app{cfg: cfg, log: log, metrics: newMetrics(), httpc: hooks.httpClient, listener: hooks.listener}
	if a.httpc == nil {
		a.httpc = httpClient()
	}
	var err error
	// Migrations run at start under an advisory lock: replicas never race.
	if err := pgstore.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", redactURL(cfg.DatabaseURL), err)
	}
	if a.db, err = pgstore.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := a.loadForms(ctx); err != nil { // wire_forms.go
		return nil, err
	}
	if err := a.syncReporting(ctx); err != nil { // wire_results.go
		log.Warn("BI reporting labels not refreshed", "err", err)
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("NEEDSBOT_REDIS_URL: %w", err)
	}
	redisBuffers(opt) // memory.go
	rc := redis.NewClient(opt)
	if h, ok := ctx.Value(redisHook{}).(redis.Hook); ok {
		rc.AddHook(h)
	}
	a.rdb = rc
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", redactURL(cfg.RedisURL), err)
	}
	// The store's commands of chats in flight at the same time share
	// writes and reads on one connection (redisstore.Batched); closing
	// a.rdb drains them.
	var storeRDB redis.UniversalClient = rc
	if cfg.RedisBatching {
		if storeRDB, err = redisstore.Batched(rc); err != nil {
			return nil, err
		}
	}
	a.store = redisstore.New(storeRDB, redisstore.Options{Prefix: cfg.RedisPrefix, StateTTL: cfg.StateTTL,
		KeySecret: []byte(cfg.PseudonymKey), TailDelay: cfg.TailDelay})
	// The scripts are in Redis's cache before the first turn needs them:
	// otherwise, after a deploy that changes one or a Redis restart, every
	// chat in flight gets NOSCRIPT and sends the script again. Not fatal:
	// the store falls back to EVAL.
	loadCtx, loadCancel := context.WithTimeout(ctx, 5*time.Second)
	if err := a.store.LoadScripts(loadCtx); err != nil {
		log.Warn("redis scripts not preloaded; the first turns will send them", "err", err)
	}
	loadCancel()
	a.durable = durable.NewResponses(a.db, a.store, log)

	a.api, err = tg.New(cfg.TelegramToken, tg.WithServerURL(cfg.TelegramAPIURL), tg.WithHTTPClient(time.Minute, bot.APIClient(a.httpc)),
		tg.WithSkipGetMe(), tg.WithErrorsHandler(func(err error) { log.Warn("telegram client", "err", err) }))
	if err != nil {
		return nil, fmt.Errorf("telegram client: %w", err)
	}
	me, err := a.api.GetMe(ctx)
	if err != nil {
		return nil, fmt.Errorf("telegram getMe (is the token right?): %w", err)
	}
	a.username = me.Username
	var global bot.Limiter = rate.NewLimiter(rate.Limit(cfg.TelegramRate), 5)
	var shared bot.ChatPacer
	if cfg.WebhookURL != "" {
		// Replicas share Telegram's per-bot budget through Redis, and each
		// chat's: a balancer without chat affinity spreads one chat's
		// updates over the replicas (issue 17: two replicas pacing a
		// flooding chat at 1/s each earned 429s).
		global = a.store.Limiter("telegram:global", int(cfg.TelegramRate))
		shared = chatPacer{s: a.store, key: []byte(cfg.PseudonymKey), rate: cfg.TelegramChatRate, burst: chatBurst}
	}
	a.sender = bot.NewSender(a.api, bot.SenderOptions{Global: global, SharedChat: shared, ChatRate: rate.Limit(cfg.TelegramChatRate),
		ChatBurst: chatBurst, Logger: log, Observer: a.metrics, Direct: bot.NewDirectAPI(cfg.TelegramAPIURL, cfg.TelegramToken, bot.DirectDoer(directClient(a.httpc)))})
	key := []byte(cfg.PseudonymKey)
	var defaultCtx map[string]string
	if cfg.DefaultMunicipality != "" {
		id, err := a.db.MunicipalityID(ctx, cfg.DefaultMunicipality)
		if err != nil {
			return nil, fmt.Errorf("NEEDSBOT_DEFAULT_MUNICIPALITY %s: %w", cfg.DefaultMunicipality, err)
		}
		defaultCtx = map[string]string{interview.CtxMunicipality: strconv.FormatInt(id, 10)}
	}
	staffHandler, invites, err := a.wireStaff(ctx)
	if err != nil {
		return nil, err
	}
	inbound := throttle{s: a.store, limit: cfg.InboundLimit}
	ccfg := interview.Config{
		Library: a.lib, DefaultForm: cfg.DefaultForm, Sessions: completingSessions{sessions: sessions{s: a.store, inbound: inbound}, rec: responses{d: a.durable, lib: a.lib}}, Responses: responses{d: a.durable, lib: a.lib}, Outbox: responses{d: a.durable, lib: a.lib}, Invites: invites,
		Messages: messageLog{a.store}, Logger: log, Events: a.metrics, DefaultContext: defaultCtx,
		Pseudonym: func(user int64) string { return storage.Pseudonym(key, user) },
		LogKey:    func(chat int64) string { return storage.Keyed(key, "log", chat) },
	}
	hcfg := bot.Config{
		Staff: staffHandler, Library: a.lib,
		Throttle: inbound,
		Sender:   a.sender, Username: a.username, Logger: log, Events: a.metrics,
		PopularLanguages: popularLanguages(a.db.LanguageCache(4, cfg.MinCell, 10*time.Minute, nil)),
		Directory:        pgDirectory{db: a.db, visible: a.db.DirectoryCache(directoryTTL, nil), now: time.Now},
	}
	if now, ok := ctx.Value(clockHook{}).(func() time.Time); ok {
		ccfg.Now = now
		a.now = now
	}
	// Interviews past consent expire through a scheduled job (wire_remind.go).
	a.abandon = &durable.Abandonment{DB: a.db, Store: a.store, Observer: a.metrics, Logger: log}
	ccfg.ExpireAfter, ccfg.Abandonments = cfg.StateTTL, abandonments{a.abandon}
	if err := a.wireReminders(&ccfg, &hcfg); err != nil { // wire_remind.go
		return nil, err
	}
	a.wirePublished(ctx, &ccfg) // wire_published.go
	hcfg.Core = interview.New(ccfg)
	a.handler = bot.NewHandler(hcfg)
	a.intake = bot.NewIntake(a.handler, bot.IntakeOptions{Workers: cfg.Workers, OutageWindow: cfg.OutageWindow, Logger: log})
	return a, nil
}

// chatBurst is how many new messages may go to one chat at once (then
// NEEDSBOT_TELEGRAM_CHAT_RATE a second): a new respondent's first turn
// needs three at most (issue 17).
const chatBurst = 3

// clockHook is the context key of a func() time.Time that replaces the
// interview core's and the scheduler's clock: the end-to-end tests of the
// quiet hours run the real binary at 22:30 and at 10:00 Rome time
// whatever the hour, those of expiry a month later.
type clockHook struct{}

// redisHook is the context key of a redis.Hook added to the bot's Redis
// client (end-to-end tests: the commands a chat's turns send).
type redisHook struct{}

// intakeHook is the context key of a func(*bot.Intake) that serve calls
// with the running intake (end-to-end tests: Intake.WaitIdle).
type intakeHook struct{}

// formsHook is the context key of a func(*formlib.Live) that serve calls
// with the live questionnaires (end-to-end tests: Live.OnSwap).
type formsHook struct{}

// formsCheckHook is the context key of a time.Duration that replaces
// formsCheckEvery (end-to-end tests turn the periodic check off, so that
// only a publication's notification can bring a reload).
type formsCheckHook struct{}

// flagHelp is flag.ErrHelp under a local name.
var flagHelp = flag.ErrHelp

// serve runs until ctx is cancelled, then shuts down gracefully: stop
// taking updates, finish in-flight ones, flush the outbox.
func (a *app) serve(ctx context.Context) error {
	log := a.log
	if err := a.registerCommands(ctx); err != nil {
		log.Warn("setMyCommands failed", "err", err)
	}
	if hook, ok := ctx.Value(intakeHook{}).(func(*bot.Intake)); ok {
		hook(a.intake) // tests wait on it for a chat's updates to be applied
	}
	if hook, ok := ctx.Value(formsHook{}).(func(*formlib.Live)); ok {
		hook(a.lib) // tests wait for a publication to be in force
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", a.ready)
	// Uncompressed: the page is some 10–30 KB, and a gzip writer is ~0.8
	// MB of heap (promhttp pools it, but the pool is empty again after two
	// collections, so every scrape makes a new one), taken at each scrape
	// on top of whatever the heap holds then (issue 19, peak RSS).
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{DisableCompression: true}))
	if a.cfg.WebhookURL != "" {
		u, _ := url.Parse(a.cfg.WebhookURL)
		path := u.Path
		if path == "" {
			path = "/"
		}
		mux.Handle("POST "+path, a.intake.Webhook(a.cfg.WebhookSecret))
	}
	ln := a.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.ListenAddr); err != nil {
			return fmt.Errorf("listen %s: %w", a.cfg.ListenAddr, err)
		}
	}
	srv := newHTTPServer(mux)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(6)
	go func() { defer wg.Done(); a.watchForms(bg) }()
	go func() { defer wg.Done(); a.store.RunTails(bg) }() // last flush after intake.Stop
	go func() { defer wg.Done(); _ = a.durable.Run(bg) }()
	go func() { defer wg.Done(); a.jobLoop(bg) }()
	go func() { defer wg.Done(); a.abandon.Run(bg) }() // the safety net: sessions without an expiry job
	go func() { defer wg.Done(); (&durable.Retention{DB: a.db, Age: a.cfg.Retention, Logger: a.log}).Run(bg) }()

	poll, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	var poller *bot.Poller
	if a.cfg.WebhookURL != "" {
		close(pollDone)
		if _, err := a.api.SetWebhook(ctx, &tg.SetWebhookParams{URL: a.cfg.WebhookURL, SecretToken: a.cfg.WebhookSecret,
			AllowedUpdates: allowedUpdates, MaxConnections: 40}); err != nil && ctx.Err() == nil {
			// (A shutdown asked for while setWebhook ran is not a failure:
			// the run stops below as on any shutdown, and exits 0.)
			log.Error("setWebhook failed", "err", err)
			errc <- fmt.Errorf("setWebhook: %w", err)
		}
		log.Info("needsbot running", "mode", "webhook", "listen", ln.Addr().String(), "bot", a.username)
	} else {
		if _, err := a.api.DeleteWebhook(ctx, &tg.DeleteWebhookParams{}); err != nil {
			log.Warn("deleteWebhook failed", "err", err)
		}
		// The journal keeps updates confirmed before they were applied
		// (a kill -9 loses none).
		p := &bot.Poller{Intake: a.intake, Client: a.httpc, APIURL: a.cfg.TelegramAPIURL, Token: a.cfg.TelegramToken,
			AllowedUpdates: allowedUpdates, Logger: log, Journal: a.store,
			// Taps are answered as a batch arrives, while the stores
			// answer (issue 19: first-reply latency).
			Ready: a.storesReachable, EarlyLimit: a.cfg.InboundLimit}
		poller = p
		go func() { defer close(pollDone); _ = p.Run(poll) }()
		log.Info("needsbot running", "mode", "polling", "listen", ln.Addr().String(), "bot", a.username)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	stopPoll()
	<-pollDone
	_ = srv.Shutdown(shut) // waits for webhook requests in flight
	a.intake.Stop()        // finishes queued and in-flight updates
	if poller != nil {
		if err := poller.FlushJournal(shut); err != nil {
			log.Warn("update journal not flushed at shutdown", "err", err)
		}
	}
	if n, err := a.durable.Flush(shut); err != nil {
		log.Warn("outbox not fully flushed at shutdown; it stays in Redis", "flushed", n, "err", err)
	}
	stopBG()
	wg.Wait()
	a.close()
	return runErr
}

// HTTP server timeouts: a slow or idle client cannot hold connections
// (file descriptors) open. The write timeout covers a webhook update's
// whole handling (its deadline is 30 s, bot/intake.go) before the reply.
const (
	httpReadTimeout  = 15 * time.Second
	httpWriteTimeout = 45 * time.Second
	httpIdleTimeout  = 60 * time.Second
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: httpReadTimeout,
		WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout}
}

var allowedUpdates = []string{"message", "edited_message", "callback_query", "channel_post", "my_chat_member"}

func (a *app) close() {
	if a.db != nil {
		a.db.Close()
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
}

// storesReachable pings Redis and Postgres at once.
func (a *app) storesReachable(ctx context.Context) error {
	pg := make(chan error, 1)
	go func() { pg <- a.db.Ping(ctx) }()
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	return <-pg
}

// ready is /readyz: Redis and Postgres reachable, migrations current.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		problems = append(problems, "redis: unreachable")
	}
	if err := a.db.Ping(ctx); err != nil {
		problems = append(problems, "postgres: unreachable")
	} else if ok, err := a.db.MigrationsCurrent(ctx); err != nil || !ok {
		problems = append(problems, "postgres: migrations not current")
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		return
	}
	w.Write([]byte("ready\n"))
}

// registerCommands sets the command menu in every language, and a default.
func (a *app) registerCommands(ctx context.Context) error {
	var errs []error
	for _, l := range append([]locales.Language{{Code: ""}}, a.cat.Languages()...) {
		lang := l.Code
		if lang == "" {
			lang = locales.Source
		}
		var cmds []tgmodels.BotCommand
		for _, c := range bot.Commands() {
			cmds = append(cmds, tgmodels.BotCommand{Command: c, Description: a.handler.Renderer().Plain(lang, "b.cmd."+c, nil)})
		}
		// Telegram takes two-letter ISO 639-1 codes (zh, not zh-Hans).
		code, _, _ := strings.Cut(l.Code, "-")
		if err := a.sender.SetCommands(ctx, code, cmds); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
