package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the bot token a Server accepts unless WithToken says
// otherwise.
const DefaultToken = "123456:TEST"

// DefaultBotUsername is the bot's username unless WithBotUsername says
// otherwise.
const DefaultBotUsername = "needsbot_test_bot"

// Bounds on what a Server keeps in memory.
const (
	defaultHistoryLimit = 10_000
	maxViolations       = 10_000
	maxPendingUpdates   = 100_000
	maxStoredFiles      = 1_000
)

type config struct {
	addr            string
	token           string
	username        string
	botName         string
	clock           func() time.Time
	limits          RateLimits
	logger          *slog.Logger
	webhookBackoff  time.Duration
	webhookAttempts int
	webhookTimeout  time.Duration
	historyLimit    int
	callbackTimeout time.Duration
	groupPrivacy    bool
	strictHTML      bool
	recordRequests  bool
}

// Option configures a Server.
type Option func(*config)

// WithToken sets the one token the server accepts.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithBotUsername sets the bot's username (without "@").
func WithBotUsername(username string) Option {
	return func(c *config) { c.username = strings.TrimPrefix(username, "@") }
}

// WithBotName sets the bot's first name, as getMe reports it.
func WithBotName(name string) Option { return func(c *config) { c.botName = name } }

// WithClock sets the clock for message dates, rate limits, callback query
// expiry and chat actions. It defaults to time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithRateLimits replaces DefaultRateLimits.
func WithRateLimits(l RateLimits) Option { return func(c *config) { c.limits = l } }

// WithoutRateLimits turns flood control off.
func WithoutRateLimits() Option { return func(c *config) { c.limits = RateLimits{} } }

// WithLogger sets where the server logs each call (at debug level) and each
// webhook failure. It defaults to discarding.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithAddr sets the listen address; it defaults to "127.0.0.1:0".
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithWebhookRetry sets the backoff before the first redelivery of a webhook
// update (doubling after each further failure, capped at 5 s) and the number
// of attempts after which the update is dropped. Defaults: 50 ms, 5.
func WithWebhookRetry(backoff time.Duration, attempts int) Option {
	return func(c *config) { c.webhookBackoff, c.webhookAttempts = backoff, max(1, attempts) }
}

// WithWebhookTimeout bounds one webhook delivery; it defaults to 10 s.
func WithWebhookTimeout(d time.Duration) Option { return func(c *config) { c.webhookTimeout = d } }

// WithHistoryLimit sets how many messages and taps each chat remembers; it
// defaults to 10,000.
func WithHistoryLimit(n int) Option { return func(c *config) { c.historyLimit = max(1, n) } }

// WithCallbackTimeout sets how long, by the clock, a callback query can be
// answered; it defaults to 15 s.
func WithCallbackTimeout(d time.Duration) Option { return func(c *config) { c.callbackTimeout = d } }

// WithGroupPrivacy sets the bot's privacy mode in groups (on by default, as
// for new bots): when on, the bot receives only commands, replies to its own
// messages and messages mentioning it.
func WithGroupPrivacy(on bool) Option { return func(c *config) { c.groupPrivacy = on } }

// WithStrictHTML makes a bare '&' in HTML text a 400 error instead of a Code 0
// Violation.
func WithStrictHTML() Option { return func(c *config) { c.strictHTML = true } }

// WithRequestLog makes the server keep every call it receives, in order,
// for Requests: what Telegram would have been asked (goldens of the bot's
// output). Off by default, so that long runs (try, the load test) keep no
// history.
func WithRequestLog() Option { return func(c *config) { c.recordRequests = true } }

// Request is one Bot API call as the server received it.
type Request struct {
	Method string            // canonical name, e.g. "sendMessage"
	ChatID int64             // the chat_id parameter, 0 if none
	Params map[string]string // every parameter as text; JSON values (reply_markup) as their JSON; files by name
	Code   int               // the error code answered, 0 on success
}

