package bot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
)

// Staff handles staff commands, staff links and their buttons. Each method
// reports whether it handled the update; a user without the right role is
// not handled, so the respondent path answers as for an unknown command and
// reveals nothing.
type Staff interface {
	Command(ctx context.Context, r *Request, name, args string) (bool, error)
	Callback(ctx context.Context, r *Request, cb Callback, queryID string, msgID int) (bool, error)
	Start(ctx context.Context, r *Request, payload string) (bool, error)
}

// StaffReplies is implemented by a Staff handler whose menus ask for typed
// input: a text that replies to one of the bot's menu messages reaches
// Reply with the callback data of that menu's first staff button (the
// menu's state: menus keep none on the server). Reply reports whether it
// handled the text; if not, the text goes on to the interview.
type StaffReplies interface {
	Reply(ctx context.Context, r *Request, menu Callback, menuMsg int, text string) (bool, error)
}

// StaffDocuments is implemented by a Staff handler that takes files (an
// admin's XLSForm workbook): a document sent in a private chat reaches
// Document with its Telegram file id and name (download it with
// Sender.Download). Document reports whether it handled the file; if not,
// the person gets the usual answer to media and nothing is kept.
type StaffDocuments interface {
	Document(ctx context.Context, r *Request, fileID, name string) (bool, error)
}

// Request is what a staff handler gets about the update: who, where, in
// which language, and the tools to answer.
type Request struct {
	Chat, User int64
	Name       string // the user's first name (staff only; never stored for respondents)
	Lang       string
	Sender     *Sender
	Renderer   *Renderer
	// Update is the Telegram update id: the idempotency key of a staff
	// action (a redelivered update must not run it again).
	Update int64
	// again shows the interview's question again below what was sent
	// (Defer); deferred says Defer was called.
	again    func(ctx context.Context)
	deferred bool
}

// Defer tells the bot that the staff handler's replies go on after this
// update's turn has ended (work queued off the turn: a poster, a chart, an
// export), so that the turn does not bring the interview's question below
// them now (staffDone). Call the func it returns once the work's messages
// are out, never from within the turn (it waits for the chat's worker):
// during an interview it shows the question again below them; otherwise it
// does nothing. Call Defer from the handler's own call, before it returns.
func (r *Request) Defer() func(ctx context.Context) {
	r.deferred = true
	if r.again == nil {
		return func(context.Context) {}
	}
	return r.again
}

// Config wires a Handler.
type Config struct {
	// Core is the application core that applies every input (required).
	Core *interview.Core
	// Library is the questionnaires and catalog in force (live reload);
	// without it Catalog is fixed. A turn reads the snapshot its core turn
	// took.
	Library formlib.Source
	Catalog *locales.Catalog
	Staff   Staff // optional
	Sender  *Sender
	// Username is the bot's username, for /start@username.
	Username string
	Logger   *slog.Logger
	// Now is the clock of rendering decisions (a typed date's year); the
	// interview's clock is the core's.
	Now    func() time.Time
	Events EventObserver
	// Throttle, when set, limits each person's incoming updates: a flood
	// gets one "slow down" message and is then dropped (acknowledged, not
	// applied), spending nothing more of the Bot API budget.
	Throttle Throttle
	// PopularLanguages, when set, lists a municipality's most used
	// respondent languages (by its Postgres id), for the language menu.
	PopularLanguages func(ctx context.Context, municipality string) []string
	// Directory, when set, refers respondents to services after they
	// complete and answers /services (services.go).
	Directory Directory
	// ReminderPace, when set, paces reminders behind live replies
	// (remind.go); the core decides when a reminder is due and wanted.
	ReminderPace Limiter
}

// EventObserver is told about interview events and handled updates, for
// metrics.
type EventObserver interface {
	Update(kind, outcome string, d time.Duration)
	Interview(event string) // started, completed, abandoned, declined
	// HoldExpired: a webhook response went back when settleHold ended,
	// before its update was settled (Intake.Webhook), with answer: "empty"
	// (a tap whose turn had not begun, answered empty), "offered" (a tap
	// answered with its turn's answer, the turn's Bot API calls under way),
	// "api" (a tap whose turn began and had no answer yet: the turn answers
	// it through the API) or "none" (not a tap).
	HoldExpired(answer string)
}

type nopEvents struct{}

