package bot

import (
	"context"
	"strconv"
	"strings"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/interview"
)

// Directory is the municipalities' service directory (issue 16): the bot
// refers respondents to it after completing, and on /services.
type Directory interface {
	// Services returns the visible entries of a municipality (its Postgres
	// id, as in the interview context), in the directory's order.
	Services(ctx context.Context, municipality string) ([]directory.Entry, error)
	// Referred counts the referrals as counts per service and area per
	// day: nothing links them to the respondent or the response.
	Referred(ctx context.Context, municipality string, picks []directory.Pick) error
}

// Messages of the referrals and /services (respondent-facing, every
// language). Names and addresses stay in Italian, as on the signs.
const (
	// MsgServicesIntro heads the card of services matching the needs.
	MsgServicesIntro = "b.services.intro"
	// MsgServicesChoose asks which need area to list services for.
	MsgServicesChoose = "b.services.choose"
	// MsgServicesNone says where to ask when the directory has nothing.
	MsgServicesNone = "b.services.none"
	// MsgServicesHelpPoint labels the municipality's general help point.
	MsgServicesHelpPoint = "b.services.help_point"
	// MsgServicesHours labels a desk's opening hours. Args: Hours.
	MsgServicesHours = "b.services.hours"
	// MsgServicesLanguages lists the languages spoken at a desk. Args: Languages.
	MsgServicesLanguages = "b.services.languages"
	// MsgServicesFree says a desk's service costs nothing (🆓 alone is
	// English letters).
	MsgServicesFree = "b.services.free"
	// MsgServicesAppointment says a desk sees people by appointment only
	// (📅 alone says nothing of the kind).
	MsgServicesAppointment = "b.services.appointment"
)

func servicesMessageIDs() []string {
	return []string{MsgServicesIntro, MsgServicesChoose, MsgServicesNone, MsgServicesHelpPoint, MsgServicesHours, MsgServicesLanguages,
		MsgServicesFree, MsgServicesAppointment}
}

// maxReferrals is how many services a respondent is pointed to at once.
const maxReferrals = 3

// referralForm reports whether completing f refers the respondent to
// services: a form respondents answer (staff answer about their own
// work, not about their needs).
func referralForm(f *dialog.Form) bool {
	return f != nil && f.Audience == dialog.AudienceRespondents
}

// refer sends the services matching a completed interview's needs (the
// areas chosen in the form's referral questions, priorities first) and
// the help point.
func (t *turn) refer(ctx context.Context, resp *dialog.Response) {
	h := t.h
	if h.cfg.Directory == nil || resp == nil {
		return
	}
	f := h.cfg.Core.FormOf(resp.Form, resp.FormVersion)
	if f == nil || f.ID != resp.Form || !referralForm(f) {
		return
	}
	muni := resp.Context[interview.CtxMunicipality]
	t.sendServices(ctx, muni, f.NeedAreas(resp.Answers), false)
}

// services answers /services: a button per need area the municipality's
// directory serves, or where to ask when it has none.
func (t *turn) services(ctx context.Context) (Outcome, error) {
	h := t.h
	muni := t.municipality()
	var entries []directory.Entry
	if h.cfg.Directory != nil && muni != "" {
		var err error
		if entries, err = h.cfg.Directory.Services(ctx, muni); err != nil {
			return Outcome{}, err
		}
	}
	aree := t.areaList()
	var kb [][]Key
	if aree != nil {
		for _, c := range aree.Choices {
			if c.Area == "" || !servesAny(entries, c.Area) {
				continue
			}
			data, err := Callback{Kind: CbServices, Option: c.Area}.Encode()
			if err != nil {
				continue
			}
			kb = append(kb, []Key{{Text: t.r.Plain(t.lang, c.Label, nil), Data: data}})
		}
	}
	if len(kb) == 0 {
		if _, ok := directory.HelpPoint(entries); ok {
			t.sendServices(ctx, muni, nil, true)
			return t.askBelow(ctx)
		}
		t.say(ctx, MsgServicesNone)
		return t.askBelow(ctx)
	}
	if err := t.sendMsg(ctx, Message{Text: t.r.Text(t.lang, MsgServicesChoose, nil), Keyboard: kb}, false); err != nil {
		return Outcome{}, err
	}
	// During an interview the question comes below the menu, which stays
	// (a tap on an area lists its services, and the question below again).
	return t.askBelow(ctx)
}

// serviceArea answers a tap on an area of the /services menu.
func (t *turn) serviceArea(ctx context.Context, area string) (Outcome, error) {
	if aree := t.areaList(); aree == nil {
		return t.finish(ctx)
	} else if _, ok := aree.ChoiceOfArea(area); !ok || area == "" {
		return t.refuseMenuTap(ctx)
	}
	t.sendServices(ctx, t.municipality(), []string{area}, true)
	return t.askBelow(ctx)
}

// municipality is the Postgres id of the chat's municipality: the
// interview's, else the default one.
func (t *turn) municipality() string {
	if m := t.state.Context[interview.CtxMunicipality]; m != "" {
		return m
	}
	return t.h.cfg.Core.DefaultMunicipality()
}

// areaList is the choice list naming the need areas (column area) of the
// first referral question of the chat's questionnaire, else of the
// default one: its areas and labels.
func (t *turn) areaList() *dialog.List {
	for _, f := range []*dialog.Form{t.form, t.h.cfg.Core.DefaultForm()} {
		if !referralForm(f) {
			continue
		}
		for _, q := range f.Section(dialog.SectionReferral) {
			if q.List != nil && len(q.List.Areas()) > 0 {
				return q.List
			}
		}
	}
	return nil
}

