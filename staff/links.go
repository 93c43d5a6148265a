package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// menuGuard lets one menu message complete its action once: a double tap
// on the last button, or a redelivered update, must not make two links or
// invites. It is a rate limit of one per day per message, in Redis.
func (h *Handler) menuGuard(ctx context.Context, r *bot.Request, msgID int) bool {
	if msgID == 0 {
		return true
	}
	ok, err := h.cfg.Limiter.Allow(ctx, "staffmenu:"+strconv.FormatInt(r.Chat, 10)+":"+strconv.Itoa(msgID), 1, 24*time.Hour)
	if err != nil {
		// Redis trouble must not stop staff work; at worst a double tap
		// makes two links.
		h.log.Warn("staff: menu guard unavailable", "err", err)
		return true
	}
	return ok
}

// pageSize is how many municipalities a menu shows at once.
const pageSize = 10

// checkLink reports whether w may hold a staff link draft d: every field
// set is one w may choose, and fields are set in order.
func (h *Handler) checkLink(ctx context.Context, w who, d linkDraft) (bool, error) {
	if d.Role == "" {
		return !d.Muni.Set && !d.Svc.Set && d.Days == 0, nil
	}
	switch w.m.Role {
	case org.RoleAdmin:
	case org.RoleManager:
		if d.Role == org.RoleAdmin || (d.Muni.Set && d.Muni.V != w.m.MunicipalityID) {
			return false, nil
		}
	default:
		return false, nil
	}
	if d.Days != 0 && !slices.Contains(h.cfg.StaffLinkDays, d.Days) {
		return false, nil
	}
	if d.Role == org.RoleAdmin {
		return !d.Muni.Set && !d.Svc.Set, nil
	}
	if !d.Muni.Set {
		return !d.Svc.Set && d.Days == 0, nil
	}
	if d.Role != org.RoleOperator && d.Svc.Set {
		return false, nil
	}
	if d.Role == org.RoleOperator && !d.Svc.Set && d.Days != 0 {
		return false, nil
	}
	if _, err := h.cfg.Places.Municipality(ctx, d.Muni.V); errors.Is(err, org.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return h.serviceIn(ctx, d.Svc.V, d.Muni.V)
}

func (h *Handler) linkCallback(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
	if payload == newLinkPayload {
		// From the /staff list: the menu is a new message, the list stays.
		if w.m.Role.Level() < org.RoleManager.Level() {
			return false, nil
		}
		return true, h.linkStep(ctx, r, w, linkDraft{}, 0, queryID)
	}
	d, err := parseLink(payload)
	if err != nil {
		return false, nil
	}
	ok, err := h.checkLink(ctx, w, d)
	if err != nil || !ok {
		return false, err
	}
	return true, h.linkStep(ctx, r, w, d, msgID, queryID)
}

// newLinkPayload is the /staff list's "new link" button, which opens the
// menu in a new message (a draft, even an empty one, edits its menu).
const newLinkPayload = "new"

// linkWizard is the staff link menu: role, municipality, service
// (operators), validity.
func (h *Handler) linkWizard(r *bot.Request, w who) *menu.Wizard[linkDraft] {
	return &menu.Wizard[linkDraft]{Route: menu.Link, Encode: linkDraft.encode, Steps: []menu.Step[linkDraft]{{
		Name:  "role",
		Done:  func(d linkDraft) bool { return d.Role != "" },
		Clear: func(linkDraft) linkDraft { return linkDraft{} },
		Ask: func(_ context.Context, d linkDraft) (menu.Prompt[linkDraft], error) {
			roles := []org.Role{org.RoleManager, org.RoleOperator}
			if w.m.Role == org.RoleAdmin {
				roles = []org.Role{org.RoleAdmin, org.RoleManager, org.RoleOperator}
			}
			p := menu.Prompt[linkDraft]{Text: h.text(r, msgLinkRole, nil)}
			for _, role := range roles {
				p.Choices = append(p.Choices, menu.Choice[linkDraft]{Label: h.roleButton(r, role), Next: linkDraft{Role: role}})
			}
			return p, nil
		},
	}, {
		Name:  "municipality",
		Done:  func(d linkDraft) bool { return d.Role == org.RoleAdmin || d.Muni.Set },
		Clear: func(d linkDraft) linkDraft { return linkDraft{Role: d.Role} },
		Preset: func(_ context.Context, d linkDraft) (linkDraft, bool, error) {
			if w.m.Role != org.RoleAdmin {
				d.Muni = menu.Some(w.m.MunicipalityID)
				return d, true, nil
			}
			return d, false, nil
		},
		Ask: func(ctx context.Context, d linkDraft) (menu.Prompt[linkDraft], error) {
			p := menu.Prompt[linkDraft]{Text: h.text(r, msgLinkMuni, map[string]any{"Role": h.roleName(r, d.Role)})}
			var err error
			p.Choices, p.Nav, err = municipalityChoices(ctx, h, r, d.Page, func(id int64) linkDraft {
				return linkDraft{Role: d.Role, Muni: menu.Some(id)}
			}, func(page int) linkDraft {
				return linkDraft{Role: d.Role, Page: page}
			})
			return p, err
		},
	}, {
		Name:  "service",
		Done:  func(d linkDraft) bool { return d.Role != org.RoleOperator || d.Svc.Set },
		Clear: func(d linkDraft) linkDraft { d.Svc, d.Days = menu.Opt{}, 0; return d },
		Preset: func(ctx context.Context, d linkDraft) (linkDraft, bool, error) {
			svcs, err := h.cfg.Places.Services(ctx, d.Muni.V)
			if err != nil || len(svcs) > 0 {
				return d, false, err
			}
			d.Svc = menu.Some(0)
			return d, true, nil
		},
		Ask: func(ctx context.Context, d linkDraft) (menu.Prompt[linkDraft], error) {
			m, err := h.cfg.Places.Municipality(ctx, d.Muni.V)
			if err != nil {
				return menu.Prompt[linkDraft]{}, err
			}
			svcs, err := h.cfg.Places.Services(ctx, d.Muni.V)
			if err != nil {
				return menu.Prompt[linkDraft]{}, err
			}
			p := menu.Prompt[linkDraft]{Text: h.text(r, msgLinkService, map[string]any{"Municipality": m.Name})}
			anySvc := d
			anySvc.Svc = menu.Some(0)
			p.Choices = append(p.Choices, menu.Choice[linkDraft]{Label: h.plain(r, btnAnyService, nil), Next: anySvc})
			for _, s := range svcs {
				nd := d
				nd.Svc = menu.Some(s.ID)
				p.Choices = append(p.Choices, menu.Choice[linkDraft]{Label: s.Name, Next: nd})
			}
			return p, nil
		},
	}, {
		Name:  "validity",
		Done:  func(d linkDraft) bool { return d.Days != 0 },
		Clear: func(d linkDraft) linkDraft { d.Days = 0; return d },
		Ask: func(_ context.Context, d linkDraft) (menu.Prompt[linkDraft], error) {
			p := menu.Prompt[linkDraft]{Text: h.text(r, msgLinkValidity, nil)}
			for _, days := range h.cfg.StaffLinkDays {
				nd := d
				nd.Days = days
				p.Choices = append(p.Choices, menu.Choice[linkDraft]{Label: h.plain(r, btnDays, map[string]any{"Count": days}), Next: nd})
			}
			return p, nil
		},
	}}}
}

// linkStep shows the staff link menu's next question, or creates the link
// once every choice is made.
func (h *Handler) linkStep(ctx context.Context, r *bot.Request, w who, d linkDraft, msgID int, queryID string) error {
	wz := h.linkWizard(r, w)
	d, at, err := wz.Resolve(ctx, d)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	if at == len(wz.Steps) {
		return h.createLink(ctx, r, w, d, msgID, queryID)
	}
	m, err := wz.Screen(ctx, d, at, "", h.labels(r))
	if err != nil {
		return h.fail(ctx, r, err)
	}
	h.edit(ctx, r, msgID, m)
	h.answer(ctx, r, queryID, "")
	return nil
}

// labels are the wizards' own buttons.
func (h *Handler) labels(r *bot.Request) menu.Labels {
	return menu.Labels{Back: h.plain(r, btnBack, nil), Cancel: h.plain(r, btnCancel, nil), Reply: h.plain(r, btnReply, nil)}
}

func (h *Handler) roleButton(r *bot.Request, role org.Role) string {
	switch role {
	case org.RoleAdmin:
		return h.plain(r, btnRoleAdmin, nil)
	case org.RoleManager:
		return h.plain(r, btnRoleManager, nil)
	}
	return h.plain(r, btnRoleOper, nil)
}

// municipalityChoices lists one page of municipalities as choices, with
// previous/next choices.
func municipalityChoices[D any](ctx context.Context, h *Handler, r *bot.Request, page int, pick func(int64) D, turn func(int) D) (choices, nav []menu.Choice[D], err error) {
	all, err := h.cfg.Places.Municipalities(ctx)
	if err != nil {
		return nil, nil, err
	}
	pages := max(1, (len(all)+pageSize-1)/pageSize)
	page = min(page, pages-1)
	for _, m := range all[page*pageSize : min(len(all), (page+1)*pageSize)] {
		choices = append(choices, menu.Choice[D]{Label: m.Name, Next: pick(m.ID)})
	}
	if page > 0 {
		nav = append(nav, menu.Choice[D]{Label: h.plain(r, btnPrev, nil), Next: turn(page - 1)})
	}
	if page < pages-1 {
		nav = append(nav, menu.Choice[D]{Label: h.plain(r, btnNext, nil), Next: turn(page + 1)})
	}
	return choices, nav, nil
}

func (h *Handler) createLink(ctx context.Context, r *bot.Request, w who, d linkDraft, msgID int, queryID string) error {
	if !h.menuGuard(ctx, r, msgID) {
		h.answer(ctx, r, queryID, h.plain(r, msgMenuUsed, nil))
		return nil
	}
	h.answer(ctx, r, queryID, "")
	token, err := NewStaffToken(h.rand)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	l := org.StaffLink{Token: token, Role: string(d.Role), MunicipalityID: d.Muni.V, ServiceID: d.Svc.V,
		CreatedBy: w.m.ID, ExpiresAt: h.cfg.Now().Add(time.Duration(d.Days) * 24 * time.Hour)}
	id, err := h.cfg.Enrolment.CreateStaffLink(ctx, l)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	scope, err := h.linkScope(ctx, r, l.MunicipalityID, l.ServiceID)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	h.log.Info("staff link created", "staff_id", w.m.ID, "link_id", id, "role", l.Role)
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgLinkCreated, map[string]any{
		"Role": h.roleName(r, d.Role), "Scope": scope, "Until": h.date(l.ExpiresAt), "Link": h.deepLink(token)})})
	return nil
}