// Violation is a call the bot should not have made, or a webhook delivery it
// failed.
type Violation struct {
	At     time.Time
	Method string // "webhook" for a failed webhook delivery
	ChatID int64  // 0 when unknown
	// Code is the error code the server answered with, or the bot's HTTP
	// status for a webhook delivery (502 when the connection failed, 504 on a
	// timeout). Code 0 marks a call Telegram accepts but that almost surely
	// is a bug, such as unescaped '&' in HTML.
	Code        int
	Description string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s chat %d: %d %s", v.Method, v.ChatID, v.Code, v.Description)
}

type failure struct {
	code      int
	desc      string
	remaining int
}

// Server is a fake Telegram Bot API server. Create it with NewServer.
type Server struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234", for
	// bot.WithServerURL.
	URL string

	cfg      config
	bot      wireUser
	srv      *http.Server
	ln       net.Listener
	hooks    *http.Client
	closing  chan struct{}
	closeMu  sync.Once
	routines sync.WaitGroup

	mu           sync.Mutex
	closed       bool
	chats        map[int64]*chatState
	users        map[int64]*User
	callbacks    map[string]*callbackQuery
	nextCallback int64
	nextUpdateID int64
	queue        []*pendingUpdate // every unacknowledged update, by id
	pending      int              // how many of queue are not done
	queueChanged chan struct{}
	allowed      []string // allowed_updates; nil means Telegram's default
	poller       *poller
	webhook      *webhookState
	ready        []*chatState // chats with updates waiting for a webhook slot
	inflight     int
	lastHookErr  time.Time
	lastHookMsg  string
	global       bucket
	commands     map[commandKey][]botCommand
	menuButtons  map[int64]json.RawMessage
	files        map[string]*File
	fileOrder    []string
	nextFile     int64
	calls        map[string]int
	total        int
	requests     []Request // with WithRequestLog
	violations   []Violation
	failures     map[string][]*failure
}

// NewServer starts a server listening on a loopback port. It panics if it
// cannot listen, like httptest.NewServer. Close it when done.
func NewServer(opts ...Option) *Server {
	cfg := config{
		addr:            "127.0.0.1:0",
		token:           DefaultToken,
		username:        DefaultBotUsername,
		botName:         "needsbot (test)",
		clock:           time.Now,
		limits:          DefaultRateLimits(),
		logger:          slog.New(slog.DiscardHandler),
		webhookBackoff:  50 * time.Millisecond,
		webhookAttempts: 5,
		webhookTimeout:  10 * time.Second,
		historyLimit:    defaultHistoryLimit,
		callbackTimeout: 15 * time.Second,
		groupPrivacy:    true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	botID, _ := strconv.ParseInt(strings.Split(cfg.token, ":")[0], 10, 64)
	yes, privacyOff, no := true, !cfg.groupPrivacy, false
	s := &Server{
		cfg: cfg,
		bot: wireUser{
			ID: botID, IsBot: true, FirstName: cfg.botName, Username: cfg.username,
			CanJoinGroups: &yes, CanReadAllGroupMessages: &privacyOff, SupportsInlineQueries: &no,
		},
		hooks: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // webhooks are local; never go through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        200,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     30 * time.Second,
		}},
		closing:      make(chan struct{}),
		chats:        map[int64]*chatState{},
		users:        map[int64]*User{},
		callbacks:    map[string]*callbackQuery{},
		queueChanged: make(chan struct{}),
		nextUpdateID: 100_000,
		commands:     map[commandKey][]botCommand{},
		menuButtons:  map[int64]json.RawMessage{},
		files:        map[string]*File{},
		calls:        map[string]int{},
		failures:     map[string][]*failure{},
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: failed to listen on %s: %v", cfg.addr, err))
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.routines.Add(2)
	go func() {
		defer s.routines.Done()
		_ = s.srv.Serve(ln)
	}()
	go s.dispatchWebhooks()
	return s
}

// Close stops the server: it ends long polls, stops webhook deliveries and
// waits for requests in progress to finish.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		if s.webhook != nil {
			s.webhook.cancel()
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		s.routines.Wait()
		s.hooks.CloseIdleConnections()
	})
}

