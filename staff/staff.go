package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
	_ "time/tzdata" // staff see dates in Europe/Rome, also in slim containers

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/internal/typeset"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// Limiter is a shared rate limit (Redis, redisstore.Store): Allow reports
// whether one more event under key fits within limit per period, counting
// it; Limited reports whether none fits now, counting nothing.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, per time.Duration) (bool, error)
	Limited(ctx context.Context, key string, limit int, per time.Duration) (bool, error)
}

// Config wires a Handler.
type Config struct {
	// The stores (storage/pgstore's DB satisfies them all).
	Members       Members
	Enrolment     Enrolment
	Places        Places
	Registry      Registry
	ServiceLookup ServiceLookup
	InviteMaker   InviteMaker
	InviteList    InviteList
	// Directory and DirectoryEditor back the service directory menu
	// (/directory); nil: no such command.
	Directory       DirectoryEntries
	DirectoryEditor DirectoryEditor
	// DirectoryVocabulary are the need areas and languages an entry may
	// list (as for `needsbot directory import`); AreaLabels map an area
	// code to the message id of its label.
	DirectoryVocabulary directory.Vocabulary
	AreaLabels          map[string]string
	// Work runs long staff work (exports, charts) off the respondents'
	// path; nil: a default queue (2 workers, 16 waiting, 5 minutes each).
	Work    *WorkQueue
	Limiter Limiter // bad tokens and double taps
	// Pseudonym maps a Telegram user id to its keyed pseudonym: rate-limit
	// keys never hold raw ids.
	Pseudonym   func(userID int64) string
	Results     Results // /results and /export; nil: those commands are unknown
	BotUsername string  // for deep links t.me/<username>?start=<token>
	// Forms are the questionnaires an invite may name, in menu order
	// (cmd gives the respondents' forms, then the staff's: what each
	// form declares as its audience). Required.
	Forms []string
	// Publisher keeps and publishes the questionnaire workbooks admins
	// send to the bot; nil: documents are not taken. FormVersion is the
	// newest version of a form the bot runs (0: none), so that a preview
	// refuses a version already there. Shipped reports whether a form id
	// is a questionnaire shipped with the bot: a workbook under that id is
	// refused (issue 13: the shipped forms are unchanged for respondents).
	Publisher   FormPublisher
	FormVersion func(form string) int
	Shipped     func(form string) bool
	// Library, when set, replaces Forms with the questionnaires in force
	// (live reload): an invite names a form by its place in the
	// snapshot's InviteOrder, which only grows, so a menu shown before a
	// publication still means the same form; retired forms leave the menu
	// and are refused.
	Library formlib.Source
	// BadTokens bad invite or staff tokens per user are allowed per
	// BadTokenPeriod (default 5 per 10 minutes) before ErrInviteLimited.
	BadTokens      int
	BadTokenPeriod time.Duration
	// StaffLinkDays are the validities offered for staff links (default 1
	// and 7 days).
	StaffLinkDays []int
	Location      *time.Location // dates shown to staff, default Europe/Rome
	Logger        *slog.Logger
	// WarmFonts is called whenever a staff member is recognised (a staff
	// command or button): it starts parsing the posters' and charts'
	// fonts in the background, once per process, so that a bot whose
	// staff never appear never holds them and staff's first poster or
	// chart does not wait for them. Default typeset.Warm.
	WarmFonts func()
	Now       func() time.Time
	Random    io.Reader // token source, default crypto/rand
	// TokenKey (at least 32 bytes) derives each respondent invite's token
	// from its id, so that a poster can be printed again while the
	// database holds only the token's hash. cmd derives it from
	// NEEDSBOT_PSEUDONYM_KEY with a domain separator.
	TokenKey []byte
}

// Handler is the staff side of the bot: it implements bot.Staff (commands,
// buttons and staff links) and interview.Invites (respondent invite tokens).
// Every command and every button press loads the member from Postgres and
// checks role and scope again; whoever lacks them is not handled, so they
// get exactly what an unknown command (or a stale button) gets.
type Handler struct {
	cfg  Config
	work *WorkQueue
	log  *slog.Logger
	loc  *time.Location
	rand io.Reader
}

var (
	_ bot.Staff          = (*Handler)(nil)
	_ bot.StaffDocuments = (*Handler)(nil)
	_ interview.Invites  = (*Handler)(nil)
)