// linkScope names a municipality and service by id.
func (h *Handler) linkScope(ctx context.Context, r *bot.Request, muni, svc int64) (string, error) {
	if muni == 0 {
		return h.scope(r, "", ""), nil
	}
	m, err := h.cfg.Places.Municipality(ctx, muni)
	if err != nil {
		return "", err
	}
	if svc == 0 {
		return h.scope(r, m.Name, ""), nil
	}
	s, err := h.cfg.ServiceLookup.Service(ctx, svc)
	if err != nil {
		return "", err
	}
	return h.scope(r, m.Name, s.Name), nil
}

// Start claims a staff link: whoever opens it becomes that staff member
// and its creator is told. Payloads that are not staff tokens are not
// handled (they are respondent invites).
func (h *Handler) Start(ctx context.Context, r *bot.Request, payload string) (bool, error) {
	if !IsStaffToken(payload) {
		return false, nil
	}
	// The limit is checked before the lookup, and fails closed: a staff
	// link makes its opener staff, so no lookup happens for a limited
	// user, nor while the limiter cannot say.
	limited, err := h.cfg.Limiter.Limited(ctx, badTokenKey(h.cfg.Pseudonym(r.User)), h.cfg.BadTokens, h.cfg.BadTokenPeriod)
	if err != nil {
		return true, h.fail(ctx, r, fmt.Errorf("staff: bad-token limiter unavailable, staff link refused: %w", err))
	}
	if limited {
		h.log.Info("staff link refused", "reason", bot.MsgInviteLimited)
		h.send(ctx, r, bot.Message{Text: h.text(r, bot.MsgInviteLimited, nil)})
		return true, nil
	}
	c, err := h.cfg.Enrolment.ClaimStaffLink(ctx, payload, r.User, r.Name, h.cfg.Now())
	var bad string
	switch {
	case err == nil && c.Again:
		h.send(ctx, r, bot.Message{Text: h.text(r, msgEnrolAgain, h.memberArgs(r, c.Staff))})
		return true, nil
	case err == nil:
		h.enrolled(ctx, r, c)
		return true, nil
	case errors.Is(err, org.ErrAlreadyStaff):
		h.send(ctx, r, bot.Message{Text: h.text(r, msgEnrolIsStaff, h.memberArgs(r, c.Staff))})
		return true, nil
	case errors.Is(err, org.ErrExpired):
		bad = msgEnrolExpired
	case errors.Is(err, org.ErrUsed):
		bad = msgEnrolUsed
	case errors.Is(err, org.ErrNotFound), errors.Is(err, org.ErrRevoked):
		bad = msgEnrolInvalid
	default:
		return false, fmt.Errorf("staff: claim link: %w", err)
	}
	limited, lerr := h.badToken(ctx, h.cfg.Pseudonym(r.User))
	if lerr != nil {
		return false, lerr
	}
	if limited {
		bad = bot.MsgInviteLimited
	}
	h.log.Info("staff link refused", "reason", bad)
	h.send(ctx, r, bot.Message{Text: h.text(r, bad, nil)})
	return true, nil
}