func (nopEvents) Update(string, string, time.Duration) {}
func (nopEvents) Interview(string)                     {}
func (nopEvents) HoldExpired(string)                   {}

// Handler is the Telegram side of a turn: it classifies an update, lets
// the core apply it (Config.Core) and renders and sends what it decided.
type Handler struct {
	cfg Config
	rc  atomic.Pointer[snapRenderer] // renderer of the latest snapshot seen
	log *slog.Logger
	// sched applies a scheduled input on its chat's worker
	// (Intake.Scheduled, set by NewIntake); nil: Scheduled, at once.
	sched atomic.Pointer[func(ctx context.Context, in interview.Input) error]
}

// snapRenderer is a snapshot's renderer, built once per snapshot.
type snapRenderer struct {
	snap *formlib.Snapshot
	r    *Renderer
}

// NewHandler returns a handler.
func NewHandler(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = nopEvents{}
	}
	if cfg.Library == nil {
		cfg.Library = formlib.Fixed(nil, cfg.Catalog)
	}
	return &Handler{cfg: cfg, log: cfg.Logger}
}

// Renderer returns the renderer of the catalog in force.
func (h *Handler) Renderer() *Renderer { return h.renderer(h.cfg.Library.Current()) }

// rend is Renderer under a short name: outside a turn (throttle notices,
// errors) the catalog in force.
func (h *Handler) rend() *Renderer { return h.Renderer() }

// renderer returns snap's renderer, building it once per snapshot.
func (h *Handler) renderer(snap *formlib.Snapshot) *Renderer {
	if c := h.rc.Load(); c != nil && c.snap == snap {
		return c.r
	}
	r := NewRenderer(snap.Catalog)
	h.rc.Store(&snapRenderer{snap: snap, r: r})
	return r
}

type evKind uint8

const (
	evOther evKind = iota
	evText
	evCommand
	evCallback
	evMedia
	evForward
	evEdited
	evGroup
	evBlocked
	evForged
)

var evNames = [...]string{"other", "text", "command", "callback", "media", "forward", "edited", "group", "blocked", "forged"}

// event is an update reduced to what the channel needs.
type event struct {
	update   int64
	kind     evKind
	chat     int64
	user     int64
	name     string
	langHint string
	text     string
	cmd      string
	args     string
	query    string // callback query id
	data     string
	msgID    int // the message a callback belongs to
	inMsg    int // the person's own message (private chats), for /delete and stale cards
	// replyMenu is the first staff button of the bot's menu message a
	// text replies to (typed input of a staff menu), replyMsg that message.
	replyMenu string
	replyMsg  int
	// doc and docName are a document's file id and name.
	doc, docName string
}

func (h *Handler) classify(u *Update) event {
	ev := event{update: u.ID, chat: u.Chat}
	switch u.Kind {
	case upMessage:
		ev.user, ev.name, ev.langHint = u.From, u.Name, u.Lang
		if u.ChatType != tgmodels.ChatTypePrivate {
			ev.kind = evGroup
			ev.text = u.Text
			return ev
		}
		ev.inMsg = u.MsgID
		if !u.HasFrom || u.From != u.Chat {
			// In a private chat Telegram always sends from == chat: a
			// mismatch is a forged update (replies would go to another
			// chat than the one whose rights are checked).
			ev.kind = evForged
			return ev
		}
		switch {
		case u.Forwarded:
			ev.kind = evForward
		case u.Text != "":
			ev.kind, ev.text = evText, u.Text
			if name, args, ok := h.command(u.Text); ok {
				ev.kind, ev.cmd, ev.args = evCommand, name, args
			} else {
				ev.replyMenu, ev.replyMsg = u.ReplyMenu, u.ReplyMsg
			}
		default:
			ev.kind = evMedia
			ev.doc, ev.docName = u.Doc, u.DocName
		}
	case upEdited:
		ev.kind = evEdited
		if u.ChatType != tgmodels.ChatTypePrivate {
			ev.kind = evOther
		}
		ev.user, ev.langHint = u.From, u.Lang
		if ev.kind == evEdited && ev.user != u.Chat {
			ev.kind = evForged
		}
	case upChannelPost:
		ev.kind, ev.text = evGroup, u.Text
	case upMember:
		// A private chat's member update about the bot itself: "banned"
		// means the person blocked the bot (Telegram's 403 from now on).
		if u.ChatType == tgmodels.ChatTypePrivate && u.Banned {
			ev.kind = evBlocked
		}
	case upCallback:
		ev.kind, ev.query, ev.data = evCallback, u.Query, u.Data
		ev.user, ev.name, ev.langHint = u.From, u.Name, u.Lang
		// A message older than 48 h is "inaccessible": none.
		if u.HasMsg {
			ev.msgID = u.MsgID
			if u.ChatType != tgmodels.ChatTypePrivate {
				ev.kind = evGroup
			} else if u.Chat != u.From {
				ev.kind = evForged
			}
		}
	}
	return ev
}

