package staff

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// The service directory in Telegram (issue 16): managers (and admins) list
// their municipality's entries, add one field by field, edit a field, and
// hide or show an entry. Every button and every typed reply is checked
// again against role and municipality; every change is audit-logged by
// the store (directory.add, directory.edit, directory.hide).

// Directory menu operations (the first field of a dirDraft).
const (
	dirPick = "m" // admins: pick the municipality
	dirList = "l" // the list of entries
	dirCard = "c" // one entry, with its edit buttons
	dirAdd  = "a" // the add wizard, a field at a time
	dirEdit = "e" // edit one field
	dirHide = "h" // hide (Val 1) or show (Val 0) an entry
)

// dirDraft is the state of a directory menu, carried in its buttons.
type dirDraft struct {
	Op    string
	Muni  int64    // 0 until chosen (admins)
	Entry menu.Opt // the entry, once it exists
	At    int      // add wizard: fields done; edit: 0 or 1
	Field int      // edit: the field's index in dirFields
	Val   menu.Opt // a choice just made (a toggle, yes/no, remove)
	Page  int
}

func (d dirDraft) encode() string {
	var e menu.Enc
	return e.Code(d.Op).Int(d.Muni).Opt(d.Entry).Int(int64(d.At)).Int(int64(d.Field)).Opt(d.Val).Int(int64(d.Page)).String()
}

func parseDir(payload string) (dirDraft, error) {
	dec := menu.NewDec(payload, 7)
	d := dirDraft{Op: dec.Code(), Muni: dec.Int(), Entry: dec.Opt()}
	d.At, d.Field, d.Val, d.Page = int(dec.Int()), int(dec.Int()), dec.Opt(), int(dec.Int())
	if err := dec.Err(); err != nil || d.encode() != payload || d.At > len(dirFields()) || d.Field >= len(dirFields()) || d.Page > 1000 {
		return d, errOption
	}
	switch d.Op {
	case dirPick, dirList, dirCard, dirAdd, dirEdit, dirHide:
		return d, nil
	}
	return d, errOption
}

// dirField is one field of an entry as the menus edit it.
type dirField struct {
	code string
	btn  string // button: edit this field
	ask  string // the question
	kind int    // fieldText, fieldTextOpt, fieldCoords, fieldList, fieldBool
	bad  string // the problem with a typed value
}

const (
	fieldText    = iota // typed, required
	fieldTextOpt        // typed, may be skipped or removed
	fieldCoords         // typed coordinates, may be skipped or removed
	fieldLangs          // languages: toggles
	fieldAreas          // need areas: toggles
	fieldBool           // yes / no / not said
)

// dirFields are an entry's fields in the order the add wizard asks them.
func dirFields() []dirField {
	return []dirField{
		{"name", btnDirName, msgDirAskName, fieldText, msgDirBadText},
		{"address", btnDirAddress, msgDirAskAddress, fieldTextOpt, msgDirBadText},
		{"coordinates", btnDirCoords, msgDirAskCoords, fieldCoords, msgDirBadCoords},
		{"phone", btnDirPhone, msgDirAskPhone, fieldTextOpt, msgDirBadText},
		{"website", btnDirWebsite, msgDirAskWebsite, fieldTextOpt, msgDirBadWebsite},
		{"hours", btnDirHours, msgDirAskHours, fieldTextOpt, msgDirBadText},
		{"languages", btnDirLanguages, msgDirAskLanguages, fieldLangs, ""},
		{"areas", btnDirAreas, msgDirAskAreas, fieldAreas, ""},
		{"free", btnDirFree, msgDirAskFree, fieldBool, ""},
		{"appointment", btnDirAppointment, msgDirAskAppointment, fieldBool, ""},
	}
}

// directoryCommand is /directory: the list of the member's municipality
// (admins first pick one).
func (h *Handler) directoryCommand(ctx context.Context, r *bot.Request, w who) error {
	d := dirDraft{Op: dirList, Muni: w.m.MunicipalityID}
	if w.m.Role == org.RoleAdmin {
		d = dirDraft{Op: dirPick}
	}
	return h.dirShow(ctx, r, w, d, 0, "", "")
}