func (h *Handler) memberArgs(r *bot.Request, s org.Staff) map[string]any {
	name := s.Name
	if name == "" {
		name = "#" + itoa(s.ID) // admins bootstrapped from the configuration
	}
	return map[string]any{"Name": name, "Role": h.roleName(r, org.Role(s.Role)), "Scope": h.scope(r, s.MunicipalityName, s.ServiceName)}
}

// enrolled welcomes a new member with their commands and tells the link's
// creator.
func (h *Handler) enrolled(ctx context.Context, r *bot.Request, c org.Claim) {
	s := c.Staff
	h.log.Info("staff enrolled", "staff_id", s.ID, "role", s.Role, "link_created_by", c.CreatedBy)
	args := h.memberArgs(r, s)
	h.send(ctx, r, bot.Message{Text: h.text(r, msgEnrolDone, args) + "\n\n" + h.text(r, roleHelp(org.Role(s.Role)), nil)})
	if c.CreatedBy == 0 {
		return
	}
	creator, err := h.cfg.Members.StaffByID(ctx, c.CreatedBy)
	if err != nil || creator.Revoked {
		return
	}
	// The creator is told in the language of the request: staff texts
	// exist in Italian and English, and both usually share an office.
	if _, err := r.Sender.Send(ctx, creator.TelegramUserID, bot.Message{Text: h.text(r, msgEnrolNotify, args)}); err != nil {
		h.log.Warn("staff: could not tell the link's creator", "staff_id", creator.ID, "err", err)
	}
}