// command parses "/name@bot args"; a command addressed to another bot is
// not ours.
func (h *Handler) command(text string) (name, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	word, rest, _ := strings.Cut(text[1:], " ")
	name, at, addressed := strings.Cut(word, "@")
	if addressed && h.cfg.Username != "" && !strings.EqualFold(at, h.cfg.Username) {
		return "", "", false
	}
	if name == "" {
		return "", "", false
	}
	return strings.ToLower(name), strings.TrimSpace(rest), true
}

// Outcome of handling an update, for the intake.
type Outcome struct {
	// Answer, when set, is a callback answer to put in the webhook's HTTP
	// response instead of calling the Bot API (it saves a request).
	Answer *CallbackAnswer
}

// CallbackAnswer is an answerCallbackQuery call.
type CallbackAnswer struct {
	QueryID string
	Text    string
}

// Handle applies one update. It returns an error only when the update
// should be delivered again (its effect could not be saved;
// errors.Is(err, interview.ErrUnavailable) when a store was down); a
// user's mistake or a refusal by Telegram is not an error. deferAnswer lets
// the callback answer travel in the webhook response.
func (h *Handler) Handle(ctx context.Context, u *Update, deferAnswer bool) (out Outcome, err error) {
	start := time.Now()
	ev := h.classify(u)
	defer func() {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		h.cfg.Events.Update(evNames[ev.kind], outcome, time.Since(start))
	}()
	switch {
	case ev.chat == 0 || ev.kind == evOther:
		return out, nil
	case ev.kind == evGroup:
		return out, h.group(ctx, ev)
	case ev.kind == evBlocked:
		// Nothing can be sent any more; the interview stays until it
		// expires and is then counted as abandoned.
		h.log.Info("respondent stopped the bot", "chat", h.chatKey(ev.chat))
		h.cfg.Events.Interview("stopped")
		h.cfg.Core.RefuseReminder(ctx, ev.chat)
		return out, nil
	case ev.kind == evForged:
		h.log.Warn("update refused: sender is not the private chat's user", "chat", h.chatKey(ev.chat))
		return out, nil
	}
	p := &present{h: h, ev: ev, defer_: deferAnswer}
	in := interview.Input{Kind: interview.KindChat, Key: interview.UpdateKey(ev.update), Chat: ev.chat, User: ev.user, LangHint: ev.langHint,
		InFlightGrace: firstWebhookAttempt(ctx)}
	err = h.cfg.Core.Apply(ctx, in, p)
	return p.out, err
}

// throttled counts a new update against the person's inbound limit and
// reports whether to drop it (then out holds what the drop answered). It
// runs inside the core's turn, once the session's dedup has said the
// update is new: a duplicate delivery, a redelivery or a racing copy of
// it is not counted again.
func (h *Handler) throttled(ctx context.Context, ev event, deferAnswer bool) (out Outcome, drop bool) {
	if h.cfg.Throttle == nil || ev.user == 0 {
		return out, false
	}
	ok, first, err := h.cfg.Throttle.Inbound(ctx, ev.user, ev.update)
	switch {
	case err != nil:
		// Fail open: a Redis problem shows in /readyz; people keep
		// being served.
		h.log.Warn("inbound limit unavailable", "err", err)
		return out, false
	case !ok:
		out, _ = h.dropFlood(ctx, ev, first, deferAnswer)
		return out, true
	}
	return out, false
}

// Throttle limits each person's incoming updates.
type Throttle interface {
	// Inbound counts update (its Telegram update id) of user and reports
	// whether to apply it; when not, first reports the first refusal of
	// the flood. A copy of an update counted already (delivered to two
	// replicas at once) may be let through uncounted: the session's dedup
	// keeps it from applying twice.
	Inbound(ctx context.Context, user, update int64) (ok, first bool, err error)
}