// Token returns the token the server accepts.
func (s *Server) Token() string { return s.cfg.token }

// BotID returns the bot's user id, the number before the colon in the token.
func (s *Server) BotID() int64 { return s.bot.ID }

// BotUsername returns the bot's username, without "@".
func (s *Server) BotUsername() string { return s.bot.Username }

func (s *Server) now() time.Time { return s.cfg.clock() }

// Calls returns how many times each method was called, by its canonical name
// (unknown methods by the name used).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Requests returns the calls received so far, oldest first, when the server
// was made WithRequestLog (nil otherwise). Injected failures are not
// requests the server answered and are left out.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TotalCalls returns how many calls the server answered, of any method.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Violations returns every error answer the server gave (except those
// injected with FailNext), every failed webhook delivery, and every call
// accepted with a warning (Code 0), oldest first.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// ClearViolations forgets the violations recorded so far, for tests that
// provoke some on purpose before asserting that a later phase has none.
func (s *Server) ClearViolations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = nil
}

// violate records a violation; s.mu must be held.
func (s *Server) violate(v Violation) {
	if v.At.IsZero() {
		v.At = s.now()
	}
	if len(s.violations) >= maxViolations {
		s.violations = s.violations[1:]
	}
	s.violations = append(s.violations, v)
}

// FailNext makes the next n calls of method fail with the given error code
// and description (e.g. 429, "Too Many Requests: retry after 3" — for 429 the
// retry_after parameter is taken from the description, default 1). Injected
// failures are not recorded as violations.
func (s *Server) FailNext(method string, code int, description string, n int) {
	f := &failure{code: code, desc: description, remaining: n}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(method)
	s.failures[key] = append(s.failures[key], f)
}

// injected returns the next injected failure for method; s.mu must be held.
func (s *Server) injected(method string) *apiError {
	key := strings.ToLower(method)
	list := s.failures[key]
	for len(list) > 0 && list[0].remaining <= 0 {
		list = list[1:]
	}
	if len(list) == 0 {
		delete(s.failures, key)
		return nil
	}
	f := list[0]
	f.remaining--
	s.failures[key] = list
	e := &apiError{code: f.code, desc: f.desc}
	if f.code == http.StatusTooManyRequests {
		e.retryAfter = 1
		if _, after, ok := strings.Cut(f.desc, "retry after "); ok {
			digits := strings.TrimRightFunc(after, func(r rune) bool { return r < '0' || r > '9' })
			if n, err := strconv.Atoi(digits); err == nil && n > 0 {
				e.retryAfter = n
			}
		}
	}
	return e
}

// call is one Bot API call in progress.
type call struct {
	ctx         context.Context
	method      string
	p           params
	chatID      int64
	warnings    []string
	description string // a description on success, like "Webhook was set"
}

type handler func(*call) (any, *apiError)

// method resolves a case-insensitive method name to its canonical name and
// handler (nil if not implemented).
func (s *Server) method(name string) (string, handler) {
	switch strings.ToLower(name) {
	case "getme":
		return "getMe", s.getMe
	case "getupdates":
		return "getUpdates", s.getUpdates
	case "setwebhook":
		return "setWebhook", s.setWebhook
	case "deletewebhook":
		return "deleteWebhook", s.deleteWebhook
	case "getwebhookinfo":
		return "getWebhookInfo", s.getWebhookInfo
	case "sendmessage":
		return "sendMessage", s.sendMessage
	case "sendvenue":
		return "sendVenue", s.sendVenue
	case "editmessagetext":
		return "editMessageText", s.editMessageText
	case "editmessagereplymarkup":
		return "editMessageReplyMarkup", s.editMessageReplyMarkup
	case "answercallbackquery":
		return "answerCallbackQuery", s.answerCallbackQuery
	case "sendphoto":
		return "sendPhoto", func(c *call) (any, *apiError) { return s.sendMedia(c, KindPhoto) }
	case "senddocument":
		return "sendDocument", func(c *call) (any, *apiError) { return s.sendMedia(c, KindDocument) }
	case "setmycommands":
		return "setMyCommands", s.setMyCommands
	case "getmycommands":
		return "getMyCommands", s.getMyCommands
	case "deletemycommands":
		return "deleteMyCommands", s.deleteMyCommands
	case "sendchataction":
		return "sendChatAction", s.sendChatAction
	case "deletemessage":
		return "deleteMessage", s.deleteMessage
	case "deletemessages":
		return "deleteMessages", s.deleteMessages
	case "setchatmenubutton":
		return "setChatMenuButton", s.setChatMenuButton
	case "getchatmenubutton":
		return "getChatMenuButton", s.getChatMenuButton
	case "getfile":
		return "getFile", s.getFile
	}
	return name, nil
}