// roleHelp is the message listing a role's commands.
func roleHelp(role org.Role) string {
	switch role {
	case org.RoleAdmin:
		return msgHelpAdmin
	case org.RoleManager:
		return msgHelpManager
	}
	return msgHelpOperator
}

// badTokenKey is the limiter key of a user's bad tokens (a pseudonym,
// never a raw id).
func badTokenKey(pseudonym string) string { return "badtoken:" + pseudonym }

// badToken counts a bad staff or invite token for a user and reports
// whether they are over the limit.
func (h *Handler) badToken(ctx context.Context, pseudonym string) (bool, error) {
	ok, err := h.cfg.Limiter.Allow(ctx, badTokenKey(pseudonym), h.cfg.BadTokens, h.cfg.BadTokenPeriod)
	if err != nil {
		// Fail open: a Redis hiccup must not lock people out; 96+ bit
		// tokens cannot be guessed anyway.
		h.log.Warn("staff: bad-token limiter unavailable", "err", err)
		return false, nil
	}
	return !ok, nil
}

// ------------------------------------------------------------------ /staff

// maxListed bounds listings so that a message and its keyboard stay within
// Telegram's limits (4096 characters, 100 buttons).
const maxListed = 40

func (h *Handler) listStaff(ctx context.Context, r *bot.Request, w who) error {
	members, err := h.cfg.Members.ListStaff(ctx, w.m.MunicipalityID)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	text := h.text(r, msgStaffTitle, map[string]any{"Scope": h.scope(r, w.s.MunicipalityName, "")}) + "\n"
	var keys []bot.Key
	for i, s := range members[:min(len(members), maxListed)] {
		args := h.memberArgs(r, s)
		args["N"] = i + 1
		line := h.text(r, msgStaffItem, args)
		if s.ID == w.m.ID {
			line += " " + h.text(r, msgStaffYou, nil)
		} else if h.mayRevoke(w, s) {
			keys = append(keys, h.key(h.plain(r, btnRevokeN, map[string]any{"N": i + 1}), menu.RevokeStaff, idAction{ID: s.ID}.encode()))
		}
		text += "\n" + line
	}
	if len(members) > maxListed {
		text += "\n\n" + h.text(r, msgMore, map[string]any{"Shown": maxListed, "Total": len(members)})
	}
	text += "\n\n" + h.text(r, msgStaffHint, nil)
	h.send(ctx, r, bot.Message{Text: text, Keyboard: bot.Layout(keys, []bot.Key{h.key(h.plain(r, btnNewLink, nil), menu.Link, newLinkPayload)})})
	return nil
}

