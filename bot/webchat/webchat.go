// Package webchat is a web page that looks and behaves like a Telegram chat
// on a phone, played against the fake Bot API of package telegramtest: the
// page is the person (a respondent, an operator, a manager), the fake
// server carries their messages and taps to the bot, and the page shows
// the bot's answers as Telegram would — HTML formatting, inline keyboards,
// edits in place, "typing…", toasts, photos and documents, right-to-left
// text. `needsbot try` serves it; everything is embedded, nothing is
// fetched from the network.
//
// The page talks to a small JSON API (every POST takes a JSON body):
//
//	GET  /api/config                       title, bot, personas, languages
//	POST /api/session  {persona, user?, fresh?, lang?}  → {user, …}
//	GET  /api/chat?user=ID[&since=VERSION[&busy=0|1]]
//	                                       the chat; with since, long-polls
//	                                       until the chat's version differs
//	                                       (and, with busy, until the bot's
//	                                       being busy differs from it)
//	POST /api/send     {user, text}        the user sends a message
//	POST /api/tap      {user, message, label}  the user taps a button
//	POST /api/start    {user, payload?}    the user presses START (t.me link)
//	POST /api/language {user, lang}        the client's language_code
//	POST /api/action   {persona}           runs the persona's demo action
//	GET  /api/file?user=ID&message=ID      a photo or document in the chat
//
// Only users that this server handed out through /api/session can be
// driven. POST bodies must be application/json, which a cross-site form
// cannot send without a CORS preflight this server never grants.
package webchat

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

//go:embed static
var static embed.FS

// Persona is someone the page can be.
type Persona struct {
	// Key identifies the persona in the API ("respondent", "operator"…).
	Key string `json:"key"`
	// Label and Description are shown on the persona switch, Tips
	// beside the chat while the persona is chosen.
	Label       string `json:"label"`
	Description string `json:"description"`
	Tips        string `json:"tips,omitempty"`
	// FirstName is the Telegram first name of the persona's users.
	FirstName string `json:"first_name"`
	// UserID is the persona's fixed Telegram user id; 0 gives every new
	// session a fresh id (respondents: each one is a new person).
	UserID int64 `json:"-"`
	// StartButton shows Telegram's START button in an empty chat, which
	// sends "/start StartPayload" — what opening an invite link does.
	StartButton  bool   `json:"start_button"`
	StartPayload string `json:"-"`
	// Commands are suggestions shown as chips above the input.
	Commands []string `json:"commands"`
	// Action, when set, is a button beside the chat that does something
	// for the demo (e.g. fill it with synthetic interviews).
	Action *Action `json:"action,omitempty"`
}

// Action is a persona's demo button: POST /api/action runs it and the
// page shows the text it returns.
type Action struct {
	Label string                                    `json:"label"`
	Run   func(ctx context.Context) (string, error) `json:"-"`
}

// Language is an option of the page's language selector: the language
// the simulated Telegram app is set to, sent to the bot as language_code.
type Language struct {
	Code string `json:"code"` // "" = the client sends no language_code
	Name string `json:"name"`
	RTL  bool   `json:"rtl"`
}

// Options configure a Server.
type Options struct {
	Title     string // the page title (default "needsbot")
	Personas  []Persona
	Languages []Language
	// PollTimeout bounds one long poll of /api/chat (default 25 s).
	PollTimeout time.Duration
	// MaxUsers bounds how many users the server remembers; the oldest
	// fresh ones are forgotten first (default 1000).
	MaxUsers int
	Logger   *slog.Logger
	// TimeZone is the IANA zone the page shows message times in, the one
	// the bot writes its own times in (default: the browser's).
	TimeZone string
	// WaitIdle, when set, waits until the bot has finished with a chat:
	// nothing queued, running or held back for it (the bot's intake,
	// bot.Intake.WaitIdle). The page shows "typing…" while the bot has
	// not acknowledged an update of the chat or still works on one: a
	// poller acknowledges updates whose turns still run, so the fake's
	// count of unacknowledged updates alone can end "typing…" early.
	WaitIdle func(ctx context.Context, chat int64) error
}

// Server serves the page and its API. Create it with New.
type Server struct {
	tg    *telegramtest.Server
	opt   Options
	log   *slog.Logger
	files http.Handler

	mu    sync.Mutex
	users map[int64]*session
	order []int64 // fresh users, oldest first, for MaxUsers
}

// session is a user this server handed out.
type session struct {
	persona *Persona
	lang    string
}