// dirAllowed checks a draft against the member: their municipality (any
// for admins, once chosen), an entry of that municipality.
func (h *Handler) dirAllowed(ctx context.Context, w who, d dirDraft) (directory.Entry, bool, error) {
	if d.Op == dirPick {
		return directory.Entry{}, w.m.Role == org.RoleAdmin && d.Muni == 0 && !d.Entry.Set, nil
	}
	if d.Muni == 0 || !w.m.Can(d.Muni) {
		return directory.Entry{}, false, nil
	}
	if _, err := h.cfg.Places.Municipality(ctx, d.Muni); errors.Is(err, org.ErrNotFound) {
		return directory.Entry{}, false, nil
	} else if err != nil {
		return directory.Entry{}, false, err
	}
	if !d.Entry.Set {
		return directory.Entry{}, d.Op == dirList || d.Op == dirAdd && d.At == 0, nil
	}
	e, err := h.cfg.Directory.DirectoryEntry(ctx, d.Muni, d.Entry.V)
	if errors.Is(err, org.ErrNotFound) {
		return e, false, nil
	}
	return e, err == nil, err
}

func (h *Handler) directoryCallback(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
	d, err := parseDir(payload)
	if err != nil {
		return false, nil
	}
	e, ok, err := h.dirAllowed(ctx, w, d)
	if err != nil || !ok {
		return false, err
	}
	notice := ""
	if d.Val.Set {
		// A choice was made: apply it, then show what follows.
		if d, notice, err = h.dirApply(ctx, r, w, d, e); err != nil {
			h.answer(ctx, r, queryID, "")
			return true, h.fail(ctx, r, err)
		}
	}
	return true, h.dirShow(ctx, r, w, d, msgID, queryID, notice)
}

// dirApply applies a choice carried by a button: a toggle, yes/no, the
// removal of a field, hiding or showing.
func (h *Handler) dirApply(ctx context.Context, r *bot.Request, w who, d dirDraft, e directory.Entry) (dirDraft, string, error) {
	actor := &w.m.ID
	v := d.Val.V
	d.Val = menu.Opt{}
	if d.Op == dirHide {
		hide := v == 1
		if !hide && !e.HelpPoint && len(e.Areas) == 0 {
			d.Op = dirCard
			return d, h.plain(r, msgDirNeedsArea, nil), nil
		}
		if err := h.cfg.DirectoryEditor.SetDirectoryHidden(ctx, actor, d.Muni, e.ID, hide); err != nil {
			return d, "", err
		}
		h.log.Info("directory entry hidden", "staff_id", w.m.ID, "entry_id", e.ID, "hidden", hide)
		d.Op = dirCard
		return d, "", nil
	}
	i := d.Field
	if d.Op == dirAdd {
		i = d.At
	}
	if i >= len(dirFields()) || !d.Entry.Set {
		return d, "", nil
	}
	f := dirFields()[i]
	switch f.kind {
	case fieldText:
		return d, "", nil // a name is never removed
	case fieldLangs, fieldAreas:
		codes := h.cfg.DirectoryVocabulary.Languages
		list := &e.Languages
		if f.kind == fieldAreas {
			codes, list = h.cfg.DirectoryVocabulary.Areas, &e.Areas
		}
		if v >= int64(len(codes)) {
			return d, "", nil
		}
		if c := codes[v]; slices.Contains(*list, c) {
			*list = slices.DeleteFunc(*list, func(x string) bool { return x == c })
		} else {
			*list = append(*list, c)
		}
		return d, "", h.dirSave(ctx, w, d, e, f) // the toggles stay on screen
	case fieldBool:
		var b *bool
		switch v {
		case 1:
			b = new(bool)
			*b = true
		case 2:
			b = new(bool)
		}
		if f.code == "free" {
			e.Free = b
		} else {
			e.Appointment = b
		}
	default: // remove a typed field
		setText(&e, f.code, "")
		if f.kind == fieldCoords {
			e.HasCoords, e.Latitude, e.Longitude = false, 0, 0
		}
	}
	d = dirNext(d)
	return d, "", h.dirSave(ctx, w, d, e, f)
}