// New returns a handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Members == nil || cfg.Enrolment == nil || cfg.Places == nil || cfg.Registry == nil || cfg.ServiceLookup == nil ||
		cfg.InviteMaker == nil || cfg.InviteList == nil || cfg.Limiter == nil || cfg.Pseudonym == nil {
		return nil, errors.New("staff: the stores, Limiter and Pseudonym are required")
	}
	if len(cfg.TokenKey) < 32 {
		return nil, errors.New("staff: a TokenKey of at least 32 bytes is required")
	}
	if cfg.BotUsername == "" {
		return nil, errors.New("staff: the bot's username is required for links")
	}
	if len(cfg.Forms) == 0 && cfg.Library == nil {
		return nil, errors.New("staff: the questionnaires an invite may name (Forms) are required")
	}
	if cfg.BadTokens <= 0 {
		cfg.BadTokens = 5
	}
	if cfg.BadTokenPeriod <= 0 {
		cfg.BadTokenPeriod = 10 * time.Minute
	}
	if len(cfg.StaffLinkDays) == 0 {
		cfg.StaffLinkDays = []int{1, 7}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WarmFonts == nil {
		cfg.WarmFonts = typeset.Warm
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, loc: cfg.Location, rand: cfg.Random, work: cfg.Work}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.work == nil {
		h.work = NewWorkQueue(0, 0, 0, h.log)
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	if h.loc == nil {
		loc, err := time.LoadLocation("Europe/Rome")
		if err != nil {
			return nil, fmt.Errorf("staff: %w", err)
		}
		h.loc = loc
	}
	return h, nil
}

// level orders roles by scope.
func level(r org.Role) int { return r.Level() }

// commandLevel is the least role a staff command needs (0: not a staff
// command).
func (h *Handler) commandLevel(name string) int {
	switch name {
	case "invite", "invites", "help":
		return level(org.RoleOperator)
	case "staff", "stafflink":
		return level(org.RoleManager)
	case "results", "export":
		if h.cfg.Results == nil {
			return 0
		}
		return level(org.RoleManager)
	case "directory":
		if h.cfg.Directory == nil || h.cfg.DirectoryEditor == nil {
			return 0
		}
		return level(org.RoleManager)
	case "municipalities":
		return level(org.RoleAdmin)
	}
	return 0
}

// who is the member acting, as loaded for this update.
type who struct {
	m org.Member
	s org.Staff
}

// who loads the active member behind a Telegram user, if any.
func (h *Handler) who(ctx context.Context, user int64, need int) (who, bool, error) {
	if user == 0 {
		return who{}, false, nil
	}
	s, err := h.cfg.Members.StaffByTelegram(ctx, user)
	if errors.Is(err, org.ErrNotFound) {
		return who{}, false, nil
	}
	if err != nil {
		return who{}, false, fmt.Errorf("staff: load member: %w", err)
	}
	w := who{m: s.Member(), s: s}
	h.cfg.WarmFonts()
	return w, level(w.m.Role) >= need && need > 0, nil
}

// Command handles a staff command for a member with the role it needs.
func (h *Handler) Command(ctx context.Context, r *bot.Request, name, args string) (bool, error) {
	need := h.commandLevel(name)
	if need == 0 {
		return false, nil
	}
	w, ok, err := h.who(ctx, r.User, need)
	if err != nil || !ok {
		return false, err
	}
	switch name {
	case "help":
		// After the respondents' help (bot): the member's own commands,
		// shown once at enrolment before and in no command menu.
		h.send(ctx, r, bot.Message{Text: h.text(r, roleHelp(org.Role(w.m.Role)), nil)})
		return true, nil
	case "invite":
		return true, h.inviteStart(ctx, r, w, args)
	case "invites":
		return true, h.listInvites(ctx, r, w)
	case "staff":
		return true, h.listStaff(ctx, r, w)
	case "stafflink":
		return true, h.linkStep(ctx, r, w, linkDraft{}, 0, "")
	case "directory":
		return true, h.directoryCommand(ctx, r, w)
	case "municipalities":
		return true, h.municipalities(ctx, r, w, args)
	case "results", "export":
		m := w.m
		return true, h.long(ctx, r, name, func(ctx context.Context) error {
			return h.cfg.Results.Command(ctx, r, m, name, args)
		})
	}
	return false, nil
}

// route is how a staff button of one route is handled: ok false means
// not handled (stale, forged, or outside the member's scope).
type route func(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error)

// routes maps every route of the table (menu.Routes) to its handler; a
// test checks that each has one. Routes whose feature is not configured
// map to nil (not handled).
func (h *Handler) routes() map[menu.Route]route {
	rt := map[menu.Route]route{
		menu.Link:         h.linkCallback,
		menu.Invite:       h.inviteCallback,
		menu.RevokeStaff:  h.idRoute(h.revokeStaff),
		menu.RevokeInvite: h.idRoute(h.revokeInvite),
		menu.Poster: h.idRoute(func(ctx context.Context, r *bot.Request, w who, a idAction, _ int, queryID string) (bool, error) {
			return h.resendPoster(ctx, r, w, a, queryID)
		}),
		menu.Cancel:    h.cancel,
		menu.Directory: nil,
		menu.Results:   nil,
		menu.Forms:     nil,
	}
	if h.cfg.Directory != nil && h.cfg.DirectoryEditor != nil {
		rt[menu.Directory] = h.directoryCallback
	}
	if h.cfg.Results != nil {
		rt[menu.Results] = h.resultsCallback
	}
	if h.formsOn() {
		rt[menu.Forms] = h.formsCallback
	}
	return rt
}

// Callback handles a staff button, through the routing table. Malformed
// data, a role that does not allow the button, or a field outside the
// member's scope is not handled: the bot answers as for any stale button.
func (h *Handler) Callback(ctx context.Context, r *bot.Request, cb bot.Callback, queryID string, msgID int) (bool, error) {
	if cb.Kind != bot.CbStaff {
		return false, nil
	}
	e, payload, ok := menu.Lookup(cb.Option)
	if !ok {
		return false, nil
	}
	handle := h.routes()[e.Route]
	if handle == nil {
		return false, nil
	}
	w, ok, err := h.who(ctx, r.User, level(e.Need))
	if err != nil || !ok {
		return false, err
	}
	return handle(ctx, r, w, payload, msgID, queryID)
}

func (h *Handler) cancel(ctx context.Context, r *bot.Request, _ who, payload string, msgID int, queryID string) (bool, error) {
	if payload != "" {
		return false, nil
	}
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgCancelled, nil)})
	h.answer(ctx, r, queryID, "")
	return true, nil
}

