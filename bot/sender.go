package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	tg "github.com/go-telegram/bot"
	tgmodels "github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"
)

// Domain errors of the Telegram edge.
var (
	// ErrBlocked means the user blocked the bot (403): stop writing to them.
	ErrBlocked = errors.New("telegram: blocked by the user")
	// ErrTelegram is a permanent Bot API refusal (400 and the like).
	ErrTelegram = errors.New("telegram: request refused")
	// ErrTransient is a failure worth retrying later (network, 5xx).
	ErrTransient = errors.New("telegram: transient failure")
)

// Limiter paces calls under a budget shared by every replica (global Bot
// API limit). Wait blocks until a call may go out.
type Limiter interface {
	Wait(ctx context.Context) error
}

// ChatPacer is a per-chat budget of new messages shared by replicas.
// Reserve takes one message's slot for chat now, or reports how long until
// one is free (and takes nothing).
type ChatPacer interface {
	Reserve(ctx context.Context, chat int64) (wait time.Duration, err error)
}

// Observer is told about every Bot API call, for metrics.
type Observer interface {
	Call(method string, outcome string, d time.Duration)
	Waited429(d time.Duration)
}

type nopObserver struct{}

func (nopObserver) Call(string, string, time.Duration) {}
func (nopObserver) Waited429(time.Duration)            {}

// SenderOptions configures a Sender. Zero values take the defaults, which
// stay under Telegram's limits (about 1 message/s per chat and 30/s per bot).
type SenderOptions struct {
	Global Limiter // default: 28/s in this process (NEEDSBOT_TELEGRAM_RATE's default)
	// SharedChat, when set, paces new messages to each chat across every
	// replica (webhook replicas behind a balancer without chat affinity:
	// each would otherwise send a chat its 1 message/s, together more
	// than Telegram allows — 429s). The in-process limiter still applies.
	SharedChat ChatPacer
	ChatRate   rate.Limit // default 1/s
	ChatBurst  int        // default 3: at most three new messages at once to a chat
	MaxRetries int        // default 4
	Logger     *slog.Logger
	Observer   Observer
	// Direct, when set, makes sendMessage, editMessageText and
	// editMessageReplyMarkup as small JSON requests (direct.go) instead of
	// through go-telegram/bot.
	Direct *DirectAPI
}

// Sender is the one outbound path to the Bot API: it owns the global and
// per-chat rate limits, honours retry_after, retries transient failures
// with bounded backoff, and turns Bot API errors into domain errors.
type Sender struct {
	api      *tg.Bot
	direct   *DirectAPI
	global   Limiter
	shared   ChatPacer
	chatRate rate.Limit
	burst    int
	retries  int
	log      *slog.Logger
	obs      Observer
	sleep    func(context.Context, time.Duration) error // tests record waits instead

	lane *lane

	mu    sync.Mutex
	chats map[int64]*chatLimiter
}

type chatLimiter struct {
	lim  *rate.Limiter
	used time.Time
	card liveCard // what this replica last showed the chat as its question card
}

// liveCard is the chat's live question card as this replica last left it:
// the message, the state version it shows, and whether it shows its
// question without the notes before it (a typed re-ask below the card
// that carries them). The store records the message too (the core's
// MarkSent), but that record can be lost — Redis down when it is written
// (a deferred tail dropped with a failed flush or save) — and then names
// an older card: the next turn would edit a message of the chat's history
// into the question and leave the live card's keys alive (two live cards),
// or a typed answer would leave them there. The store knows nothing of
// the notes. Only a card of the state version the turn loads is believed
// (another replica may have moved the interview on since).
type liveCard struct {
	msg     int
	version uint64
	bare    bool
}

// maxChatLimiters bounds the per-chat limiter table; idle ones are evicted.
const maxChatLimiters = 50000