// dropFlood acknowledges an update over the person's inbound limit without
// applying it. The first one of a flood is answered with one "slow down";
// a callback gets its answer only in the webhook response (free), never
// through the API.
func (h *Handler) dropFlood(ctx context.Context, ev event, first, deferAnswer bool) (Outcome, error) {
	var out Outcome
	h.cfg.Events.Interview("throttled")
	if ev.query != "" && deferAnswer {
		out.Answer = &CallbackAnswer{QueryID: ev.query}
	}
	if !first {
		return out, nil
	}
	h.log.Info("inbound flood: updates dropped", "chat", h.chatKey(ev.chat))
	lang := h.lang("", ev.langHint)
	if _, err := h.cfg.Sender.Send(ctx, ev.chat, Message{Text: h.rend().Text(lang, MsgSlowDown, nil)}); err != nil {
		h.log.Warn("send failed", "chat", h.chatKey(ev.chat), "msg", MsgSlowDown, "err", err)
	}
	return out, nil
}

// group answers in groups and channels, only when addressed: one short
// "write to me in private", nothing kept.
func (h *Handler) group(ctx context.Context, ev event) error {
	_, _, cmd := h.command(ev.text)
	mention := h.cfg.Username != "" && strings.Contains(strings.ToLower(ev.text), "@"+strings.ToLower(h.cfg.Username))
	if ev.query != "" {
		return h.cfg.Sender.Answer(ctx, ev.query, h.rend().Plain(h.lang("", ev.langHint), MsgGroup, nil))
	}
	if !cmd && !mention {
		return nil
	}
	_, err := h.cfg.Sender.Send(ctx, ev.chat, Message{Text: h.rend().Text(h.lang("", ev.langHint), MsgGroup, nil)})
	return ignoreTelegram(err)
}

// ignoreTelegram drops refusals by Telegram (blocked, bad request): they
// must not make the update be delivered again.
func ignoreTelegram(err error) error {
	if errors.Is(err, ErrBlocked) || errors.Is(err, ErrTelegram) {
		return nil
	}
	return err
}

// lang is the language to speak: the interview's, else the best match of
// Telegram's hint, else English.
func (h *Handler) lang(state, hint string) string {
	if state != "" {
		return state
	}
	if l, ok := h.cfg.Library.Current().Catalog.Match(hint); ok {
		return l
	}
	return locales.Source
}

// present is the Telegram channel of one update: the core calls Present
// with the turn (once per attempt), and the callback answer that may
// travel in the webhook response is kept for Handle.
type present struct {
	h       *Handler
	ev      event
	defer_  bool
	out     Outcome
	counted bool // the update was counted against the inbound limit
}

// Present interprets the update within the core's turn and sends the
// replies.
func (p *present) Present(ctx context.Context, it *interview.Turn) error {
	markLoaded(ctx) // the session is loaded: an expiring webhook hold may answer the tap now
	if !p.counted && it.Input().Kind == interview.KindChat && it.Seen() == interview.SeenNone {
		// Counted once per update, not per compare-and-swap attempt. A
		// dropped update is marked handled by the core like any other.
		p.counted = true
		if out, drop := p.h.throttled(ctx, p.ev, p.defer_); drop {
			p.out = out
			return nil
		}
	}
	cur, bare := it.LastMsg(), false
	if c, ok := p.h.cfg.Sender.cardOf(p.ev.chat, it.State().Version); ok {
		// This replica showed the question last: a newer card than the
		// store names means the store's record of it was lost (liveCard).
		cur = max(cur, c.msg)
		bare = c.bare && c.msg == cur
	}
	t := &turn{h: p.h, ev: p.ev, it: it, defer_: p.defer_, lastMsg: cur, cur: cur, bare: bare, cbPos: -1}
	t.edits = t.editBuf[:0]
	if t.snap = it.Snapshot(); t.snap == nil || t.snap.Catalog == nil {
		t.snap = p.h.cfg.Library.Current() // a core wired without a catalog (tests)
	}
	t.r = p.h.renderer(t.snap)
	t.sync()
	var err error
	switch {
	case it.Input().Kind == interview.KindRemind:
		err = t.remind(ctx) // remind.go
	case it.Input().Kind == interview.KindShow:
		// Staff work queued off a turn sent its messages (Request.Defer):
		// the question again below them.
		p.out, err = t.askBelow(ctx)
	case it.Replay() && t.superseded():
		// An old update delivered again after newer ones were applied
		// (out of order, or late from another replica): its replies went
		// out long ago and later turns replaced them. Nothing is shown
		// and its query is not answered again (the first delivery did;
		// Telegram refuses a second answer).
	case it.Input().Kind != interview.KindChat || it.Replay():
		// Decided by the core (an expiry, a redelivery): show it. A
		// replay does not answer its callback query again: the first
		// delivery did (Telegram refuses a second answer), or the query
		// has expired.
		if it.Replay() {
			t.answered = true
		}
		p.out, err = t.show(ctx, it.Effects())
	default:
		p.out, err = t.dispatch(ctx)
	}
	if err != nil {
		return err
	}
	it.Shown(t.lastMsg)
	if t.lastMsg != 0 {
		p.h.cfg.Sender.noteCard(p.ev.chat, liveCard{msg: t.lastMsg, version: it.State().Version, bare: t.bare})
	}
	it.Sent(t.sent...)
	if t.ev.inMsg != 0 {
		it.Sent(t.ev.inMsg)
	}
	return nil
}

