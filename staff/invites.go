package staff

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// inviteValidity are the validities the invite menu offers, in days (0:
// no expiry).
func inviteValidity() []int { return []int{7, 30, 90, 0} }

// inviteUses are the sizes the invite menu offers, in people (0:
// unlimited).
func inviteUses() []int { return []int{1, 50, 0} }

// inviteStart opens the invite menu; args is the optional label.
func (h *Handler) inviteStart(ctx context.Context, r *bot.Request, w who, args string) error {
	d := newInviteDraft(cleanLabel(args))
	if w.m.Role != RoleAdmin {
		d.Muni = w.m.MunicipalityID
	}
	if w.m.ServiceID != 0 {
		d.Svc = w.m.ServiceID // an operator of one desk invites for it
	}
	return h.inviteStep(ctx, r, w, d, 0, "")
}

// checkInvite reports whether w may hold the invite draft d: each field
// set is one w may choose (their municipality, their service when bound to
// one, a configured questionnaire, an offered validity and size), and
// fields are set in order.
func (h *Handler) checkInvite(ctx context.Context, w who, d inviteDraft) (bool, error) {
	if d.Page > 1000 || d.Form < 0 || d.Form > len(h.cfg.Forms) {
		return false, nil
	}
	if w.m.Role != RoleAdmin && d.Muni != w.m.MunicipalityID {
		return false, nil
	}
	if w.m.ServiceID != 0 && d.Svc != w.m.ServiceID {
		return false, nil
	}
	if d.Valid != -1 && !slices.Contains(inviteValidity(), d.Valid) || d.Uses != -1 && !slices.Contains(inviteUses(), d.Uses) {
		return false, nil
	}
	// In order: form, municipality, service, validity, uses.
	if d.Svc != -1 && d.Muni == 0 || d.Valid != -1 && (d.Form == 0 || d.Svc == -1) || d.Uses != -1 && d.Valid == -1 {
		return false, nil
	}
	if d.Muni != 0 && w.m.Role == RoleAdmin {
		if _, err := h.cfg.DB.Municipality(ctx, d.Muni); errors.Is(err, pgstore.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return h.serviceIn(ctx, d.Svc, d.Muni)
}

func (h *Handler) inviteCallback(ctx context.Context, r *bot.Request, w who, d inviteDraft, msgID int, queryID string) (bool, error) {
	ok, err := h.checkInvite(ctx, w, d)
	if err != nil || !ok {
		return false, err
	}
	return true, h.inviteStep(ctx, r, w, d, msgID, queryID)
}

func (h *Handler) formName(r *bot.Request, form string) string {
	switch form {
	case "immigrati":
		return h.plain(r, msgFormImmigrati, nil)
	case "operatori":
		return h.plain(r, msgFormOperatori, nil)
	}
	return form
}

// inviteStep shows the invite menu's next question, or creates the invite
// once every choice is made.
func (h *Handler) inviteStep(ctx context.Context, r *bot.Request, w who, d inviteDraft, msgID int, queryID string) error {
	if d.Form == 0 && len(h.cfg.Forms) == 1 {
		d.Form = 1
	}
	head := h.text(r, msgInviteNew, nil)
	if d.Label != "" {
		head += "\n" + h.text(r, msgInviteLabel, map[string]any{"Label": d.Label})
	}
	show := func(question string, keys, nav []bot.Key) {
		rows := bot.Layout(keys, nav)
		rows = append(rows, []bot.Key{h.cancelKey(r)})
		h.edit(ctx, r, msgID, bot.Message{Text: head + "\n\n" + h.text(r, question, nil), Keyboard: rows})
		h.answer(ctx, r, queryID, "")
	}
	switch {
	case d.Form == 0:
		var keys []bot.Key
		for i, f := range h.cfg.Forms {
			nd := d
			nd.Form = i + 1
			keys = append(keys, h.key(h.formName(r, f), nd.encode()))
		}
		show(msgInviteForm, keys, nil)
		return nil
	case d.Muni == 0:
		keys, nav, err := h.municipalityKeys(ctx, r, d.Page, func(id int64) string {
			nd := d
			nd.Muni, nd.Page = id, 0
			return nd.encode()
		}, func(page int) string {
			nd := d
			nd.Page = page
			return nd.encode()
		})
		if err != nil {
			return h.fail(ctx, r, err)
		}
		show(msgInviteMuni, keys, nav)
		return nil
	case d.Svc == -1:
		svcs, err := h.cfg.DB.Services(ctx, d.Muni)
		if err != nil {
			return h.fail(ctx, r, err)
		}
		if len(svcs) == 0 {
			d.Svc = 0
			return h.inviteStep(ctx, r, w, d, msgID, queryID)
		}
		none := d
		none.Svc = 0
		var keys []bot.Key
		for _, s := range svcs {
			nd := d
			nd.Svc = s.ID
			keys = append(keys, h.key(s.Name, nd.encode()))
		}
		show(msgInviteService, keys, []bot.Key{h.key(h.plain(r, btnNoService, nil), none.encode())})
		return nil
	case d.Valid == -1:
		var keys []bot.Key
		for _, v := range inviteValidity() {
			nd := d
			nd.Valid = v
			label := h.plain(r, btnNoExpiry, nil)
			if v > 0 {
				label = h.plain(r, btnDays, map[string]any{"Count": v})
			}
			keys = append(keys, h.key(label, nd.encode()))
		}
		show(msgInviteValid, keys, nil)
		return nil
	case d.Uses == -1:
		var keys []bot.Key
		for _, u := range inviteUses() {
			nd := d
			nd.Uses = u
			label := h.plain(r, btnUnlimited, nil)
			if u > 0 {
				label = h.plain(r, btnPeople, map[string]any{"Count": u})
			}
			keys = append(keys, h.key(label, nd.encode()))
		}
		show(msgInviteUses, keys, nil)
		return nil
	}
	return h.createInvite(ctx, r, w, d, msgID, queryID)
}

func (h *Handler) createInvite(ctx context.Context, r *bot.Request, w who, d inviteDraft, msgID int, queryID string) error {
	if !h.menuGuard(ctx, r, msgID) {
		h.answer(ctx, r, queryID, h.plain(r, msgMenuUsed, nil))
		return nil
	}
	h.answer(ctx, r, queryID, "")
	token, err := newInviteToken(h.rand)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	inv := pgstore.Invite{Token: token, Form: h.cfg.Forms[d.Form-1], MunicipalityID: d.Muni, ServiceID: d.Svc,
		OperatorID: w.m.ID, Label: d.Label, MaxUses: d.Uses}
	if d.Valid > 0 {
		inv.ExpiresAt = h.cfg.Now().Add(time.Duration(d.Valid) * 24 * time.Hour)
	}
	if inv, err = h.cfg.DB.CreateInvite(ctx, inv); err != nil {
		return h.fail(ctx, r, err)
	}
	h.log.Info("invite created", "staff_id", w.m.ID, "invite_id", inv.ID, "form", inv.Form)
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgInviteCreated, nil) + "\n\n" + h.summary(r, inv) + "\n\n" +
		h.text(r, msgInviteLink, map[string]any{"Link": h.deepLink(inv.Token)})})
	return h.sendPoster(ctx, r, inv)
}