// NewSender returns a sender over a go-telegram/bot client.
func NewSender(api *tg.Bot, o SenderOptions) *Sender {
	s := &Sender{api: api, direct: o.Direct, global: o.Global, shared: o.SharedChat, chatRate: o.ChatRate, burst: o.ChatBurst, retries: o.MaxRetries,
		log: o.Logger, obs: o.Observer, sleep: sleep, lane: newLane(), chats: map[int64]*chatLimiter{}}
	if s.global == nil {
		s.global = rate.NewLimiter(28, 5)
	}
	if s.chatRate == 0 {
		s.chatRate = 1
	}
	if s.burst == 0 {
		s.burst = 3
	}
	if s.retries == 0 {
		s.retries = 4
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	return s
}

func (s *Sender) chat(id int64) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entry(id, time.Now()).lim
}

// entry returns chat id's entry, made when there is none; s.mu must be
// held.
func (s *Sender) entry(id int64, now time.Time) *chatLimiter {
	c, ok := s.chats[id]
	if !ok {
		if len(s.chats) >= maxChatLimiters {
			for k, v := range s.chats {
				// A limiter idle for longer than its refill is full again:
				// forgetting it changes nothing (its card: the store's
				// record of it serves, as after a restart).
				if now.Sub(v.used) > time.Duration(float64(s.burst)/float64(s.chatRate)*float64(time.Second)) {
					delete(s.chats, k)
				}
			}
		}
		c = &chatLimiter{lim: rate.NewLimiter(s.chatRate, s.burst)}
		s.chats[id] = c
	}
	c.used = now
	return c
}

// noteCard remembers c as chat's live question card.
func (s *Sender) noteCard(chat int64, c liveCard) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(chat, time.Now()).card = c
}

// cardOf returns chat's live question card as this replica last left it
// at state version v (ok false: none known at that version).
func (s *Sender) cardOf(chat int64, v uint64) (liveCard, bool) {
	if s == nil {
		return liveCard{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chat]
	if !ok || c.card.msg == 0 || c.card.version != v {
		return liveCard{}, false
	}
	return c.card, true
}

// Which limits a call counts against: Telegram limits new messages per
// chat and every chat-bound call per bot; callback answers are free.
const (
	limitNone   = iota
	limitGlobal // edits
	limitChat   // new messages: per chat and global
)

// do runs one Bot API call under the limits, with retries.
func (s *Sender) do(ctx context.Context, method string, chat int64, limit int, call func(context.Context) error) error {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if limit == limitChat {
			if err := s.waitChat(ctx, chat); err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
		}
		if limit != limitNone {
			if err := s.waitGlobal(ctx); err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
		}
		start := time.Now()
		var outcome string
		var err error
		if s.direct != nil && directMethod(method) {
			// A DirectAPI call returns the *APIError itself: no slot.
			outcome, err = classify(call(ctx), nil)
		} else {
			cctx, sl := withSlot(ctx)
			outcome, err = classify(call(cctx), sl.err)
		}
		s.obs.Call(method, outcome, time.Since(start))
		if err == nil {
			firstReplyOut(ctx)
			if limit == limitChat {
				noteNewMessage(ctx, chat)
			}
			return nil
		}
		if err := s.failed(ctx, method, attempt, &backoff, err); err != nil {
			return err
		}
	}
}

// directMethod reports whether the Sender makes method through its
// DirectAPI when it has one.
func directMethod(method string) bool {
	switch method {
	case "sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery":
		return true
	}
	return false
}

// failed decides what follows a failed attempt: nil after a pause before
// the next attempt, or the call's final error.
func (s *Sender) failed(ctx context.Context, method string, attempt int, backoff *time.Duration, err error) error {
	var api *APIError
	switch {
	case errors.As(err, &api) && api.Code == http.StatusTooManyRequests:
		wait := time.Duration(max(api.RetryAfter, 1)) * time.Second
		s.obs.Waited429(wait)
		s.log.Warn("telegram 429", "method", method, "retry_after", api.RetryAfter)
		if attempt >= s.retries {
			return fmt.Errorf("%s: %w", method, err)
		}
		return s.pause(ctx, wait)
	case errors.Is(err, ErrTransient):
		if attempt >= s.retries {
			return fmt.Errorf("%s: %w", method, err)
		}
		if err := s.pause(ctx, *backoff); err != nil {
			return err
		}
		*backoff = min(*backoff*2, 5*time.Second)
		return nil
	default:
		return fmt.Errorf("%s: %w", method, err)
	}
}