// superseded reports whether a replayed update (applied before, its
// replies perhaps not sent) was followed by later inputs, so that showing
// the current question for it again would only repeat or, on an old card,
// revive a keyboard (or, after the end, say "already answered" below the
// closing card): a tap's question was asked again since (each fresh
// showing raises State.Seq; the tap's own step accounts for one at most,
// the step that completes for none); or a typed message is older than the
// card now showing the question. When in doubt it is not superseded: the
// question is shown again, as a crash between saving and sending needs —
// also for the update that completed the interview.
func (t *turn) superseded() bool {
	ev := t.ev
	if ev.query != "" {
		cb, err := DecodeCallback(ev.data)
		if err != nil {
			return false
		}
		switch cb.Kind {
		case CbChoose, CbToggle, CbDone, CbBack, CbSkip, CbAck, CbPage:
			return t.state.Seq > cb.Seq+1
		}
		return false
	}
	cur := t.cur
	return ev.inMsg != 0 && cur != 0 && cur > ev.inMsg
}

// turn is the Telegram side of one attempt at applying an update: the
// question card, the edits and the callback answer. The interview itself
// is the core's (it).
type turn struct {
	h      *Handler
	ev     event
	it     *interview.Turn
	snap   *formlib.Snapshot // the questionnaires of this input
	r      *Renderer         // snap's renderer
	state  dialog.State      // it.State(), after the last core call
	form   *dialog.Form
	lang   string
	defer_ bool
	// answered says the callback query needs no answer from this turn
	// any more (answered through the API, or by an earlier delivery).
	answered bool
	// offer is the answer offered to the webhook response (deferred).
	offer   *CallbackAnswer
	lastMsg int
	// cur is the message showing the question when the turn began (the
	// store's record, or this replica's newer one: liveCard). bare says
	// the card lastMsg shows its question without the notes before it
	// (known from this replica's liveCard, or set by send as it places a
	// card).
	cur     int
	bare    bool
	notice  string
	edits   []edit   // messages to settle before the replies go out
	editBuf [1]edit  // edits' first: most turns make one (no allocation)
	lead    []string // notices to show above the question card
	cbPos   int      // position of the tapped button's question, -1 if none
	sent    []int    // ids of the messages sent in this turn, for /delete
	// recapped says the resume greeting and recap are in lead already.
	recapped bool
	// below says the card goes below the turn's own replies, never onto
	// the tapped message (a menu's or a confirmation's): askBelow.
	below bool
}

// sync reads the interview back from the core's turn.
func (t *turn) sync() {
	t.state, t.form, t.lang = t.it.State(), t.it.Form(), t.it.Lang()
}

// edit is a message to change: its text, and its keyboard (none when nil);
// kbOnly changes the keyboard alone.
type edit struct {
	msg    int
	m      Message
	kbOnly bool
}

// chatKey is a log-safe pseudonymous key for a chat.
func (h *Handler) chatKey(chat int64) string { return h.cfg.Core.ChatKey(chat) }

