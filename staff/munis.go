package staff

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/org"
)

var (
	istatRe = regexp.MustCompile(`^[0-9]{6}$`)
	codeRe  = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)
)

// municipalities is /municipalities for admins:
//
//	/municipalities                                   list
//	/municipalities add 048017 Firenze                add a municipality
//	/municipalities service 048017 anagrafe Anagrafe  add a service to it
func (h *Handler) municipalities(ctx context.Context, r *bot.Request, w who, args string) error {
	f := strings.Fields(args)
	say := func(id string, data map[string]any) { h.send(ctx, r, bot.Message{Text: h.text(r, id, data)}) }
	switch {
	case len(f) == 0:
		all, err := h.cfg.Places.Municipalities(ctx)
		if err != nil {
			return h.fail(ctx, r, err)
		}
		text := h.text(r, msgMuniTitle, nil) + "\n"
		for _, m := range all {
			text += "\n" + h.text(r, msgMuniItem, map[string]any{"ISTAT": m.ISTAT, "Name": m.Name, "Count": m.Services})
		}
		h.send(ctx, r, bot.Message{Text: text + "\n\n" + h.text(r, msgMuniUsage, nil)})
		return nil
	case f[0] == "add":
		if len(f) < 3 || !istatRe.MatchString(f[1]) {
			say(msgMuniBad, nil)
			return nil
		}
		name := strings.Join(f[2:], " ")
		m, err := h.cfg.Registry.AddMunicipality(ctx, &w.m.ID, f[1], name)
		switch {
		case errors.Is(err, org.ErrExists):
			say(msgMuniExists, map[string]any{"ISTAT": f[1]})
		case errors.Is(err, org.ErrInvalid):
			say(msgMuniBad, nil)
		case err != nil:
			return h.fail(ctx, r, err)
		default:
			h.log.Info("municipality added", "staff_id", w.m.ID, "municipality_id", m.ID)
			say(msgMuniAdded, map[string]any{"ISTAT": m.ISTAT, "Name": m.Name})
		}
		return nil
	case f[0] == "service":
		if len(f) < 4 || !istatRe.MatchString(f[1]) || !codeRe.MatchString(f[2]) {
			say(msgSvcBad, nil)
			return nil
		}
		id, err := h.cfg.Registry.MunicipalityID(ctx, f[1])
		if errors.Is(err, org.ErrNotFound) {
			say(msgMuniUnknown, map[string]any{"ISTAT": f[1]})
			return nil
		} else if err != nil {
			return h.fail(ctx, r, err)
		}
		m, err := h.cfg.Places.Municipality(ctx, id)
		if err != nil {
			return h.fail(ctx, r, err)
		}
		name := strings.Join(f[3:], " ")
		s, err := h.cfg.Registry.AddService(ctx, &w.m.ID, id, f[2], name)
		switch {
		case errors.Is(err, org.ErrExists):
			say(msgSvcExists, map[string]any{"Municipality": m.Name, "Code": f[2]})
		case errors.Is(err, org.ErrInvalid):
			say(msgSvcBad, nil)
		case err != nil:
			return h.fail(ctx, r, err)
		default:
			h.log.Info("service added", "staff_id", w.m.ID, "service_id", s.ID)
			say(msgSvcAdded, map[string]any{"Municipality": m.Name, "Code": s.Code, "Name": s.Name})
		}
		return nil
	}
	say(msgMuniUsage, nil)
	return nil
}