// pause sleeps d for the caller's chat alone (retry_after, backoff): the
// mailbox's worker slot is free meanwhile (mailbox.go).
func (s *Sender) pause(ctx context.Context, d time.Duration) error {
	resume := pauseWork(ctx)
	defer resume()
	return s.sleep(ctx, d)
}

// waitChat takes a token of the chat's limiter. Waiting for it belongs to
// this chat alone: the worker slot is given back meanwhile, so another
// chat never waits for this one's pacing.
func (s *Sender) waitChat(ctx context.Context, chat int64) error {
	r := s.chat(chat).Reserve()
	if !r.OK() {
		return errors.New("chat rate limit: burst is zero")
	}
	d := r.Delay()
	if d > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			r.Cancel()
			return context.DeadlineExceeded
		}
		resume := pauseWork(ctx)
		err := sleep(ctx, d)
		resume()
		if err != nil {
			r.Cancel()
			return err
		}
	}
	return s.waitShared(ctx, chat)
}

// waitShared takes a slot of the chat's budget shared by the replicas, if
// there is one; waiting for it belongs to this chat alone, like the local
// pacing. When the shared budget cannot be reached (Redis down) the local
// pacing alone goes on: replies must not stop.
func (s *Sender) waitShared(ctx context.Context, chat int64) error {
	if s.shared == nil || chat == 0 {
		return nil
	}
	for {
		d, err := s.shared.Reserve(ctx, chat)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("shared chat pacing unavailable, pacing locally", "err", err)
			return nil
		}
		if d <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return context.DeadlineExceeded
		}
		resume := pauseWork(ctx)
		err = sleep(ctx, d)
		resume()
		if err != nil {
			return err
		}
	}
}

// waitGlobal takes a token of the bot-wide budget. A call in the
// low-priority lane (LowPriority: reminders, scheduled messages) first
// waits until no live call waits for the budget, one low-priority call at
// a time, so live replies always go first; both lanes count against the
// same budget and the same per-chat limits.
func (s *Sender) waitGlobal(ctx context.Context) error {
	if !isLowPriority(ctx) {
		s.lane.enter()
		defer s.lane.leave()
		// A token at hand is taken without a wait (and without arming the
		// timer below): rate.Limiter's Allow takes it as Wait would.
		if a, ok := s.global.(allower); ok && ctx.Err() == nil && a.Allow() {
			return nil
		}
		// A wait for the budget longer than a moment sends a webhook
		// tap's answer back in its response at once (answerOffered).
		t := time.AfterFunc(budgetPatience, func() { answerOffered(ctx) })
		defer t.Stop()
		return s.global.Wait(ctx)
	}
	resume := pauseWork(ctx)
	release, err := s.lane.waitClear(ctx)
	resume()
	if err != nil {
		return err
	}
	defer release()
	return s.global.Wait(ctx)
}

// allower is a Limiter that can take a token only if one is free now
// (*rate.Limiter).
type allower interface{ Allow() bool }

// budgetPatience is how long a live call may wait for the bot-wide budget
// before a webhook tap's answer goes back in the webhook response without
// waiting for the call (answerOffered): under Telegram's limits a turn can
// wait seconds, the webhook response at most settleHold, and Telegram
// gives up on an unanswered tap after about 15 s.
const budgetPatience = 200 * time.Millisecond

