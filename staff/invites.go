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
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// Invites come in two kinds, chosen by purpose (the uses they allow): a
// poster for a desk, which many people scan, and a personal link for one
// person. The poster comes first and is the default: a single-use QR code
// printed on a wall serves the first person only.
const (
	usesPoster   = 0 // unlimited
	usesPersonal = 1
)

// inviteUses are the kinds the invite menu offers, as max uses, in order.
func inviteUses() []int { return []int{usesPoster, usesPersonal} }

// inviteValidity are the validities the invite menu offers for a kind, in
// days (0: no expiry), the default first: a poster stays on the wall for
// months, a personal link is used within days.
func inviteValidity(uses int) []int {
	if uses == usesPersonal {
		return []int{7, 30}
	}
	return []int{90, 30, 0}
}

// inviteStart opens the invite menu; args is the optional label.
func (h *Handler) inviteStart(ctx context.Context, r *bot.Request, w who, args string) error {
	d := newInviteDraft(cleanLabel(args))
	// A member's own municipality (and desk) are in the draft from the
	// start: every button of the menu carries them, and checkInvite
	// refuses any other.
	if w.m.Role != org.RoleAdmin {
		d.Muni = w.m.MunicipalityID
	}
	if w.m.ServiceID != 0 {
		d.Svc = menu.Some(w.m.ServiceID)
	}
	return h.inviteStep(ctx, r, w, d, 0, "")
}