// idRoute adapts an action on one row (revoke, poster) to a route.
func (h *Handler) idRoute(f func(ctx context.Context, r *bot.Request, w who, a idAction, msgID int, queryID string) (bool, error)) route {
	return func(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
		a, err := parseIDAction(payload)
		if err != nil {
			return false, nil
		}
		return f(ctx, r, w, a, msgID, queryID)
	}
}

// LongResults is implemented by a Results whose buttons may start long
// work (charts, exports): those run on the work queue.
type LongResults interface {
	Long(payload string) bool
}

func (h *Handler) resultsCallback(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
	if lr, ok := h.cfg.Results.(LongResults); ok && lr.Long(payload) {
		// Answer the tap now; the work goes to the queue, which shows
		// its progress.
		h.answer(ctx, r, queryID, "")
		m := w.m
		return true, h.long(ctx, r, "results", func(ctx context.Context) error {
			return h.cfg.Results.Callback(ctx, r, m, payload, "", msgID)
		})
	}
	return true, h.cfg.Results.Callback(ctx, r, w.m, payload, queryID, msgID)
}

// long runs staff work on the work queue, once per update (a redelivered
// update does not run it again), with a progress message that the
// outcome replaces.
func (h *Handler) long(ctx context.Context, r *bot.Request, name string, run func(ctx context.Context) error) error {
	if r.Update != 0 {
		first, err := h.cfg.Limiter.Allow(ctx, "staffwork:"+strconv.FormatInt(r.Update, 10), 1, 24*time.Hour)
		if err != nil {
			// Redis trouble must not stop staff work; at worst a
			// redelivery makes the export twice.
			h.log.Warn("staff: work idempotency unavailable", "err", err)
		} else if !first {
			h.log.Info("staff work already started for this update", "job", name)
			return nil
		}
	}
	progress, err := r.Sender.Send(ctx, r.Chat, bot.Message{Text: h.text(r, msgWorkPreparing, nil)})
	if err != nil {
		h.log.Warn("staff: progress message failed", "err", err)
	}
	// During an interview (an operator answering the operators'
	// questionnaire) the question comes below the work's messages once
	// they are out, not below the progress message (bot.Request.Defer).
	again := make(chan func(context.Context), 1)
	err = h.work.Submit(ctx, name, run, func(err error) {
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			(<-again)(ctx)
		}()
		// The job's own context is over: say the outcome within a
		// short deadline of its own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			h.log.Error("staff work ran out of time", "job", name)
			h.edit(dctx, r, progress, bot.Message{Text: h.text(r, msgWorkTooLong, nil)})
			return
		case err != nil:
			// The work told the member already (results say "something
			// went wrong"); the error is for operators.
			h.log.Error("staff work failed", "job", name, "err", err)
		}
		if progress != 0 {
			if derr := r.Sender.DeleteMessages(dctx, r.Chat, []int{progress}); derr != nil {
				h.log.Warn("staff: could not remove the progress message", "err", derr)
			}
		}
	})
	if errors.Is(err, ErrBusy) {
		h.edit(ctx, r, progress, bot.Message{Text: h.text(r, msgWorkBusy, nil)})
		return nil
	}
	if err == nil {
		again <- r.Defer()
	}
	return err
}