// lane orders the two priorities in front of the global limiter.
type lane struct {
	mu   sync.Mutex
	live int // live calls waiting for (or taking) a global token
	// clear is closed when live drops to zero; it is made by the first
	// low-priority call that waits for it (nil until then), not by every
	// live call that finds the lane empty.
	clear      chan struct{}
	low        chan struct{} // one low-priority call at a time
	lowWaiting int           // low-priority calls held back (tests)
}

func newLane() *lane {
	return &lane{low: make(chan struct{}, 1)}
}

func (l *lane) enter() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live++
}

func (l *lane) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live--
	if l.live == 0 && l.clear != nil {
		close(l.clear)
		l.clear = nil
	}
}

// waitClear waits for the low-priority turn and for no live call to be
// waiting; release ends the turn.
func (l *lane) waitClear(ctx context.Context) (release func(), err error) {
	l.mu.Lock()
	l.lowWaiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.lowWaiting--
		l.mu.Unlock()
	}()
	select {
	case l.low <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		l.mu.Lock()
		live := l.live
		if live > 0 && l.clear == nil {
			l.clear = make(chan struct{})
		}
		clear := l.clear
		l.mu.Unlock()
		if live == 0 {
			return func() { <-l.low }, nil
		}
		select {
		case <-clear:
		case <-ctx.Done():
			<-l.low
			return nil, ctx.Err()
		}
	}
}

func (l *lane) waitingLow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lowWaiting
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// classify maps the outcome of one Bot API call to a domain error and an
// outcome label (the metrics' "outcome"). api is what Telegram's JSON body
// said (see APIClient); when it is missing — no response at all, or a
// client without APIClient — go-telegram/bot's typed errors give the code.
//
//	429                        ErrTransient wrapping *APIError (retry_after)
//	403                        ErrBlocked: stop writing to this person
//	400 harmless description   nil: not_modified, query_too_old, edit_gone
//	400                        ErrTelegram
//	401, 404, 409              ErrTelegram ("refused")
//	other 4xx                  ErrTelegram
//	5xx, network               ErrTransient
func classify(err error, api *APIError) (string, error) {
	if err == nil {
		return "ok", nil
	}
	return classifyFailure(err, api)
}

// classifyFailure is classify of a call that failed (its api escapes: a
// call that went well does not pay for it).
func classifyFailure(err error, api *APIError) (string, error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled", err
	}
	if api == nil {
		errors.As(err, &api) // a DirectAPI call returns the *APIError itself
	}
	if api == nil {
		api = fromLibrary(err)
	}
	if api == nil {
		return "network", fmt.Errorf("%w: %v", ErrTransient, err)
	}
	switch code := api.Code; {
	case code == http.StatusTooManyRequests:
		return "429", fmt.Errorf("%w: %w", ErrTransient, api)
	case code == http.StatusForbidden:
		return "403", fmt.Errorf("%w: %w", ErrBlocked, api)
	case code == http.StatusBadRequest:
		switch api.Description {
		case descNotModified:
			return "not_modified", nil
		case descQueryTooOld:
			return "query_too_old", nil
		case descEditNotFound, descCantEdit:
			return "edit_gone", nil
		}
		return "400", fmt.Errorf("%w: %w", ErrTelegram, api)
	case code == http.StatusUnauthorized, code == http.StatusNotFound, code == http.StatusConflict:
		return "refused", fmt.Errorf("%w: %w", ErrTelegram, api)
	case code >= 500:
		return strconv.Itoa(code), fmt.Errorf("%w: %w", ErrTransient, api)
	default:
		return strconv.Itoa(code), fmt.Errorf("%w: %w", ErrTelegram, api)
	}
}