// checkInvite reports whether w may hold the invite draft d: each field
// set is one w may choose (their municipality, their service when bound to
// one, a configured questionnaire, an offered validity and size), and
// fields are set in order.
func (h *Handler) checkInvite(ctx context.Context, w who, d inviteDraft) (bool, error) {
	if order, offered := h.inviteForms(); d.Form > len(order) || d.Form > 0 && !slices.Contains(offered, order[d.Form-1]) {
		return false, nil
	}
	if w.m.Role != org.RoleAdmin && d.Muni != w.m.MunicipalityID {
		return false, nil
	}
	if w.m.ServiceID != 0 && (!d.Svc.Set || d.Svc.V != w.m.ServiceID) {
		return false, nil
	}
	if d.Uses.Set && !slices.Contains(inviteUses(), d.Uses.Int()) || d.Valid.Set && !slices.Contains(inviteValidity(d.Uses.Int()), d.Valid.Int()) {
		return false, nil
	}
	// In order: (label,) form, municipality, service, kind, validity.
	if d.Svc.Set && d.Muni == 0 && w.m.ServiceID == 0 || d.Uses.Set && !d.Svc.Set || d.Valid.Set && !d.Uses.Set {
		return false, nil
	}
	if d.Muni != 0 && w.m.Role == org.RoleAdmin {
		if _, err := h.cfg.Places.Municipality(ctx, d.Muni); errors.Is(err, org.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return h.serviceIn(ctx, d.Svc.V, d.Muni)
}

func (h *Handler) inviteCallback(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
	d, err := parseInvite(payload)
	if err != nil {
		return false, nil
	}
	ok, err := h.checkInvite(ctx, w, d)
	if err != nil || !ok {
		return false, err
	}
	return true, h.inviteStep(ctx, r, w, d, msgID, queryID)
}

// inviteForms are the questionnaires an invite may name: order indexes
// them (an invite draft holds a 1-based place in it), offered are those the
// menu offers now, in menu order (Config.Library).
func (h *Handler) inviteForms() (order, offered []string) {
	if h.cfg.Library == nil {
		return h.cfg.Forms, h.cfg.Forms
	}
	s := h.cfg.Library.Current()
	return s.InviteOrder, s.Invitable()
}

// formName is a questionnaire's short name for staff: its s.form.<id>
// message, else its title, else its id.
func (h *Handler) formName(r *bot.Request, form string) string {
	for _, id := range []string{msgFormPrefix + form, "f." + form + ".title"} {
		if s := h.plain(r, id, nil); s != id {
			return s
		}
	}
	return form
}

// inviteWizard is the invite menu: label (typed in reply, or none),
// questionnaire, municipality, service, kind, validity.
func (h *Handler) inviteWizard(r *bot.Request, w who) *menu.Wizard[inviteDraft] {
	type step = menu.Step[inviteDraft]
	type prompt = menu.Prompt[inviteDraft]
	type choice = menu.Choice[inviteDraft]
	ask := func(id string) prompt { return prompt{Text: h.text(r, id, nil)} }
	return &menu.Wizard[inviteDraft]{Route: menu.Invite, Encode: inviteDraft.encode, Steps: []step{{
		Name:  "label",
		Done:  func(d inviteDraft) bool { return d.Label != "" || d.Asked },
		Clear: func(d inviteDraft) inviteDraft { d.Asked, d.Label = false, ""; return d },
		Ask: func(_ context.Context, d inviteDraft) (prompt, error) {
			p := ask(msgInviteAskLabel)
			skip := d
			skip.Asked = true
			p.Choices = []choice{{Label: h.plain(r, btnNoLabel, nil), Next: skip}}
			return p, nil
		},
		Input: func(_ context.Context, d inviteDraft, text string) (inviteDraft, string, error) {
			if d.Label = cleanLabel(text); d.Label == "" {
				return d, h.plain(r, msgInviteAskLabel, nil), nil
			}
			return d, "", nil
		},
	}, {
		Name:  "form",
		Done:  func(d inviteDraft) bool { return d.Form != 0 },
		Clear: func(d inviteDraft) inviteDraft { d.Form = 0; return d },
		Preset: func(_ context.Context, d inviteDraft) (inviteDraft, bool, error) {
			if order, offered := h.inviteForms(); len(offered) == 1 {
				d.Form = slices.Index(order, offered[0]) + 1
				return d, true, nil
			}
			return d, false, nil
		},
		Ask: func(_ context.Context, d inviteDraft) (prompt, error) {
			p := ask(msgInviteForm)
			order, offered := h.inviteForms()
			for _, f := range offered {
				nd := d
				nd.Form = slices.Index(order, f) + 1
				p.Choices = append(p.Choices, choice{Label: h.formName(r, f), Next: nd})
			}
			return p, nil
		},
	}, {
		Name: "municipality",
		Done: func(d inviteDraft) bool { return d.Muni != 0 },
		Clear: func(d inviteDraft) inviteDraft {
			if w.m.Role == org.RoleAdmin {
				d.Muni = 0
			}
			d.Page = 0
			return d
		},
		Preset: func(_ context.Context, d inviteDraft) (inviteDraft, bool, error) {
			if w.m.Role != org.RoleAdmin {
				d.Muni = w.m.MunicipalityID
				return d, true, nil
			}
			return d, false, nil
		},
		Ask: func(ctx context.Context, d inviteDraft) (prompt, error) {
			p := ask(msgInviteMuni)
			var err error
			p.Choices, p.Nav, err = municipalityChoices(ctx, h, r, d.Page, func(id int64) inviteDraft {
				nd := d
				nd.Muni, nd.Page = id, 0
				return nd
			}, func(page int) inviteDraft {
				nd := d
				nd.Page = page
				return nd
			})
			return p, err
		},
	}, {
		Name: "service",
		Done: func(d inviteDraft) bool { return d.Svc.Set },
		Clear: func(d inviteDraft) inviteDraft {
			if w.m.ServiceID == 0 {
				d.Svc = menu.Opt{}
			}
			return d
		},
		Preset: func(ctx context.Context, d inviteDraft) (inviteDraft, bool, error) {
			if w.m.ServiceID != 0 {
				d.Svc = menu.Some(w.m.ServiceID) // an operator of one desk invites for it
				return d, true, nil
			}
			svcs, err := h.cfg.Places.Services(ctx, d.Muni)
			if err != nil || len(svcs) > 0 {
				return d, false, err
			}
			d.Svc = menu.Some(0)
			return d, true, nil
		},
		Ask: func(ctx context.Context, d inviteDraft) (prompt, error) {
			svcs, err := h.cfg.Places.Services(ctx, d.Muni)
			if err != nil {
				return prompt{}, err
			}
			p := ask(msgInviteService)
			for _, s := range svcs {
				nd := d
				nd.Svc = menu.Some(s.ID)
				p.Choices = append(p.Choices, choice{Label: s.Name, Next: nd})
			}
			none := d
			none.Svc = menu.Some(0)
			p.Nav = []choice{{Label: h.plain(r, btnNoService, nil), Next: none}}
			return p, nil
		},
	}, {
		Name:  "kind",
		Done:  func(d inviteDraft) bool { return d.Uses.Set },
		Clear: func(d inviteDraft) inviteDraft { d.Uses = menu.Opt{}; return d },
		Ask: func(_ context.Context, d inviteDraft) (prompt, error) {
			// One kind per row: the labels are long and say the purpose.
			p := ask(msgInviteKind)
			p.Column = true
			for _, u := range inviteUses() {
				nd := d
				nd.Uses = menu.Some(int64(u))
				p.Choices = append(p.Choices, choice{Label: h.kindButton(r, u), Next: nd})
			}
			return p, nil
		},
	}, {
		Name:  "validity",
		Done:  func(d inviteDraft) bool { return d.Valid.Set },
		Clear: func(d inviteDraft) inviteDraft { d.Valid = menu.Opt{}; return d },
		Ask: func(_ context.Context, d inviteDraft) (prompt, error) {
			p := ask(msgInviteValid)
			for _, v := range inviteValidity(d.Uses.Int()) {
				nd := d
				nd.Valid = menu.Some(int64(v))
				label := h.plain(r, btnNoExpiry, nil)
				if v > 0 {
					label = h.plain(r, btnDays, map[string]any{"Count": v})
				}
				p.Choices = append(p.Choices, choice{Label: label, Next: nd})
			}
			return p, nil
		},
	}}}
}

// inviteHead is the invite menu's first lines.
func (h *Handler) inviteHead(r *bot.Request, d inviteDraft) string {
	head := h.text(r, msgInviteNew, nil)
	if d.Label != "" {
		head += "\n" + h.text(r, msgInviteLabel, map[string]any{"Label": d.Label})
	}
	return head
}

// inviteStep shows the invite menu's next question, or creates the invite
// once every choice is made.
func (h *Handler) inviteStep(ctx context.Context, r *bot.Request, w who, d inviteDraft, msgID int, queryID string) error {
	wz := h.inviteWizard(r, w)
	d, at, err := wz.Resolve(ctx, d)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	if at == len(wz.Steps) {
		return h.createInvite(ctx, r, w, d, msgID, queryID)
	}
	m, err := wz.Screen(ctx, d, at, h.inviteHead(r, d), h.labels(r))
	if err != nil {
		return h.fail(ctx, r, err)
	}
	h.edit(ctx, r, msgID, m)
	h.answer(ctx, r, queryID, "")
	return nil
}

// kindButton names an invite kind by its purpose.
func (h *Handler) kindButton(r *bot.Request, uses int) string {
	if uses == usesPersonal {
		return h.plain(r, btnKindPersonal, nil)
	}
	return h.plain(r, btnKindPoster, nil)
}

// inviteName is how an invite is named to staff: its label, or its kind
// and creation time when it has none (not its id: /invites numbers its
// rows, and two numbers would confuse).
func (h *Handler) inviteName(r *bot.Request, inv org.Invite) string {
	if inv.Label != "" {
		return inv.Label
	}
	args := map[string]any{"Created": h.date(inv.CreatedAt)}
	if inv.MaxUses == usesPersonal {
		return h.plain(r, msgNamePersonal, args)
	}
	return h.plain(r, msgNamePoster, args)
}

func (h *Handler) createInvite(ctx context.Context, r *bot.Request, w who, d inviteDraft, msgID int, queryID string) error {
	if !h.menuGuard(ctx, r, msgID) {
		h.answer(ctx, r, queryID, h.plain(r, msgMenuUsed, nil))
		return nil
	}
	h.answer(ctx, r, queryID, "")
	var id int64
	var token string
	for ok := false; !ok; {
		var err error
		if id, err = h.cfg.InviteMaker.NewInviteID(ctx); err != nil {
			return h.fail(ctx, r, err)
		}
		token, ok = inviteToken(h.cfg.TokenKey, id)
	}
	order, _ := h.inviteForms()
	if d.Form < 1 || d.Form > len(order) {
		return h.fail(ctx, r, fmt.Errorf("staff: invite draft names questionnaire %d of %d", d.Form, len(order)))
	}
	inv := org.Invite{ID: id, Token: token, Form: order[d.Form-1], MunicipalityID: d.Muni, ServiceID: d.Svc.V,
		OperatorID: w.m.ID, Label: d.Label, MaxUses: d.Uses.Int()}
	if d.Valid.V > 0 {
		inv.ExpiresAt = h.cfg.Now().Add(time.Duration(d.Valid.V) * 24 * time.Hour)
	}
	inv, err := h.cfg.InviteMaker.CreateInvite(ctx, inv)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	h.log.Info("invite created", "staff_id", w.m.ID, "invite_id", inv.ID, "form", inv.Form)
	text := h.text(r, msgInviteCreated, nil) + "\n\n" + h.summary(r, inv) + "\n\n"
	if inv.MaxUses == usesPersonal {
		// A personal link is sent or shown to one person, not printed.
		h.edit(ctx, r, msgID, bot.Message{Text: text + h.text(r, msgInvitePersonal, map[string]any{"Link": h.deepLink(inv.Token)})})
		return nil
	}
	h.edit(ctx, r, msgID, bot.Message{Text: text + h.text(r, msgInviteLink, map[string]any{"Link": h.deepLink(inv.Token)})})
	return h.sendPoster(ctx, r, inv)
}

// summary describes an invite in a few lines: its label first, as the
// wizard's menu showed it while the invite was made (the summary replaces
// that menu, and /invites and the poster name the invite by it).
func (h *Handler) summary(r *bot.Request, inv org.Invite) string {
	var lines []string
	if inv.Label != "" {
		lines = append(lines, h.text(r, msgInviteLabel, map[string]any{"Label": inv.Label}))
	}
	lines = append(lines,
		h.text(r, msgSumKind, map[string]any{"Kind": h.kindButton(r, inv.MaxUses)}),
		h.text(r, msgSumForm, map[string]any{"Form": h.formName(r, inv.Form)}),
		h.text(r, msgSumWhere, map[string]any{"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName)}),
	)
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

// sendPoster sends the invite's QR poster as a photo. It is drawn on the
// staff work queue (with its progress message), under the queue's
// deadline rather than the update's 30 seconds: drawing takes about a
// second of CPU (several under -race or on a starved machine, more with
// the fonts parsed on the first poster or chart), which must neither run
// the update past its deadline nor hold a worker of the intake.
func (h *Handler) sendPoster(ctx context.Context, r *bot.Request, inv org.Invite) error {
	p := Poster{Title: inv.MunicipalityName, Link: h.deepLink(inv.Token), Lines: PosterLines(r.Renderer)}
	if inv.ServiceName != "" {
		p.Title, p.Subtitle = inv.ServiceName, inv.MunicipalityName
	}
	caption := h.text(r, msgInviteCaption, map[string]any{"Label": h.inviteName(r, inv),
		"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName), "Link": p.Link})
	name := fmt.Sprintf("invito-%d.png", inv.ID)
	return h.long(ctx, r, "poster", func(ctx context.Context) error {
		art, err := newPosterArt() // the fonts are parsed on the first poster or chart
		if err != nil {
			return h.fail(ctx, r, err)
		}
		png, err := art.Render(p)
		if err != nil {
			return h.fail(ctx, r, err)
		}
		if err := r.Sender.SendPhoto(ctx, r.Chat, name, png, caption); err != nil {
			h.log.Warn("staff: send poster failed", "err", err)
		}
		return nil
	})
}

// inviteScope is what invites w may list and revoke: an operator their
// own, a manager their municipality's, an admin all.
func inviteScope(w who) org.InviteFilter {
	switch w.m.Role {
	case org.RoleAdmin:
		return org.InviteFilter{}
	case org.RoleManager:
		return org.InviteFilter{MunicipalityID: w.m.MunicipalityID}
	}
	return org.InviteFilter{OperatorID: w.m.ID, MunicipalityID: w.m.MunicipalityID}
}

func (h *Handler) status(r *bot.Request, inv org.Invite) string {
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
	invs, total, err := h.cfg.InviteList.Invites(ctx, f)
	if err != nil {
		return h.fail(ctx, r, err)
	}
	text := h.text(r, msgInvitesTitle, map[string]any{"Scope": h.scope(r, w.s.MunicipalityName, "")})
	if len(invs) == 0 {
		h.send(ctx, r, bot.Message{Text: text + "\n\n" + h.text(r, msgInvitesNone, nil)})
		return nil
	}
	var rows [][]bot.Key
	for i, inv := range invs {
		text += "\n\n" + h.text(r, msgInvitesItem, map[string]any{"N": i + 1, "Label": h.inviteName(r, inv), "Form": h.formName(r, inv.Form),
			"Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName), "Status": h.status(r, inv),
			"Started": inv.Uses, "Completed": inv.Completed, "Created": h.date(inv.CreatedAt)})
		if inv.Status(h.cfg.Now()) == "revoked" {
			continue
		}
		// One invite per row, each button saying what it does.
		rows = append(rows, []bot.Key{
			h.key(h.plain(r, btnPosterN, map[string]any{"N": i + 1}), menu.Poster, idAction{poster: true, ID: inv.ID}.encode()),
			h.key(h.plain(r, btnRevokeN, map[string]any{"N": i + 1}), menu.RevokeInvite, idAction{ID: inv.ID}.encode()),
		})
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
	inv, err := h.cfg.InviteList.Invite(ctx, a.ID, inviteScope(w))
	if errors.Is(err, org.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if inv.MaxUses == usesPersonal && !a.Confirm {
		// A personal link printed as a poster serves the first person
		// who scans it: say so, and offer a poster for many people.
		h.answer(ctx, r, queryID, "")
		keys := [][]bot.Key{{h.key(h.plain(r, btnPosterInstead, nil), menu.Invite, h.posterDraft(inv).encode())},
			{h.key(h.plain(r, btnPrintAnyway, nil), menu.Poster, idAction{Confirm: true, ID: inv.ID}.encode())},
			{h.cancelKey(r)}}
		h.send(ctx, r, bot.Message{Text: h.text(r, msgPosterPersonal, map[string]any{"Label": h.inviteName(r, inv)}), Keyboard: keys})
		return true, nil
	}
	token, _ := inviteToken(h.cfg.TokenKey, inv.ID)
	if !inv.TokenMatches(token) {
		// Made before tokens were derived (or under another key, or by
		// `try`): only its hash is known, so its link cannot be printed
		// again; a new poster like it can be made.
		h.answer(ctx, r, queryID, "")
		h.send(ctx, r, bot.Message{Text: h.text(r, msgInvNoReprint, map[string]any{"Label": h.inviteName(r, inv)}),
			Keyboard: [][]bot.Key{{h.key(h.plain(r, btnPosterInstead, nil), menu.Invite, h.posterDraft(inv).encode())}, {h.cancelKey(r)}}})
		return true, nil
	}
	inv.Token = token
	h.answer(ctx, r, queryID, "")
	return true, h.sendPoster(ctx, r, inv)
}

// posterDraft is the invite menu for a poster like inv (same
// questionnaire, place and label), at its validity question.
func (h *Handler) posterDraft(inv org.Invite) inviteDraft {
	d := newInviteDraft(inv.Label)
	d.Asked = true
	if order, offered := h.inviteForms(); slices.Contains(offered, inv.Form) {
		i := slices.Index(order, inv.Form)
		d.Form, d.Muni, d.Svc, d.Uses = i+1, inv.MunicipalityID, menu.Some(inv.ServiceID), menu.Some(usesPoster)
	}
	return d
}

func (h *Handler) revokeInvite(ctx context.Context, r *bot.Request, w who, a idAction, msgID int, queryID string) (bool, error) {
	scope := inviteScope(w)
	inv, err := h.cfg.InviteList.Invite(ctx, a.ID, scope)
	if errors.Is(err, org.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	args := map[string]any{"Label": h.inviteName(r, inv), "Scope": h.scope(r, inv.MunicipalityName, inv.ServiceName)}
	if inv.Revoked {
		h.answer(ctx, r, queryID, h.plain(r, msgGone, nil))
		return true, nil
	}
	if !a.Confirm {
		h.answer(ctx, r, queryID, "")
		h.send(ctx, r, bot.Message{Text: h.text(r, msgInvConfirm, args), Keyboard: [][]bot.Key{{
			h.key(h.plain(r, btnConfirm, nil), menu.RevokeInvite, idAction{Confirm: true, ID: inv.ID}.encode()),
			h.cancelKey(r),
		}}})
		return true, nil
	}
	if _, err := h.cfg.InviteList.RevokeInvite(ctx, w.m.ID, inv.ID, scope); errors.Is(err, org.ErrNotFound) {
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

// Resolve implements interview.Invites: a valid token counts one use (atomically,
// within max_uses) and binds the interview to the invite's questionnaire,
// municipality, service and operator; the start context names the invite
// by its id (interview.CtxInvite), never by its token. Bad tokens are counted per
// user (the pseudonym); a user over the limit is refused with
// ErrInviteLimited before any lookup, so that even a right guess fails.
func (h *Handler) Resolve(ctx context.Context, token, user string) (interview.Invite, error) {
	if limited, err := h.cfg.Limiter.Limited(ctx, badTokenKey(user), h.cfg.BadTokens, h.cfg.BadTokenPeriod); err != nil {
		// Fail open for respondents: their interview needs Redis anyway,
		// and 120-bit tokens cannot be guessed in a Redis outage.
		h.log.Warn("staff: bad-token limiter unavailable", "err", err)
	} else if limited {
		h.log.Info("invite refused", "reason", interview.ErrInviteLimited.Error())
		return interview.Invite{}, interview.ErrInviteLimited
	}
	var inv org.Invite
	var err error = org.ErrNotFound
	if tokenRe.MatchString(token) && !IsStaffToken(token) {
		inv, err = h.cfg.InviteMaker.UseInvite(ctx, token, h.cfg.Now())
	}
	return h.resolved(ctx, inv, err, user)
}

// resolved turns UseInvite's outcome into interview.Invites' answer, counting a
// refusal against user.
func (h *Handler) resolved(ctx context.Context, inv org.Invite, err error, user string) (interview.Invite, error) {
	var refused error
	switch {
	case err == nil:
		c := map[string]string{interview.CtxMunicipality: itoa(inv.MunicipalityID), interview.CtxInvite: itoa(inv.ID)}
		if inv.ServiceID != 0 {
			c[interview.CtxService] = itoa(inv.ServiceID)
			c[interview.CtxServiceCode] = inv.ServiceCode
		}
		if inv.OperatorID != 0 {
			c[interview.CtxOperator] = itoa(inv.OperatorID)
		}
		return interview.Invite{Form: inv.Form, Context: c}, nil
	case errors.Is(err, org.ErrNotFound):
		refused = interview.ErrInviteUnknown
	case errors.Is(err, org.ErrExpired):
		refused = interview.ErrInviteExpired
	case errors.Is(err, org.ErrRevoked):
		refused = interview.ErrInviteRevoked
	case errors.Is(err, org.ErrExhausted):
		refused = interview.ErrInviteExhausted
	default:
		return interview.Invite{}, fmt.Errorf("staff: resolve invite: %w", err)
	}
	limited, err := h.badToken(ctx, user)
	if err != nil {
		return interview.Invite{}, err
	}
	if limited {
		refused = interview.ErrInviteLimited
	}
	h.log.Info("invite refused", "invite_id", inv.ID, "reason", refused.Error())
	return interview.Invite{}, refused
}