func (t *turn) request() *Request {
	r := &Request{Chat: t.ev.chat, User: t.ev.user, Name: t.ev.name, Lang: t.lang, Sender: t.h.cfg.Sender, Renderer: t.r,
		Update: t.ev.update}
	if t.state.Phase == dialog.PhaseAsking {
		// Only during an interview is there a question to bring below
		// queued work's messages (Request.Defer): outside one a KindShow
		// turn would load the session and mark its key sent (2 Redis
		// round trips) to show nothing. An interview begun while the
		// work runs gets its question below the work's messages only at
		// its next step.
		r.again = t.h.showAgain(t.ev.chat, t.ev.update)
	}
	return r
}

// staffDone ends a turn whose update a staff handler handled. During an
// interview (an operator answering the operators' questionnaire) the
// question comes below what the handler sent, as after /help (askBelow):
// after anything typed (a staff command, a reply to a wizard's menu, a
// document, a staff link), and after a button that sent new messages (a
// wizard's last step); a button that only edited its menu leaves the card
// where it is, below the menu. A wizard's typed step still reads a reply
// to its menu (StaffReplies): the card below does not change that. Work
// the handler queued off the turn (Request.Defer: a poster, a chart, an
// export) brings the question below once its messages are out instead
// (KindShow). Outside an interview the handler's replies are all.
func (t *turn) staffDone(ctx context.Context, req *Request, typed bool, sent int32) (Outcome, error) {
	if req.deferred || (!typed && sent == 0) {
		return t.finish(ctx)
	}
	return t.askBelow(ctx)
}

// showAgain is Request.again: a KindShow input for chat, keyed by the
// staff update that queued the work, applied on the chat's worker.
func (h *Handler) showAgain(chat, update int64) func(ctx context.Context) {
	return func(ctx context.Context) {
		in := interview.Input{Kind: interview.KindShow, Chat: chat, Key: interview.ShowKey(chat, update)}
		var err error
		if sched := h.sched.Load(); sched != nil {
			err = (*sched)(ctx, in)
		} else {
			err = h.Scheduled(ctx, in)
		}
		if err != nil {
			h.log.Warn("question not shown again after staff work", "chat", h.chatKey(chat), "err", err)
		}
	}
}

// staffButton returns the callback data of a keyboard's first staff
// button, or "".
func staffButton(kb *tgmodels.InlineKeyboardMarkup) string {
	for _, row := range kb.InlineKeyboard {
		for _, k := range row {
			if len(k.CallbackData) > 1 && k.CallbackData[1] == CbStaff {
				return k.CallbackData
			}
		}
	}
	return ""
}

func (t *turn) dispatch(ctx context.Context) (Outcome, error) {
	ev, h := t.ev, t.h
	switch ev.kind {
	case evText:
		if sr, ok := h.cfg.Staff.(StaffReplies); ok && ev.replyMenu != "" {
			// Typed input to a staff menu (never a respondent's answer:
			// the staff handler checks role and scope, and says no).
			if cb, err := DecodeCallback(ev.replyMenu); err == nil {
				req := t.request()
				ok, err := sr.Reply(ctx, req, cb, ev.replyMsg, ev.text)
				if err != nil {
					return Outcome{}, err
				}
				if ok {
					return t.staffDone(ctx, req, true, 0)
				}
			}
		}
		return t.step(ctx, dialog.Input{Kind: dialog.InText, Text: ev.text}, true)
	case evMedia:
		if sd, ok := h.cfg.Staff.(StaffDocuments); ok && ev.doc != "" {
			req := t.request()
			ok, err := sd.Document(ctx, req, ev.doc, ev.docName)
			if err != nil {
				return Outcome{}, err
			}
			if ok {
				return t.staffDone(ctx, req, true, 0)
			}
		}
		t.note(MsgOnlyText, true)
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	case evForward:
		t.note(MsgForwarded, true)
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	case evEdited:
		t.say(ctx, MsgEdited)
		return t.askBelow(ctx)
	case evCallback:
		return t.callback(ctx)
	case evCommand:
		switch ev.cmd {
		case "start":
			return t.start(ctx)
		case "language", "lingua", "lang":
			return t.picker(ctx)
		case "back":
			return t.step(ctx, dialog.Input{Kind: dialog.InBack}, true)
		case "skip":
			return t.step(ctx, dialog.Input{Kind: dialog.InSkip}, true)
		case "restart":
			return t.restart(ctx)
		case "help":
			t.say(ctx, MsgHelp)
			if h.cfg.Staff != nil {
				// A member of staff gets their own commands below:
				// no command menu lists them.
				if _, err := h.cfg.Staff.Command(ctx, t.request(), "help", ""); err != nil {
					return Outcome{}, err
				}
			}
			return t.askBelow(ctx)
		case "privacy":
			t.say(ctx, MsgPrivacy)
			return t.askBelow(ctx)
		case "delete":
			return t.confirmDelete(ctx)
		case "services":
			return t.services(ctx)
		}
		if h.cfg.Staff != nil {
			req := t.request()
			ok, err := h.cfg.Staff.Command(ctx, req, ev.cmd, ev.args)
			if err != nil {
				return Outcome{}, err
			}
			if ok {
				return t.staffDone(ctx, req, true, 0)
			}
		}
		t.say(ctx, MsgUnknownCommand)
		return t.askBelow(ctx)
	}
	return Outcome{}, nil
}