// fromLibrary reads the code from go-telegram/bot's typed errors (its
// sentinels each stand for one error_code); nil for anything else.
func fromLibrary(err error) *APIError {
	var tooMany *tg.TooManyRequestsError
	if errors.As(err, &tooMany) {
		return &APIError{Code: http.StatusTooManyRequests, Description: tooMany.Message, RetryAfter: tooMany.RetryAfter}
	}
	for _, c := range []struct {
		sentinel error
		code     int
	}{
		{tg.ErrorForbidden, http.StatusForbidden},
		{tg.ErrorBadRequest, http.StatusBadRequest},
		{tg.ErrorUnauthorized, http.StatusUnauthorized},
		{tg.ErrorNotFound, http.StatusNotFound},
		{tg.ErrorConflict, http.StatusConflict},
	} {
		if errors.Is(err, c.sentinel) {
			return &APIError{Code: c.code, Description: err.Error()}
		}
	}
	return nil
}

func markup(kb [][]Key) tgmodels.ReplyMarkup {
	if kb == nil {
		return nil
	}
	rows := make([][]tgmodels.InlineKeyboardButton, len(kb))
	for i, row := range kb {
		rows[i] = make([]tgmodels.InlineKeyboardButton, len(row))
		for j, k := range row {
			rows[i][j] = tgmodels.InlineKeyboardButton{Text: k.Text, CallbackData: k.Data}
		}
	}
	return &tgmodels.InlineKeyboardMarkup{InlineKeyboard: rows}
}

var noPreview = &tgmodels.LinkPreviewOptions{IsDisabled: tg.True()}

// last is the keyboard for part i of parts: the last part carries it.
func last(i int, parts []string, kb [][]Key) [][]Key {
	if i == len(parts)-1 {
		return kb
	}
	return nil
}

// split is Split(text), in one when text fits in one message (the
// common case: no slice of its own).
func split(text string, one *[1]string) []string {
	if utf8.RuneCountInString(text) <= MaxText {
		one[0] = text
		return one[:]
	}
	return Split(text)
}

