package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // staff see dates in Europe/Rome, also in slim containers

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/storage/pgstore"
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
	DB      *pgstore.DB
	Limiter Limiter // bad tokens and double taps
	// Pseudonym maps a Telegram user id to its keyed pseudonym: rate-limit
	// keys never hold raw ids.
	Pseudonym   func(userID int64) string
	Results     Results // /results and /export; nil: those commands are unknown
	BotUsername string  // for deep links t.me/<username>?start=<token>
	// Forms are the questionnaires an invite may name, in menu order
	// (default immigrati, operatori).
	Forms []string
	// BadTokens bad invite or staff tokens per user are allowed per
	// BadTokenPeriod (default 5 per 10 minutes) before ErrInviteLimited.
	BadTokens      int
	BadTokenPeriod time.Duration
	// StaffLinkDays are the validities offered for staff links (default 1
	// and 7 days).
	StaffLinkDays []int
	Location      *time.Location // dates shown to staff, default Europe/Rome
	Logger        *slog.Logger
	Now           func() time.Time
	Random        io.Reader // token source, default crypto/rand
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
	art  *posterArt
	log  *slog.Logger
	loc  *time.Location
	rand io.Reader
}

var (
	_ bot.Staff         = (*Handler)(nil)
	_ interview.Invites = (*Handler)(nil)
)

// New returns a handler.
func New(cfg Config) (*Handler, error) {
	if cfg.DB == nil || cfg.Limiter == nil || cfg.Pseudonym == nil {
		return nil, errors.New("staff: DB, Limiter and Pseudonym are required")
	}
	if len(cfg.TokenKey) < 32 {
		return nil, errors.New("staff: a TokenKey of at least 32 bytes is required")
	}
	if cfg.BotUsername == "" {
		return nil, errors.New("staff: the bot's username is required for links")
	}
	if len(cfg.Forms) == 0 {
		cfg.Forms = []string{"immigrati", "operatori"}
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
	h := &Handler{cfg: cfg, log: cfg.Logger, loc: cfg.Location, rand: cfg.Random}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
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
	var err error
	if h.art, err = newPosterArt(); err != nil {
		return nil, err
	}
	return h, nil
}

// level orders roles by scope.
func level(r Role) int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleManager:
		return 2
	case RoleOperator:
		return 1
	}
	return 0
}

// commandLevel is the least role a staff command needs (0: not a staff
// command).
func (h *Handler) commandLevel(name string) int {
	switch name {
	case "invite", "invites":
		return level(RoleOperator)
	case "staff", "stafflink":
		return level(RoleManager)
	case "results", "export":
		if h.cfg.Results == nil {
			return 0
		}
		return level(RoleManager)
	case "municipalities":
		return level(RoleAdmin)
	}
	return 0
}

// who is the member acting, as loaded for this update.
type who struct {
	m Member
	s pgstore.Staff
}

func memberOf(s pgstore.Staff) Member {
	return Member{ID: s.ID, TelegramUserID: s.TelegramUserID, Role: Role(s.Role), MunicipalityID: s.MunicipalityID,
		ServiceID: s.ServiceID, Name: s.Name}
}

// who loads the active member behind a Telegram user, if any.
func (h *Handler) who(ctx context.Context, user int64, need int) (who, bool, error) {
	if user == 0 {
		return who{}, false, nil
	}
	s, err := h.cfg.DB.StaffByTelegram(ctx, user)
	if errors.Is(err, pgstore.ErrNotFound) {
		return who{}, false, nil
	}
	if err != nil {
		return who{}, false, fmt.Errorf("staff: load member: %w", err)
	}
	w := who{m: memberOf(s), s: s}
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
	case "invite":
		return true, h.inviteStart(ctx, r, w, args)
	case "invites":
		return true, h.listInvites(ctx, r, w)
	case "staff":
		return true, h.listStaff(ctx, r, w)
	case "stafflink":
		return true, h.linkStep(ctx, r, w, newLinkDraft(), 0, "")
	case "municipalities":
		return true, h.municipalities(ctx, r, w, args)
	case "results", "export":
		return true, h.cfg.Results.Command(ctx, r, w.m, name, args)
	}
	return false, nil
}

// optionLevel is the least role a button needs (0: not ours).
func (h *Handler) optionLevel(opt string) int {
	switch {
	case strings.HasPrefix(opt, optResults):
		if h.cfg.Results == nil {
			return 0
		}
		return level(RoleManager)
	case opt == "":
		return 0
	}
	switch opt[0] {
	case optLink, optRevokeStaff:
		return level(RoleManager)
	case optInvite, optRevokeInvite, optPoster, optCancel:
		return level(RoleOperator)
	}
	return 0
}

// Callback handles a staff button. Malformed data, a role that does not
// allow the button, or a field outside the member's scope is not handled:
// the bot answers as for any stale button.
func (h *Handler) Callback(ctx context.Context, r *bot.Request, cb bot.Callback, queryID string, msgID int) (bool, error) {
	if cb.Kind != bot.CbStaff {
		return false, nil
	}
	need := h.optionLevel(cb.Option)
	if need == 0 {
		return false, nil
	}
	w, ok, err := h.who(ctx, r.User, need)
	if err != nil || !ok {
		return false, err
	}
	opt := cb.Option
	if payload, ok := strings.CutPrefix(opt, optResults); ok {
		return true, h.cfg.Results.Callback(ctx, r, w.m, payload, queryID, msgID)
	}
	switch opt[0] {
	case optCancel:
		if opt != string(optCancel) {
			return false, nil
		}
		h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgCancelled, nil)})
		h.answer(ctx, r, queryID, "")
		return true, nil
	case optLink:
		d, err := parseLink(opt)
		if err != nil {
			return false, nil
		}
		return h.linkCallback(ctx, r, w, d, msgID, queryID)
	case optInvite:
		d, err := parseInvite(opt)
		if err != nil {
			return false, nil
		}
		return h.inviteCallback(ctx, r, w, d, msgID, queryID)
	}
	a, err := parseIDAction(opt)
	if err != nil {
		return false, nil
	}
	switch a.Kind {
	case optRevokeStaff:
		return h.revokeStaff(ctx, r, w, a, msgID, queryID)
	case optRevokeInvite:
		return h.revokeInvite(ctx, r, w, a, msgID, queryID)
	case optPoster:
		return h.resendPoster(ctx, r, w, a, queryID)
	}
	return false, nil
}

// ------------------------------------------------------------- rendering

func (h *Handler) text(r *bot.Request, id string, data map[string]any) string {
	return r.Renderer.Text(r.Lang, id, data)
}

func (h *Handler) plain(r *bot.Request, id string, data map[string]any) string {
	return r.Renderer.Plain(r.Lang, id, data)
}

// key makes a staff button.
func (h *Handler) key(label, opt string) bot.Key {
	data, err := bot.Callback{Kind: bot.CbStaff, Option: opt}.Encode()
	if err != nil {
		// Options fit for any real ids and labels (a test checks the
		// largest); should one not, the button closes the menu.
		h.log.Error("staff: button data does not fit", "len", len(opt))
		data, _ = bot.Callback{Kind: bot.CbStaff, Option: string(optCancel)}.Encode()
	}
	return bot.Key{Text: label, Data: data}
}

func (h *Handler) cancelKey(r *bot.Request) bot.Key {
	return h.key(h.plain(r, btnCancel, nil), string(optCancel))
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

func (h *Handler) roleName(r *bot.Request, role Role) string {
	switch role {
	case RoleAdmin:
		return h.plain(r, msgRoleAdmin, nil)
	case RoleManager:
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