// dirNext moves a draft past the field just answered.
func dirNext(d dirDraft) dirDraft {
	if d.Op == dirAdd {
		d.At++
	} else {
		d.Op = dirCard
	}
	return d
}

func (h *Handler) dirSave(ctx context.Context, w who, d dirDraft, e directory.Entry, f dirField) error {
	if err := h.cfg.DirectoryEditor.UpdateDirectoryEntry(ctx, &w.m.ID, d.Muni, e, f.code); err != nil {
		return err
	}
	h.log.Info("directory entry edited", "staff_id", w.m.ID, "entry_id", e.ID, "field", f.code)
	return nil
}

func setText(e *directory.Entry, code, v string) {
	switch code {
	case "name":
		e.Name = v
	case "address":
		e.Address = v
	case "phone":
		e.Phone = v
	case "website":
		e.Website = v
	case "hours":
		e.Hours = v
	}
}

// dirShow shows the menu a draft is at.
func (h *Handler) dirShow(ctx context.Context, r *bot.Request, w who, d dirDraft, msgID int, queryID, notice string) error {
	var m bot.Message
	var err error
	switch d.Op {
	case dirPick:
		m, err = h.dirPickScreen(ctx, r, d)
	case dirList:
		m, err = h.dirListScreen(ctx, r, d)
	case dirCard, dirHide:
		d.Op = dirCard
		m, err = h.dirCardScreen(ctx, r, d)
	case dirAdd, dirEdit:
		wz := h.dirWizard(r, w, d)
		var at int
		if d, at, err = wz.Resolve(ctx, d); err != nil {
			break
		}
		if at == len(wz.Steps) {
			if d.Op == dirAdd {
				// Every field answered: show it to respondents if it is
				// complete, else say what it lacks.
				e, gerr := h.cfg.Directory.DirectoryEntry(ctx, d.Muni, d.Entry.V)
				if gerr != nil {
					err = gerr
					break
				}
				if !e.HelpPoint && len(e.Areas) == 0 {
					notice = h.plain(r, msgDirNeedsArea, nil)
				} else if err = h.cfg.DirectoryEditor.SetDirectoryHidden(ctx, &w.m.ID, d.Muni, e.ID, false); err != nil {
					break
				}
			}
			d = dirDraft{Op: dirCard, Muni: d.Muni, Entry: d.Entry}
			m, err = h.dirCardScreen(ctx, r, d)
			break
		}
		m, err = wz.Screen(ctx, d, at, h.text(r, msgDirTitle, nil), h.labels(r))
	}
	if err != nil {
		h.answer(ctx, r, queryID, "")
		return h.fail(ctx, r, err)
	}
	h.edit(ctx, r, msgID, m)
	h.answer(ctx, r, queryID, notice)
	if notice != "" && queryID == "" {
		h.send(ctx, r, bot.Message{Text: notice})
	}
	return nil
}

func (h *Handler) dirKey(label string, d dirDraft) bot.Key {
	return h.key(label, menu.Directory, d.encode())
}

func (h *Handler) dirPickScreen(ctx context.Context, r *bot.Request, d dirDraft) (bot.Message, error) {
	choices, nav, err := municipalityChoices(ctx, h, r, d.Page, func(id int64) dirDraft {
		return dirDraft{Op: dirList, Muni: id}
	}, func(page int) dirDraft { return dirDraft{Op: dirPick, Page: page} })
	if err != nil {
		return bot.Message{}, err
	}
	var keys, navKeys []bot.Key
	for _, c := range choices {
		keys = append(keys, h.dirKey(c.Label, c.Next))
	}
	for _, c := range nav {
		navKeys = append(navKeys, h.dirKey(c.Label, c.Next))
	}
	rows := append(bot.Layout(keys, navKeys), []bot.Key{h.cancelKey(r)})
	return bot.Message{Text: h.text(r, msgDirPickMuni, nil), Keyboard: rows}, nil
}

// dirPageSize is how many entries the list shows at once.
const dirPageSize = 10