// New returns a server for the fake Bot API tg.
func New(tg *telegramtest.Server, opt Options) *Server {
	if opt.Title == "" {
		opt.Title = "needsbot"
	}
	if opt.PollTimeout <= 0 {
		opt.PollTimeout = 25 * time.Second
	}
	if opt.MaxUsers <= 0 {
		opt.MaxUsers = 1000
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	return &Server{tg: tg, opt: opt, log: opt.Logger, files: http.FileServerFS(sub), users: map[int64]*session{}}
}

// ServeHTTP serves the page, its assets and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Everything comes from this server: no CDN, no network.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	switch {
	case r.URL.Path == "/api/config" && r.Method == http.MethodGet:
		s.config(w, r)
	case r.URL.Path == "/api/chat" && r.Method == http.MethodGet:
		s.chat(w, r)
	case r.URL.Path == "/api/file" && r.Method == http.MethodGet:
		s.file(w, r)
	case r.URL.Path == "/api/session":
		s.post(w, r, s.session)
	case r.URL.Path == "/api/send":
		s.post(w, r, s.send)
	case r.URL.Path == "/api/tap":
		s.post(w, r, s.tap)
	case r.URL.Path == "/api/start":
		s.post(w, r, s.start)
	case r.URL.Path == "/api/action":
		s.post(w, r, func(req *request) (any, error) { return s.action(r.Context(), req) })
	case r.URL.Path == "/api/language":
		s.post(w, r, s.language)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		writeError(w, http.StatusNotFound, "no such API")
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.Set("Cache-Control", "no-cache")
		s.files.ServeHTTP(w, r)
	default:
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// request is the union of the POST bodies.
type request struct {
	Persona string `json:"persona"`
	User    int64  `json:"user"`
	Fresh   bool   `json:"fresh"`
	Lang    string `json:"lang"`
	Text    string `json:"text"`
	Message int    `json:"message"`
	Label   string `json:"label"`
	Payload string `json:"payload"`
}

// apiError is an error with the HTTP status to answer with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func fail(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, h func(*request) (any, error)) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return
	}
	var req request
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	res, err := h(&req)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			writeError(w, ae.status, ae.msg)
			return
		}
		s.log.Warn("webchat", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// configView is GET /api/config.
type configView struct {
	Title     string     `json:"title"`
	Bot       botView    `json:"bot"`
	Personas  []Persona  `json:"personas"`
	Languages []Language `json:"languages"`
	TimeZone  string     `json:"timezone,omitempty"`
}

type botView struct {
	Name     string `json:"name"`
	Username string `json:"username"`
}

func (s *Server) config(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, configView{
		Title:     s.opt.Title,
		Bot:       botView{Name: s.opt.Title, Username: s.tg.BotUsername()},
		Personas:  s.opt.Personas,
		Languages: s.opt.Languages,
		TimeZone:  s.opt.TimeZone,
	})
}

func (s *Server) persona(key string) *Persona {
	for i := range s.opt.Personas {
		if s.opt.Personas[i].Key == key {
			return &s.opt.Personas[i]
		}
	}
	return nil
}

func (s *Server) knownLang(code string) bool {
	if code == "" {
		return true
	}
	for _, l := range s.opt.Languages {
		if strings.EqualFold(l.Code, code) {
			return true
		}
	}
	return false
}

// sessionView answers POST /api/session.
type sessionView struct {
	User    int64  `json:"user"`
	Persona string `json:"persona"`
	Lang    string `json:"lang"`
}

// session hands out a user for a persona: the persona's fixed user, the
// same fresh user again (after a reload), or a new one.
func (s *Server) session(req *request) (any, error) {
	p := s.persona(req.Persona)
	if p == nil {
		return nil, fail(http.StatusBadRequest, "unknown persona %q", req.Persona)
	}
	if !s.knownLang(req.Lang) {
		return nil, fail(http.StatusBadRequest, "unknown language %q", req.Lang)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.UserID
	if id == 0 {
		if old := s.users[req.User]; req.User != 0 && !req.Fresh && old != nil && old.persona == p {
			id = req.User
		} else {
			id = s.freshID()
			s.order = append(s.order, id)
			if len(s.order) > s.opt.MaxUsers {
				delete(s.users, s.order[0])
				s.order = s.order[1:]
			}
		}
	}
	ss := s.users[id]
	if ss == nil {
		ss = &session{persona: p}
		s.users[id] = ss
	}
	ss.lang = strings.ToLower(req.Lang)
	s.tg.User(id, telegramtest.FirstName(p.FirstName), telegramtest.LanguageCode(ss.lang))
	return sessionView{User: id, Persona: p.Key, Lang: ss.lang}, nil
}

// freshID returns an unused random user id in the range of real ones;
// s.mu must be held. Random, not sequential: a local Redis may still hold
// interviews of the users of an earlier run.
func (s *Server) freshID() int64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := 6_000_000_000 + int64(binary.BigEndian.Uint64(b[:])%1_000_000_000)
		if s.users[id] == nil {
			return id
		}
	}
}

// lookup returns the user with that id, if this server handed it out.
func (s *Server) lookup(id int64) (*telegramtest.User, *session, error) {
	s.mu.Lock()
	ss := s.users[id]
	s.mu.Unlock()
	if ss == nil {
		return nil, nil, fail(http.StatusNotFound, "unknown user %d: ask /api/session for one", id)
	}
	return s.tg.User(id), ss, nil
}