func servesAny(entries []directory.Entry, area string) bool {
	for _, e := range entries {
		if !e.HelpPoint && e.Serves(area) {
			return true
		}
	}
	return false
}

// sendServices sends the services of muni matching areas (most important
// first) as one compact card in the respondent's language, then each as a
// map pin when that stays within the chat's burst of new messages (the
// card and two pins); the help point closes the card. With nothing to
// show, it says where to ask instead when asked (/services); after an
// interview the closing note already says where to ask, so nothing more
// is sent (a deployment without a directory sends what it sent before).
// Failures are logged, never fatal: the interview is recorded already.
func (t *turn) sendServices(ctx context.Context, muni string, areas []string, asked bool) {
	h := t.h
	var entries []directory.Entry
	if h.cfg.Directory != nil && muni != "" {
		var err error
		if entries, err = h.cfg.Directory.Services(ctx, muni); err != nil {
			h.log.Warn("service directory unavailable", "err", err)
			entries = nil
		}
	}
	picks := directory.Match(entries, areas, t.lang, maxReferrals)
	help, hasHelp := directory.HelpPoint(entries)
	if len(picks) == 0 && !hasHelp {
		if asked {
			t.say(ctx, MsgServicesNone)
		}
		return
	}
	aree := t.areaList()
	var b strings.Builder
	if len(picks) > 0 {
		b.WriteString("🧭 <b>" + t.r.Text(t.lang, MsgServicesIntro, nil) + "</b>")
	}
	for i, p := range picks {
		b.WriteString("\n\n" + strconv.Itoa(i+1) + ". ")
		area := ""
		if aree != nil {
			if c, ok := aree.ChoiceOfArea(p.Area); ok {
				area = t.r.Plain(t.lang, c.Label, nil)
			}
		}
		t.entryCard(&b, p.Entry, area)
	}
	if hasHelp {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("ℹ️ " + t.r.Text(t.lang, MsgServicesHelpPoint, nil) + ": ")
		t.entryCard(&b, help, "")
	}
	text := b.String()
	if len([]rune(text)) > MaxText {
		text = string([]rune(text)[:MaxText-1]) + "…"
	}
	if err := t.sendMsg(ctx, Message{Text: text}, false); err != nil {
		h.log.Warn("referral card not sent", "err", err)
		return
	}
	var pins []directory.Entry
	for _, p := range picks {
		if p.Entry.HasCoords {
			pins = append(pins, p.Entry)
		}
	}
	// The card and the pins are new messages: within the burst of three,
	// else the card (which has every address) is all.
	if 1+len(pins) <= 3 {
		for _, e := range pins {
			id, err := h.cfg.Sender.SendVenue(ctx, t.ev.chat, Venue{Latitude: e.Latitude, Longitude: e.Longitude,
				Title: e.Name, Address: venueAddress(e)})
			if err != nil {
				h.log.Warn("referral venue not sent", "err", err)
				break
			}
			t.sent = append(t.sent, id) // for /delete
		}
	}
	counted := append([]directory.Pick(nil), picks...)
	if hasHelp {
		counted = append(counted, directory.Pick{Entry: help})
	}
	if err := h.cfg.Directory.Referred(ctx, muni, counted); err != nil {
		h.log.Warn("referral counts not recorded", "err", err)
	}
}

// entryCard writes one entry: name (and the area it was chosen for), then
// address, hours, languages spoken, phone and website, then free and by
// appointment, in words.
func (t *turn) entryCard(b *strings.Builder, e directory.Entry, area string) {
	// Italian names and addresses, phone numbers and links keep their
	// order inside right-to-left text when isolated.
	iso := func(s string) string {
		s = tghtml.Escape(s)
		if t.r.rtl(t.lang) {
			s = tghtml.Isolate(s)
		}
		return s
	}
	b.WriteString("<b>" + iso(e.Name) + "</b>")
	if area != "" {
		b.WriteString(" — " + tghtml.Escape(area))
	}
	if e.Address != "" {
		b.WriteString("\n📍 " + iso(e.Address))
	}
	if e.Hours != "" {
		b.WriteString("\n🕘 " + t.r.Text(t.lang, MsgServicesHours, map[string]any{"Hours": e.Hours}))
	}
	if len(e.Languages) > 0 {
		var names []string
		for _, code := range e.Languages {
			if l, ok := t.snap.Catalog.Language(code); ok {
				names = append(names, l.Name)
			} else {
				names = append(names, code)
			}
		}
		b.WriteString("\n🗣 " + t.r.Text(t.lang, MsgServicesLanguages, map[string]any{"Languages": strings.Join(names, ", ")}))
	}
	var contact []string
	if e.Phone != "" {
		contact = append(contact, "📞 "+iso(e.Phone))
	}
	if e.Website != "" {
		contact = append(contact, iso(e.Website))
	}
	if len(contact) > 0 {
		b.WriteString("\n" + strings.Join(contact, " · "))
	}
	// Free and by appointment in words: the symbols alone were a puzzle
	// ("FREE" in English letters, a calendar).
	var terms []string
	if e.Free != nil && *e.Free {
		terms = append(terms, t.r.Text(t.lang, MsgServicesFree, nil))
	}
	if e.Appointment != nil && *e.Appointment {
		terms = append(terms, t.r.Text(t.lang, MsgServicesAppointment, nil))
	}
	if len(terms) > 0 {
		b.WriteString("\n" + strings.Join(terms, " · "))
	}
}

// venueAddress is the address on a pin: Telegram wants one.
func venueAddress(e directory.Entry) string {
	if e.Address != "" {
		return e.Address
	}
	return e.Name
}