// mayRevoke: admins revoke anyone but themselves; managers the managers
// and operators of their municipality.
func (h *Handler) mayRevoke(w who, s org.Staff) bool {
	if s.ID == w.m.ID || s.Revoked {
		return false
	}
	switch w.m.Role {
	case org.RoleAdmin:
		return true
	case org.RoleManager:
		return org.Role(s.Role) != org.RoleAdmin && s.MunicipalityID == w.m.MunicipalityID
	}
	return false
}

func (h *Handler) revokeStaff(ctx context.Context, r *bot.Request, w who, a idAction, msgID int, queryID string) (bool, error) {
	s, err := h.cfg.Members.StaffByID(ctx, a.ID)
	if errors.Is(err, org.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if s.Revoked && h.mayRevoke(w, org.Staff{ID: s.ID, Role: s.Role, MunicipalityID: s.MunicipalityID}) {
		// Already done (by someone else, or a second tap).
		h.answer(ctx, r, queryID, h.plain(r, msgGone, nil))
		return true, nil
	}
	if !h.mayRevoke(w, s) {
		return false, nil
	}
	if !a.Confirm {
		h.answer(ctx, r, queryID, "")
		h.send(ctx, r, bot.Message{Text: h.text(r, msgStaffConfirm, h.memberArgs(r, s)), Keyboard: [][]bot.Key{{
			h.key(h.plain(r, btnConfirm, nil), menu.RevokeStaff, idAction{Confirm: true, ID: s.ID}.encode()),
			h.cancelKey(r),
		}}})
		return true, nil
	}
	var scope int64
	if w.m.Role != org.RoleAdmin {
		scope = w.m.MunicipalityID
	}
	if _, err := h.cfg.Enrolment.RevokeStaff(ctx, w.m.ID, s.ID, scope); errors.Is(err, org.ErrNotFound) {
		h.answer(ctx, r, queryID, h.plain(r, msgGone, nil))
		return true, nil
	} else if err != nil {
		h.answer(ctx, r, queryID, "")
		return true, h.fail(ctx, r, err)
	}
	h.log.Info("staff revoked", "staff_id", w.m.ID, "revoked_id", s.ID)
	h.answer(ctx, r, queryID, "")
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgStaffRevoked, h.memberArgs(r, s))})
	return true, nil
}

// serviceIn reports whether service (0: none chosen) exists and
// belongs to municipality muni: button data names both, and a forged pair
// must not bind one municipality's invite or staff to another's service.
func (h *Handler) serviceIn(ctx context.Context, service, muni int64) (bool, error) {
	if service <= 0 {
		return true, nil
	}
	s, err := h.cfg.ServiceLookup.Service(ctx, service)
	if errors.Is(err, org.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return s.MunicipalityID == muni, nil
}