// Send sends m to chat (split if longer than Telegram allows; the keyboard
// goes with the last part) and returns the id of the last message.
func (s *Sender) Send(ctx context.Context, chat int64, m Message) (int, error) {
	var one [1]string
	parts := split(m.Text, &one)
	var id int
	for i, text := range parts {
		err := s.do(ctx, "sendMessage", chat, limitChat, func(ctx context.Context) error {
			if s.direct != nil {
				var err error
				mk := directMarkup{InlineKeyboard: last(i, parts, m.Keyboard)}
				id, err = s.direct.message(ctx, "sendMessage", &directMessage{ChatID: chat, Text: text, ParseMode: "HTML",
					Preview: previewOff, ReplyMarkup: mk.orNone(false)})
				return err
			}
			p := &tg.SendMessageParams{ChatID: chat, Text: text, ParseMode: tgmodels.ParseModeHTML, LinkPreviewOptions: noPreview}
			if i == len(parts)-1 && len(m.Keyboard) > 0 {
				p.ReplyMarkup = markup(m.Keyboard)
			}
			msg, err := s.api.SendMessage(ctx, p)
			if err == nil && msg != nil {
				id = msg.ID
			}
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return id, nil
}

// Edit replaces message id's text and keyboard (none when m.Keyboard is
// nil).
func (s *Sender) Edit(ctx context.Context, chat int64, id int, m Message) error {
	var one [1]string
	text := split(m.Text, &one)[0]
	return s.do(ctx, "editMessageText", chat, limitGlobal, func(ctx context.Context) error {
		if s.direct != nil {
			mk := directMarkup{InlineKeyboard: m.Keyboard}
			_, err := s.direct.message(ctx, "editMessageText", &directMessage{ChatID: chat, MessageID: id, Text: text,
				ParseMode: "HTML", Preview: previewOff, ReplyMarkup: mk.orNone(false)})
			return err
		}
		p := &tg.EditMessageTextParams{ChatID: chat, MessageID: id, Text: text, ParseMode: tgmodels.ParseModeHTML,
			LinkPreviewOptions: noPreview}
		if len(m.Keyboard) > 0 {
			p.ReplyMarkup = markup(m.Keyboard)
		}
		_, err := s.api.EditMessageText(ctx, p)
		return err
	})
}

// EditKeyboard replaces message id's keyboard only (none when kb is nil).
func (s *Sender) EditKeyboard(ctx context.Context, chat int64, id int, kb [][]Key) error {
	return s.do(ctx, "editMessageReplyMarkup", chat, limitGlobal, func(ctx context.Context) error {
		if s.direct != nil {
			mk := directMarkup{InlineKeyboard: kb}
			_, err := s.direct.message(ctx, "editMessageReplyMarkup", &directMessage{ChatID: chat, MessageID: id,
				ReplyMarkup: mk.orNone(true)})
			return err
		}
		p := &tg.EditMessageReplyMarkupParams{ChatID: chat, MessageID: id}
		if len(kb) > 0 {
			p.ReplyMarkup = markup(kb)
		} else {
			p.ReplyMarkup = &tgmodels.InlineKeyboardMarkup{InlineKeyboard: [][]tgmodels.InlineKeyboardButton{}}
		}
		_, err := s.api.EditMessageReplyMarkup(ctx, p)
		return err
	})
}

// DeleteMessages deletes messages of chat (the bot's, and in a private
// chat the person's), 100 per call. Telegram skips those it cannot delete
// (older than 48 h, already deleted); a call where none could be deleted is
// refused with ErrTelegram.
func (s *Sender) DeleteMessages(ctx context.Context, chat int64, ids []int) error {
	for len(ids) > 0 {
		n := min(len(ids), 100)
		p := &tg.DeleteMessagesParams{ChatID: chat, MessageIDs: ids[:n]}
		ids = ids[n:]
		err := s.do(ctx, "deleteMessages", chat, limitGlobal, func(ctx context.Context) error {
			_, err := s.api.DeleteMessages(ctx, p)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Answer answers a callback query, with an optional short notice.
func (s *Sender) Answer(ctx context.Context, queryID, text string) error {
	return s.do(ctx, "answerCallbackQuery", 0, limitNone, func(ctx context.Context) error {
		if s.direct != nil {
			// One per tap, the first call a tap gets (issue 19).
			return s.direct.answer(ctx, &directAnswer{CallbackQueryID: queryID, Text: text})
		}
		_, err := s.api.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: text})
		return err
	})
}

// SendDocument sends a file with a caption.
func (s *Sender) SendDocument(ctx context.Context, chat int64, name string, data []byte, caption string) error {
	return s.do(ctx, "sendDocument", chat, limitChat, func(ctx context.Context) error {
		// A fresh reader per attempt: a retry must send the whole file again.
		_, err := s.api.SendDocument(ctx, &tg.SendDocumentParams{ChatID: chat, Caption: caption, ParseMode: tgmodels.ParseModeHTML,
			Document: &tgmodels.InputFileUpload{Filename: name, Data: bytes.NewReader(data)}})
		return err
	})
}

// SendPhoto sends a PNG with a caption.
func (s *Sender) SendPhoto(ctx context.Context, chat int64, name string, png []byte, caption string) error {
	return s.do(ctx, "sendPhoto", chat, limitChat, func(ctx context.Context) error {
		_, err := s.api.SendPhoto(ctx, &tg.SendPhotoParams{ChatID: chat, Caption: caption, ParseMode: tgmodels.ParseModeHTML,
			Photo: &tgmodels.InputFileUpload{Filename: name, Data: bytes.NewReader(png)}})
		return err
	})
}

// SetCommands registers the command menu for a language ("" = default).
func (s *Sender) SetCommands(ctx context.Context, lang string, cmds []tgmodels.BotCommand) error {
	p := &tg.SetMyCommandsParams{Commands: cmds, LanguageCode: lang}
	return s.do(ctx, "setMyCommands", 0, limitGlobal, func(ctx context.Context) error {
		_, err := s.api.SetMyCommands(ctx, p)
		return err
	})
}