func (h *Handler) dirListScreen(ctx context.Context, r *bot.Request, d dirDraft) (bot.Message, error) {
	m, err := h.cfg.Places.Municipality(ctx, d.Muni)
	if err != nil {
		return bot.Message{}, err
	}
	all, err := h.cfg.Directory.Directory(ctx, d.Muni, true)
	if err != nil {
		return bot.Message{}, err
	}
	text := h.text(r, msgDirListTitle, map[string]any{"Municipality": m.Name, "Count": len(all)})
	if len(all) == 0 {
		text += "\n\n" + h.text(r, msgDirEmpty, nil)
	}
	pages := max(1, (len(all)+dirPageSize-1)/dirPageSize)
	page := min(d.Page, pages-1)
	var rows [][]bot.Key
	for _, e := range all[page*dirPageSize : min(len(all), (page+1)*dirPageSize)] {
		label := e.Name
		if e.Hidden {
			label = "🙈 " + label
		}
		rows = append(rows, []bot.Key{h.dirKey(label, dirDraft{Op: dirCard, Muni: d.Muni, Entry: menu.Some(e.ID)})})
	}
	var nav []bot.Key
	if page > 0 {
		nav = append(nav, h.dirKey(h.plain(r, btnPrev, nil), dirDraft{Op: dirList, Muni: d.Muni, Page: page - 1}))
	}
	if page < pages-1 {
		nav = append(nav, h.dirKey(h.plain(r, btnNext, nil), dirDraft{Op: dirList, Muni: d.Muni, Page: page + 1}))
	}
	if len(nav) > 0 {
		rows = append(rows, nav)
	}
	rows = append(rows, []bot.Key{h.dirKey(h.plain(r, btnDirAdd, nil), dirDraft{Op: dirAdd, Muni: d.Muni}), h.cancelKey(r)})
	return bot.Message{Text: text, Keyboard: rows}, nil
}

func (h *Handler) dirCardScreen(ctx context.Context, r *bot.Request, d dirDraft) (bot.Message, error) {
	e, err := h.cfg.Directory.DirectoryEntry(ctx, d.Muni, d.Entry.V)
	if err != nil {
		return bot.Message{}, err
	}
	var keys []bot.Key
	for i, f := range dirFields() {
		keys = append(keys, h.dirKey(h.plain(r, f.btn, nil), dirDraft{Op: dirEdit, Muni: d.Muni, Entry: d.Entry, Field: i}))
	}
	hide := dirDraft{Op: dirHide, Muni: d.Muni, Entry: d.Entry, Val: menu.Some(1)}
	hideLabel := h.plain(r, btnDirHide, nil)
	if e.Hidden {
		hide.Val, hideLabel = menu.Some(0), h.plain(r, btnDirShow, nil)
	}
	rows := bot.Layout(keys, nil)
	rows = append(rows, []bot.Key{h.dirKey(hideLabel, hide)},
		[]bot.Key{h.dirKey(h.plain(r, btnBack, nil), dirDraft{Op: dirList, Muni: d.Muni}), h.cancelKey(r)})
	return bot.Message{Text: h.dirCardText(r, e), Keyboard: rows}, nil
}

// dirCardText describes an entry to staff.
func (h *Handler) dirCardText(r *bot.Request, e directory.Entry) string {
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	coords := "—"
	if e.HasCoords {
		coords = strconv.FormatFloat(e.Latitude, 'f', -1, 64) + ", " + strconv.FormatFloat(e.Longitude, 'f', -1, 64)
	}
	areas := make([]string, len(e.Areas))
	for i, a := range e.Areas {
		areas[i] = h.areaName(r, a)
	}
	status := h.plain(r, msgDirVisible, nil)
	if e.Hidden {
		status = h.plain(r, msgDirHidden, nil)
	}
	return h.text(r, msgDirCard, map[string]any{
		"Name": e.Name, "Address": dash(e.Address), "Coordinates": coords, "Phone": dash(e.Phone),
		"Website": dash(e.Website), "Hours": dash(e.Hours), "Languages": dash(strings.Join(e.Languages, ", ")),
		"Areas": dash(strings.Join(areas, ", ")), "Free": h.yesNo(r, e.Free, btnDirFreeYes, btnDirFreeNo),
		"Appointment": h.yesNo(r, e.Appointment, btnDirApptYes, btnDirApptNo), "Status": status,
	})
}