// askBelow follows a reply of its own (a command's answer: /help,
// /privacy, an unknown command, the services asked for, "not deleted", a
// staff handler's reply: staffDone)
// with the question again below it during an interview, as after a typed
// message that is not an answer: the card above loses its keys and stays
// as history, so the question to answer is the chat's last message. Costs
// two calls more than the reply alone (the card, the old card's keys),
// once per command: taps stay one edit. Outside an interview (none, or
// finished) the reply is all.
func (t *turn) askBelow(ctx context.Context) (Outcome, error) {
	if t.form == nil || (t.state.Phase != dialog.PhaseAsking && t.state.Phase != dialog.PhaseLanguage) {
		return t.finish(ctx)
	}
	t.below = true
	return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
}

// restart starts the interview again; after a finished one without a
// default municipality it asks for the link (the core decides).
func (t *turn) restart(ctx context.Context) (Outcome, error) {
	in, err := t.it.Restart()
	if errors.Is(err, interview.ErrNeedsLink) {
		t.say(ctx, MsgRestartLink)
		return t.finish(ctx)
	}
	t.sync()
	return t.step(ctx, in, true)
}

// say sends one bot message in the turn's language; Telegram refusals are
// logged, not retried.
func (t *turn) say(ctx context.Context, id string) {
	msg, err := t.h.cfg.Sender.Send(ctx, t.ev.chat, Message{Text: t.r.Text(t.lang, id, nil)})
	if err != nil {
		t.h.log.Warn("send failed", "chat", t.h.chatKey(t.ev.chat), "msg", id, "err", err)
		return
	}
	t.sent = append(t.sent, msg)
}

func (t *turn) start(ctx context.Context) (Outcome, error) {
	h, payload := t.h, t.ev.args
	if payload != "" && h.cfg.Staff != nil {
		req := t.request()
		ok, err := h.cfg.Staff.Start(ctx, req, payload)
		if err != nil {
			return Outcome{}, err
		}
		if ok {
			return t.staffDone(ctx, req, true, 0)
		}
	}
	s, err := t.it.Start(ctx, payload)
	if err != nil {
		return Outcome{}, err
	}
	if s.Refused != nil {
		t.say(ctx, refusalMessage(s.Refused))
		return Outcome{}, nil
	}
	t.sync()
	if s.Resumed {
		t.resumeNote() // remind.go
	}
	return t.step(ctx, s.Input, true)
}

// refusalMessage explains why an interview did not begin.
func refusalMessage(err error) string {
	switch {
	case errors.Is(err, interview.ErrInviteUnknown):
		return MsgInviteUnknown
	case errors.Is(err, interview.ErrInviteExpired):
		return MsgInviteExpired
	case errors.Is(err, interview.ErrInviteRevoked):
		return MsgInviteRevoked
	case errors.Is(err, interview.ErrInviteExhausted):
		return MsgInviteExhausted
	case errors.Is(err, interview.ErrInviteLimited):
		return MsgInviteLimited
	case errors.Is(err, interview.ErrNeedsLink):
		return MsgRestartLink
	}
	return MsgNoInvite
}

// picker sends the language menu: the language suggested by Telegram's
// hint first, then the others in the usual order.
func (t *turn) picker(ctx context.Context) (Outcome, error) {
	// The menu takes the question card's place (one live keyboard); a
	// new message goes through sendMsg, which records it for /delete.
	if err := t.placeCard(ctx, t.state, t.languagePage(ctx, 0)); err != nil {
		return Outcome{}, err
	}
	return t.finish(ctx)
}