// call runs one method call, counting it and recording violations.
func (s *Server) call(ctx context.Context, name string, p params) (any, string, *apiError) {
	method, h := s.method(name)
	c := &call{ctx: ctx, method: method, p: p}
	c.chatID, _, _ = p.int64("chat_id")

	s.mu.Lock()
	s.calls[method]++
	s.total++
	injected := s.injected(method)
	s.mu.Unlock()
	if injected != nil {
		s.cfg.logger.Debug("telegramtest: injected failure", "method", method, "code", injected.code)
		return nil, "", injected
	}

	var (
		res any
		err *apiError
	)
	if h == nil {
		err = notFound()
	} else {
		res, err = h(c)
	}
	if err != nil || len(c.warnings) > 0 {
		s.mu.Lock()
		if err != nil {
			s.violate(Violation{Method: method, ChatID: c.chatID, Code: err.code, Description: err.desc})
		}
		for _, w := range c.warnings {
			s.violate(Violation{Method: method, ChatID: c.chatID, Description: w})
		}
		s.mu.Unlock()
	}
	if s.cfg.recordRequests {
		r := Request{Method: method, ChatID: c.chatID, Params: make(map[string]string, len(p.values)+len(p.files))}
		for k, v := range p.values {
			r.Params[k] = v
		}
		for k, f := range p.files {
			r.Params[k] = "file " + f.name
		}
		if err != nil {
			r.Code = err.code
		}
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.mu.Unlock()
	}
	if err != nil {
		s.cfg.logger.Debug("telegramtest: call failed", "method", method, "chat", c.chatID, "code", err.code, "description", err.desc)
	} else {
		s.cfg.logger.Debug("telegramtest: call", "method", method, "chat", c.chatID)
	}
	return res, c.description, err
}

// ServeHTTP answers Bot API requests: {URL}/bot{token}/{method}, also under
// /bot{token}/test/{method} (the test environment). The methods implemented
// are getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
// sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
// sendPhoto, sendDocument, setMyCommands, getMyCommands, deleteMyCommands,
// sendChatAction, deleteMessage, setChatMenuButton, getChatMenuButton and
// getFile; file downloads are served at /file/bot{token}/{file_path}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	method = strings.TrimPrefix(method, "test/")
	if !ok || !ok2 || method == "" || strings.Contains(method, "/") {
		writeError(w, notFound())
		return
	}
	if token != s.cfg.token {
		writeError(w, &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"})
		return
	}
	p, perr := parseParams(r)
	if perr != nil {
		name, _ := s.method(method)
		s.mu.Lock()
		s.calls[name]++
		s.total++
		s.violate(Violation{Method: name, Code: perr.code, Description: perr.desc})
		s.mu.Unlock()
		writeError(w, perr)
		return
	}
	res, desc, err := s.call(r.Context(), method, p)
	if err != nil {
		writeError(w, err)
		return
	}
	body, merr := json.Marshal(okResponse{OK: true, Result: res, Description: desc})
	if merr != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, desc: "Internal Server Error: " + merr.Error()})
		return
	}
	writeBody(w, http.StatusOK, body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	resp := errorResponse{ErrorCode: e.code, Description: e.desc}
	if e.retryAfter > 0 {
		resp.Parameters = &responseParams{RetryAfter: e.retryAfter}
	}
	body, _ := json.Marshal(resp)
	writeBody(w, e.code, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