// summary describes an invite in a few lines.
func (h *Handler) summary(r *bot.Request, inv pgstore.Invite) string {
	lines := []string{
		h.text(r, msgSumForm, map[string]any{"Form": h.formName(r, inv.Form)}),
		h.text(r, msgSumWhere, map[string]any{"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName)}),
	}
	if inv.ExpiresAt.IsZero() {
		lines = append(lines, h.text(r, msgSumNoExpiry, nil))
	} else {
		lines = append(lines, h.text(r, msgSumUntil, map[string]any{"Until": h.date(inv.ExpiresAt)}))
	}
	if inv.MaxUses == 0 {
		lines = append(lines, h.text(r, msgSumUnlimited, nil))
	} else {
		lines = append(lines, h.text(r, msgSumUses, map[string]any{"Count": inv.MaxUses}))
	}
	return strings.Join(lines, "\n")
}

// sendPoster sends the invite's QR poster as a photo.
func (h *Handler) sendPoster(ctx context.Context, r *bot.Request, inv pgstore.Invite) error {
	p := Poster{Title: inv.MunicipalityName, Link: h.deepLink(inv.Token), Lines: PosterLines(r.Renderer)}
	if inv.ServiceName != "" {
		p.Title, p.Subtitle = inv.ServiceName, inv.MunicipalityName
	}
	png, err := h.art.Render(p)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	label := inv.Label
	if label == "" {
		label = h.plain(r, msgInvNoLabel, nil)
	}
	caption := h.text(r, msgInviteCaption, map[string]any{"Label": label,
		"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName), "Link": p.Link})
	if err := r.Sender.SendPhoto(ctx, r.Chat, fmt.Sprintf("invito-%d.png", inv.ID), png, caption); err != nil {
		h.log.Warn("staff: send poster failed", "err", err)
	}
	return nil
}

// inviteScope is what invites w may list and revoke: an operator their
// own, a manager their municipality's, an admin all.
func inviteScope(w who) pgstore.InviteFilter {
	switch w.m.Role {
	case RoleAdmin:
		return pgstore.InviteFilter{}
	case RoleManager:
		return pgstore.InviteFilter{MunicipalityID: w.m.MunicipalityID}
	}
	return pgstore.InviteFilter{OperatorID: w.m.ID, MunicipalityID: w.m.MunicipalityID}
}

func (h *Handler) status(r *bot.Request, inv pgstore.Invite) string {
	switch inv.Status(h.cfg.Now()) {
	case "revoked":
		return h.plain(r, msgStatusRevoked, nil)
	case "expired":
		return h.plain(r, msgStatusExpired, nil)
	case "exhausted":
		return h.plain(r, msgStatusUsedUp, nil)
	}
	return h.plain(r, msgStatusActive, nil)
}

// listedInvites is how many invites /invites shows (two buttons each).
const listedInvites = 20

func (h *Handler) listInvites(ctx context.Context, r *bot.Request, w who) error {
	f := inviteScope(w)
	f.Limit = listedInvites
	invs, total, err := h.cfg.DB.Invites(ctx, f)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	text := h.text(r, msgInvitesTitle, map[string]any{"Scope": h.scope(r, w.s.MunicipalityName, "")})
	if len(invs) == 0 {
		h.send(ctx, r, bot.Message{Text: text + "\n\n" + h.text(r, msgInvitesNone, nil)})
		return nil
	}
	var rows [][]bot.Key
	var row []bot.Key
	for i, inv := range invs {
		label := inv.Label
		if label == "" {
			label = h.plain(r, msgInvNoLabel, nil)
		}
		text += "\n\n" + h.text(r, msgInvitesItem, map[string]any{"N": i + 1, "Label": label, "Form": h.formName(r, inv.Form),
			"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName), "Status": h.status(r, inv),
			"Started": inv.Uses, "Completed": inv.Completed, "Created": h.date(inv.CreatedAt)})
		if inv.Status(h.cfg.Now()) == "revoked" {
			continue
		}
		row = append(row, h.key(h.plain(r, btnPosterN, map[string]any{"N": i + 1}), idAction{Kind: optPoster, ID: inv.ID}.encode()),
			h.key(h.plain(r, btnRevokeN, map[string]any{"N": i + 1}), idAction{Kind: optRevokeInvite, ID: inv.ID}.encode()))
		if len(row) == 4 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	if total > len(invs) {
		text += "\n\n" + h.text(r, msgMore, map[string]any{"Shown": len(invs), "Total": total})
	}
	if len(rows) > 0 {
		text += "\n\n" + h.text(r, msgInvitesHint, nil)
	}
	h.send(ctx, r, bot.Message{Text: text, Keyboard: rows})
	return nil
}

func (h *Handler) resendPoster(ctx context.Context, r *bot.Request, w who, a idAction, queryID string) (bool, error) {
	inv, err := h.cfg.DB.Invite(ctx, a.ID, inviteScope(w))
	if errors.Is(err, pgstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h.answer(ctx, r, queryID, "")
	return true, h.sendPoster(ctx, r, inv)
}

func (h *Handler) revokeInvite(ctx context.Context, r *bot.Request, w who, a idAction, msgID int, queryID string) (bool, error) {
	scope := inviteScope(w)
	inv, err := h.cfg.DB.Invite(ctx, a.ID, scope)
	if errors.Is(err, pgstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	label := inv.Label
	if label == "" {
		label = h.plain(r, msgInvNoLabel, nil)
	}
	args := map[string]any{"Label": label, "Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName)}
	if inv.Revoked {
		h.answer(ctx, r, queryID, h.plain(r, msgGone, nil))
		return true, nil
	}
	if !a.Confirm {
		h.answer(ctx, r, queryID, "")
		h.send(ctx, r, bot.Message{Text: h.text(r, msgInvConfirm, args), Keyboard: [][]bot.Key{{
			h.key(h.plain(r, btnConfirm, nil), idAction{Kind: optRevokeInvite, Confirm: true, ID: inv.ID}.encode()),
			h.cancelKey(r),
		}}})
		return true, nil
	}
	if _, err := h.cfg.DB.RevokeInvite(ctx, w.m.ID, inv.ID, scope); errors.Is(err, pgstore.ErrNotFound) {
		h.answer(ctx, r, queryID, h.plain(r, msgGone, nil))
		return true, nil
	} else if err != nil {
		h.answer(ctx, r, queryID, "")
		return true, h.fail(ctx, r, err)
	}
	h.log.Info("invite revoked", "staff_id", w.m.ID, "invite_id", inv.ID)
	h.answer(ctx, r, queryID, "")
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgInvRevoked, args)})
	return true, nil
}

// ------------------------------------------------------------------ Resolve

// tokenRe is what Telegram allows in a /start payload.
var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Resolve implements bot.Invites: a valid token counts one use (atomically,
// within max_uses) and binds the interview to the invite's questionnaire,
// municipality, service and operator. Bad tokens are counted per user
// (the pseudonym) and, past the limit, answered with ErrInviteLimited.
func (h *Handler) Resolve(ctx context.Context, token, user string) (bot.Invite, error) {
	var inv pgstore.Invite
	err := pgstore.ErrNotFound
	if tokenRe.MatchString(token) && !IsStaffToken(token) {
		inv, err = h.cfg.DB.UseInvite(ctx, token, h.cfg.Now())
	}
	var refused error
	switch {
	case err == nil:
		c := map[string]string{bot.CtxMunicipality: itoa(inv.MunicipalityID), bot.CtxInvite: inv.Token}
		if inv.ServiceID != 0 {
			c[bot.CtxService] = itoa(inv.ServiceID)
			c["invite_servizio"] = inv.ServiceCode
		}
		if inv.OperatorID != 0 {
			c[bot.CtxOperator] = itoa(inv.OperatorID)
		}
		return bot.Invite{Form: inv.Form, Context: c}, nil
	case errors.Is(err, pgstore.ErrNotFound):
		refused = bot.ErrInviteUnknown
	case errors.Is(err, pgstore.ErrExpired):
		refused = bot.ErrInviteExpired
	case errors.Is(err, pgstore.ErrRevoked):
		refused = bot.ErrInviteRevoked
	case errors.Is(err, pgstore.ErrExhausted):
		refused = bot.ErrInviteExhausted
	default:
		return bot.Invite{}, fmt.Errorf("staff: resolve invite: %w", err)
	}
	limited, err := h.badToken(ctx, user)
	if err != nil {
		return bot.Invite{}, err
	}
	if limited {
		refused = bot.ErrInviteLimited
	}
	h.log.Info("invite refused", "invite_id", inv.ID, "reason", refused.Error())
	return bot.Invite{}, refused
}