func (s *Server) send(req *request) (any, error) {
	u, _, err := s.lookup(req.User)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(req.Text)
	switch {
	case text == "":
		return nil, fail(http.StatusBadRequest, "empty message")
	case !utf8.ValidString(text):
		return nil, fail(http.StatusBadRequest, "message is not UTF-8")
	case utf8.RuneCountInString(text) > 4096:
		return nil, fail(http.StatusBadRequest, "message longer than 4096 characters")
	}
	return map[string]int{"message": u.Send(text)}, nil
}

func (s *Server) tap(req *request) (any, error) {
	u, _, err := s.lookup(req.User)
	if err != nil {
		return nil, err
	}
	if err := u.TapIn(req.Message, req.Label); err != nil {
		return nil, fail(http.StatusConflict, "%v", err)
	}
	return map[string]bool{"ok": true}, nil
}

var payloadRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Server) start(req *request) (any, error) {
	u, ss, err := s.lookup(req.User)
	if err != nil {
		return nil, err
	}
	payload := req.Payload
	if payload == "" {
		payload = ss.persona.StartPayload
	} else if !payloadRe.MatchString(payload) {
		return nil, fail(http.StatusBadRequest, "a start payload is 1 to 64 of A-Z a-z 0-9 _ -")
	}
	return map[string]int{"message": u.Start(payload)}, nil
}

func (s *Server) language(req *request) (any, error) {
	if !s.knownLang(req.Lang) {
		return nil, fail(http.StatusBadRequest, "unknown language %q", req.Lang)
	}
	if _, _, err := s.lookup(req.User); err != nil {
		return nil, err
	}
	s.mu.Lock()
	ss := s.users[req.User]
	ss.lang = strings.ToLower(req.Lang)
	s.mu.Unlock()
	s.tg.User(req.User, telegramtest.LanguageCode(ss.lang))
	return map[string]string{"lang": ss.lang}, nil
}

// chat answers GET /api/chat. With since, it waits until the chat's
// version differs from it (a change, or a restarted server) and, with
// busy=0 or 1 (whether the page shows "typing…"), until what the page
// shows is no longer so — the bot's end of work may change no message —
// at most PollTimeout, and then answers with the chat as it is.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.URL.Query().Get("user"), 10, 64)
	u, ss, err := s.lookup(id)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	c := u.Chat()
	busy := s.working(id)
	if v := r.URL.Query().Get("since"); v != "" {
		since, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since must be a chat version")
			return
		}
		// busy: whether the page shows "typing…" (absent: not asked).
		shown, asked := r.URL.Query().Get("busy"), r.URL.Query().Has("busy")
		if c.Version == since && (!asked || (shown == "1") == (c.Pending > 0 || busy)) {
			ctx, cancel := context.WithTimeout(r.Context(), s.opt.PollTimeout)
			if busy && asked {
				// The bot works on the chat: the end of its work wakes
				// the poll too (it may change no message), so that
				// "typing…" ends with it.
				go func() {
					if s.opt.WaitIdle(ctx, id) == nil {
						cancel()
					}
				}()
			}
			c, err = u.WaitFor(ctx, func(c telegramtest.Chat) bool { return c.Version != since })
			cancel()
			switch {
			case errors.Is(err, telegramtest.ErrClosed):
				writeError(w, http.StatusServiceUnavailable, "the fake Telegram server has stopped")
				return
			case r.Context().Err() != nil:
				return // the page went away
			}
			c, busy = u.Chat(), s.working(id)
		}
	}
	writeJSON(w, http.StatusOK, s.view(c, id, ss, busy))
}

// working reports whether the bot still works on the chat's updates (see
// Options.WaitIdle): asked without waiting.
func (s *Server) working(chat int64) bool {
	if s.opt.WaitIdle == nil {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.opt.WaitIdle(ctx, chat) != nil
}

// file serves a photo or document of a message in the user's chat.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.URL.Query().Get("user"), 10, 64)
	u, _, err := s.lookup(id)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	msgID, _ := strconv.Atoi(r.URL.Query().Get("message"))
	for _, m := range u.Messages() {
		if m.ID != msgID || m.File == nil || m.File.Data == nil {
			continue
		}
		f := m.File
		h := w.Header()
		switch f.MIME {
		case "image/png", "image/jpeg", "image/gif":
			h.Set("Content-Type", f.MIME)
		default:
			h.Set("Content-Type", "application/octet-stream")
			name := f.Name
			if name == "" {
				name = "file"
			}
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		}
		h.Set("Cache-Control", "private, max-age=3600")
		h.Set("Content-Length", strconv.Itoa(len(f.Data)))
		_, _ = w.Write(f.Data)
		return
	}
	writeError(w, http.StatusNotFound, "no file in that message")
}

// action runs the persona's demo action (POST /api/action {persona}).
func (s *Server) action(ctx context.Context, req *request) (any, error) {
	p := s.persona(req.Persona)
	if p == nil || p.Action == nil || p.Action.Run == nil {
		return nil, &apiError{http.StatusNotFound, "no such action"}
	}
	text, err := p.Action.Run(ctx)
	if err != nil {
		s.log.Warn("webchat action", "persona", p.Key, "err", err)
		return nil, &apiError{http.StatusInternalServerError, "the action failed: " + err.Error()}
	}
	return map[string]string{"text": text}, nil
}