// Wait waits for the staff work queued so far (tests, shutdown).
func (h *Handler) Wait() { h.work.Wait() }

// ------------------------------------------------------------- rendering

func (h *Handler) text(r *bot.Request, id string, data map[string]any) string {
	return r.Renderer.Text(r.Lang, id, data)
}

func (h *Handler) plain(r *bot.Request, id string, data map[string]any) string {
	return r.Renderer.Plain(r.Lang, id, data)
}

// key makes a staff button of a route.
func (h *Handler) key(label string, rt menu.Route, payload string) bot.Key {
	k, err := menu.Key(label, rt, payload)
	if err != nil {
		// Payloads fit for any real ids and labels (a test checks the
		// largest); should one not, the button closes the menu.
		h.log.Error("staff: button data does not fit", "len", len(payload))
		k, _ = menu.Key(label, menu.Cancel, "")
	}
	return k
}

func (h *Handler) cancelKey(r *bot.Request) bot.Key {
	return h.key(h.plain(r, btnCancel, nil), menu.Cancel, "")
}

// send sends to the request's chat. Telegram refusals are logged, not
// returned: a staff action already done must not run again on redelivery.
func (h *Handler) send(ctx context.Context, r *bot.Request, m bot.Message) {
	if _, err := r.Sender.Send(ctx, r.Chat, m); err != nil {
		h.log.Warn("staff: send failed", "err", err)
	}
}

// edit replaces a menu message (or sends a new one when the old one is
// not accessible).
func (h *Handler) edit(ctx context.Context, r *bot.Request, msgID int, m bot.Message) {
	if msgID == 0 {
		h.send(ctx, r, m)
		return
	}
	if err := r.Sender.Edit(ctx, r.Chat, msgID, m); err != nil {
		h.log.Warn("staff: edit failed", "err", err)
	}
}

func (h *Handler) answer(ctx context.Context, r *bot.Request, queryID, notice string) {
	if queryID == "" {
		return
	}
	if err := r.Sender.Answer(ctx, queryID, notice); err != nil {
		h.log.Warn("staff: answer callback failed", "err", err)
	}
}

func (h *Handler) fail(ctx context.Context, r *bot.Request, err error) error {
	h.log.Error("staff action failed", "err", err)
	h.send(ctx, r, bot.Message{Text: h.text(r, bot.MsgError, nil)})
	return nil
}

func (h *Handler) roleName(r *bot.Request, role org.Role) string {
	switch role {
	case org.RoleAdmin:
		return h.plain(r, msgRoleAdmin, nil)
	case org.RoleManager:
		return h.plain(r, msgRoleManager, nil)
	}
	return h.plain(r, msgRoleOperator, nil)
}

// scope names where a member, link or invite applies.
func (h *Handler) scope(r *bot.Request, muni, svc string) string {
	switch {
	case muni == "":
		return h.plain(r, msgScopeAll, nil)
	case svc == "":
		return muni
	}
	return h.plain(r, msgScopeService, map[string]any{"Municipality": muni, "Service": svc})
}

func (h *Handler) date(t time.Time) string { return t.In(h.loc).Format("02/01/2006 15:04") }

func (h *Handler) deepLink(token string) string {
	return DeepLink(h.cfg.BotUsername, token)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