// languagePage is one page of the language menu: the languages the
// interview's form speaks (a published form may speak fewer than the
// catalog). Order: the language Telegram suggests, then the languages most
// used by this municipality's respondents, then the usual order. The first
// page offers
// pickerFirstPage of them and a "More languages" key; the second page the
// rest and a key back. Tapping a page key edits the menu's keyboard in
// place, so the menu stays one message.
func (t *turn) languagePage(ctx context.Context, page int) Message {
	return t.h.formLanguagePage(ctx, t.snap, t.formID(), t.lang, t.ev.langHint, t.state.Context, page)
}

// languagePage is the menu of every catalog language in force.
func (h *Handler) languagePage(ctx context.Context, lang, hint string, sctx map[string]string, page int) Message {
	return h.formLanguagePage(ctx, h.cfg.Library.Current(), "", lang, hint, sctx, page)
}

// formLanguagePage is the menu of the languages form speaks in snap.
func (h *Handler) formLanguagePage(ctx context.Context, snap *formlib.Snapshot, form, lang, hint string, sctx map[string]string, page int) Message {
	r := h.renderer(snap)
	order := []string{}
	if first, ok := snap.Catalog.Match(hint); ok {
		order = append(order, first)
	}
	if m := sctx[interview.CtxMunicipality]; h.cfg.PopularLanguages != nil && m != "" {
		order = append(order, h.cfg.PopularLanguages(ctx, m)...)
	}
	var keys []Key
	seen := map[string]bool{}
	add := func(code string) {
		l, ok := snap.Catalog.Language(code)
		if !ok || seen[code] || !snap.Speaks(form, code) {
			return
		}
		seen[code] = true
		data, _ := Callback{Kind: CbLanguage, Option: l.Code}.Encode()
		keys = append(keys, Key{Text: l.Name, Data: data})
	}
	for _, code := range order {
		add(code)
	}
	for _, l := range snap.FormLanguages(form) {
		add(l.Code)
	}
	paged := len(keys) > pickerFirstPage+1 // a second page for one language is not worth a tap
	if paged {
		if page == 0 {
			keys = keys[:pickerFirstPage]
		} else {
			keys = keys[pickerFirstPage:]
		}
	}
	// Two names per row read well in every script.
	var rows [][]Key
	for i := 0; i < len(keys); i += 2 {
		rows = append(rows, keys[i:min(i+2, len(keys))])
	}
	if paged {
		// The arrows point the way the script reads.
		fwd, back := "▸", "◂"
		if r.rtl(lang) {
			fwd, back = back, fwd
		}
		if page == 0 {
			data, _ := Callback{Kind: CbLanguage, Pos: 1, Option: pageOption}.Encode()
			rows = append(rows, []Key{{Text: "🌐 " + r.Plain(lang, MsgLanguageMore, nil) + " " + fwd, Data: data}})
		} else {
			data, _ := Callback{Kind: CbLanguage, Pos: 0, Option: pageOption}.Encode()
			rows = append(rows, []Key{{Text: back + " 🌐", Data: data}})
		}
	}
	return Message{Text: r.Text(lang, MsgLanguageChoose, nil), Keyboard: rows}
}

// formID is the form whose languages the menu offers: the interview's,
// else the one it will begin.
func (t *turn) formID() string {
	if t.state.Form != "" {
		return t.state.Form
	}
	if t.form != nil {
		return t.form.ID
	}
	return ""
}

func (t *turn) confirmDelete(ctx context.Context) (Outcome, error) {
	yes, _ := Callback{Kind: CbDelete, Option: "yes"}.Encode()
	no, _ := Callback{Kind: CbDelete, Option: "no"}.Encode()
	m := Message{Text: t.r.Text(t.lang, MsgDeleteConfirm, nil), Keyboard: [][]Key{{
		{Text: t.r.Plain(t.lang, MsgDeleteYes, nil), Data: yes},
		{Text: t.r.Plain(t.lang, MsgDeleteNo, nil), Data: no},
	}}}
	msg, err := t.h.cfg.Sender.Send(ctx, t.ev.chat, m)
	if err == nil {
		t.sent = append(t.sent, msg)
	}
	return Outcome{}, ignoreTelegram(err)
}