func (h *Handler) yesNo(r *bot.Request, b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "—"
	case *b:
		return h.plain(r, yes, nil)
	}
	return h.plain(r, no, nil)
}

// areaName is a need area's label in the member's language (its code
// when the questionnaires do not name it).
func (h *Handler) areaName(r *bot.Request, code string) string {
	if id, ok := h.cfg.AreaLabels[code]; ok {
		return h.plain(r, id, nil)
	}
	return code
}

// dirWizard is the add wizard (every field in order) or the edit of one
// field, over the same steps.
func (h *Handler) dirWizard(r *bot.Request, w who, d0 dirDraft) *menu.Wizard[dirDraft] {
	type step = menu.Step[dirDraft]
	type prompt = menu.Prompt[dirDraft]
	type choice = menu.Choice[dirDraft]
	fields := dirFields()
	var steps []step
	for i, f := range fields {
		if d0.Op == dirEdit && i != d0.Field {
			continue
		}
		idx := len(steps) // the step's index: fields done in the add wizard
		s := step{Name: f.code,
			Done:  func(d dirDraft) bool { return d.At > idx },
			Clear: func(d dirDraft) dirDraft { d.At, d.Val = idx, menu.Opt{}; return d },
		}
		s.Ask = func(ctx context.Context, d dirDraft) (prompt, error) {
			p := prompt{Text: h.text(r, f.ask, nil)}
			var e directory.Entry
			if d.Entry.Set {
				var err error
				if e, err = h.cfg.Directory.DirectoryEntry(ctx, d.Muni, d.Entry.V); err != nil {
					return p, err
				}
				p.Text = h.text(r, msgDirEntry, map[string]any{"Name": e.Name}) + "\n" + p.Text
			}
			with := func(v int64) dirDraft { nd := d; nd.Val = menu.Some(v); return nd }
			switch f.kind {
			case fieldTextOpt, fieldCoords:
				if d.Op == dirAdd {
					nd := d
					nd.At++
					p.Nav = []choice{{Label: h.plain(r, btnDirSkip, nil), Next: nd}}
				} else {
					p.Nav = []choice{{Label: h.plain(r, btnDirRemove, nil), Next: with(0)}}
				}
			case fieldLangs, fieldAreas:
				codes, have := h.cfg.DirectoryVocabulary.Languages, e.Languages
				if f.kind == fieldAreas {
					codes, have = h.cfg.DirectoryVocabulary.Areas, e.Areas
				}
				for j, c := range codes {
					label := c
					if f.kind == fieldAreas {
						label = h.areaName(r, c)
					}
					if slices.Contains(have, c) {
						label = "✅ " + label
					}
					p.Choices = append(p.Choices, choice{Label: label, Next: with(int64(j))})
				}
				p.Nav = []choice{{Label: h.plain(r, btnDirDone, nil), Next: dirNext(d)}}
			case fieldBool:
				yes, no := btnDirFreeYes, btnDirFreeNo
				if f.code == "appointment" {
					yes, no = btnDirApptYes, btnDirApptNo
				}
				p.Column = true
				p.Choices = []choice{{Label: h.plain(r, yes, nil), Next: with(1)}, {Label: h.plain(r, no, nil), Next: with(2)},
					{Label: h.plain(r, btnDirNotSaid, nil), Next: with(0)}}
			}
			return p, nil
		}
		if f.kind == fieldText || f.kind == fieldTextOpt || f.kind == fieldCoords {
			s.Input = func(ctx context.Context, d dirDraft, text string) (dirDraft, string, error) {
				return h.dirTyped(ctx, r, w, d, f, strings.TrimSpace(text))
			}
		}
		steps = append(steps, s)
	}
	return &menu.Wizard[dirDraft]{Route: menu.Directory, Encode: dirDraft.encode, Steps: steps}
}

// dirTyped applies a typed value of field f: the name of a new entry adds
// it (hidden until the wizard ends); other values update it.
func (h *Handler) dirTyped(ctx context.Context, r *bot.Request, w who, d dirDraft, f dirField, text string) (dirDraft, string, error) {
	problem := directory.Text(text)
	var la, lo float64
	switch {
	case problem != "":
	case text == "" && f.kind == fieldText:
		problem = "missing"
	case f.kind == fieldCoords:
		la, lo, problem = directory.ParseCoordinates(text)
	case f.code == "website":
		problem = directory.Website(text)
	}
	if problem != "" {
		return d, h.plain(r, f.bad, nil), nil
	}
	if !d.Entry.Set {
		// The add wizard's first answer: the name makes the entry.
		id, err := h.cfg.DirectoryEditor.AddDirectoryEntry(ctx, &w.m.ID, d.Muni, directory.Entry{Name: text})
		if errors.Is(err, org.ErrExists) {
			return d, h.plain(r, msgDirExists, map[string]any{"Name": text}), nil
		} else if err != nil {
			return d, "", err
		}
		h.log.Info("directory entry added", "staff_id", w.m.ID, "entry_id", id)
		d.Entry = menu.Some(id)
		return dirNext(d), "", nil
	}
	e, err := h.cfg.Directory.DirectoryEntry(ctx, d.Muni, d.Entry.V)
	if err != nil {
		return d, "", err
	}
	if f.kind == fieldCoords {
		e.HasCoords, e.Latitude, e.Longitude = true, la, lo
	} else {
		setText(&e, f.code, text)
	}
	if err := h.cfg.DirectoryEditor.UpdateDirectoryEntry(ctx, &w.m.ID, d.Muni, e, f.code); errors.Is(err, org.ErrExists) {
		return d, h.plain(r, msgDirExists, map[string]any{"Name": e.Name}), nil
	} else if err != nil {
		return d, "", err
	}
	h.log.Info("directory entry edited", "staff_id", w.m.ID, "entry_id", e.ID, "field", f.code)
	return dirNext(d), "", nil
}

// Reply implements bot.StaffReplies: text typed in reply to a menu that
// waits for it (an invite's label, a directory field). Anything else is
// not handled (the text goes on to the interview).
func (h *Handler) Reply(ctx context.Context, r *bot.Request, cb bot.Callback, menuMsg int, text string) (bool, error) {
	if cb.Kind != bot.CbStaff {
		return false, nil
	}
	e, payload, ok := menu.Lookup(cb.Option)
	if !ok || (e.Route != menu.Invite && e.Route != menu.Directory) || h.routes()[e.Route] == nil {
		return false, nil
	}
	w, ok, err := h.who(ctx, r.User, level(e.Need))
	if err != nil || !ok {
		return false, err
	}
	// The menu answered stays as it is, without its buttons; what
	// follows comes below the reply.
	done := func() {
		if err := r.Sender.EditKeyboard(ctx, r.Chat, menuMsg, nil); err != nil {
			h.log.Warn("staff: could not close the answered menu", "err", err)
		}
	}
	switch e.Route {
	case menu.Invite:
		d, err := parseInvite(payload)
		if err != nil {
			return false, nil
		}
		if ok, err := h.checkInvite(ctx, w, d); err != nil || !ok {
			return false, err
		}
		next, _, problem, ok, err := h.inviteWizard(r, w).Typed(ctx, d, text)
		if err != nil || !ok {
			return ok, err
		}
		if problem != "" {
			h.send(ctx, r, bot.Message{Text: problem})
			return true, nil
		}
		done()
		return true, h.inviteStep(ctx, r, w, next, 0, "")
	default:
		d, err := parseDir(payload)
		if err != nil || d.Val.Set {
			return false, nil
		}
		if _, ok, err := h.dirAllowed(ctx, w, d); err != nil || !ok {
			return false, err
		}
		next, _, problem, ok, err := h.dirWizard(r, w, d).Typed(ctx, d, text)
		if err != nil {
			return true, h.fail(ctx, r, err)
		}
		if !ok {
			return false, nil
		}
		if problem != "" {
			h.send(ctx, r, bot.Message{Text: problem})
			return true, nil
		}
		done()
		return true, h.dirShow(ctx, r, w, next, 0, "", "")
	}
}

var _ bot.StaffReplies = (*Handler)(nil)
