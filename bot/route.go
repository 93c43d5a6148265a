package bot

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/org"
)

// The one routing table of callback data (issue 12): every kind of button
// the bot makes — the respondents' and the staff's — is a row, keyed by
// the literal bytes its data begins with after the version byte. A
// respondent's row is one kind byte (CbChoose…); a staff row is CbStaff
// followed by the route (package menu builds staff buttons on it, package
// staff dispatches them). No prefix is a prefix of another, every row
// fits Telegram's 64 bytes with room for its payload, and every row is
// handled: respondent rows here (respondentRoutes), staff rows by staff's
// handler (TestRoutes*, TestEveryRouteHandled in staff).

// Route is one row of the routing table.
type Route struct {
	// Prefix is what the callback data begins with after the version
	// byte.
	Prefix string
	// Staff says the button belongs to a staff menu: its data is CbStaff
	// then Option, and Config.Staff handles it.
	Staff bool
	// Need is a staff button's least role (its handler still checks the
	// scope); "" for respondents' buttons.
	Need org.Role
	// What says what the button does, for people reading the table.
	What string
}

// StaffRoute is the route of a staff button: the first bytes of its
// CbStaff Option.
func (r Route) StaffRoute() string {
	if !r.Staff {
		return ""
	}
	return r.Prefix[1:]
}

// Staff routes (package menu names them menu.Link, menu.Invite…).
const (
	StaffLink         = "L"  // staff link wizard
	StaffInvite       = "I"  // respondent invite wizard
	StaffRevokeMember = "X"  // revoke a member: ask, then do
	StaffRevokeInvite = "V"  // revoke an invite: ask, then do
	StaffPoster       = "P"  // send an invite's poster again
	StaffCancel       = "C"  // close a menu
	StaffDirectory    = "D"  // the service directory (issue 16)
	StaffResults      = "r:" // /results and /export (package results)
	StaffForms        = "F"  // publish a questionnaire workbook an admin sent (issue 13)
)

func respondent(kind byte, what string) Route { return Route{Prefix: string(kind), What: what} }

func staffRoute(route string, need org.Role, what string) Route {
	return Route{Prefix: string(CbStaff) + route, Staff: true, Need: need, What: what}
}

// Routes returns the routing table, as a fresh slice.
func Routes() []Route {
	return []Route{
		respondent(CbChoose, "pick an option of the current question"),
		respondent(CbToggle, "tick or untick a multi-choice option"),
		respondent(CbDone, "confirm a multi-choice selection"),
		respondent(CbBack, "previous question"),
		respondent(CbSkip, "skip an optional question"),
		respondent(CbAck, "acknowledge (OK)"),
		respondent(CbLanguage, "choose a language, or turn the language menu's page"),
		respondent(CbDelete, "/delete confirmation (yes / no)"),
		respondent(CbPage, "another page of a long list"),
		respondent(CbServices, "/services: the services of a need area"),
		respondent(CbRemind, "the reminder's Continue / Stop"),
		staffRoute(StaffLink, org.RoleManager, "staff link wizard (/staff, /stafflink)"),
		staffRoute(StaffInvite, org.RoleOperator, "respondent invite wizard (/invite)"),
		staffRoute(StaffRevokeMember, org.RoleManager, "revoke a staff member (/staff)"),
		staffRoute(StaffRevokeInvite, org.RoleOperator, "revoke an invite (/invites)"),
		staffRoute(StaffPoster, org.RoleOperator, "send an invite's poster again (/invites)"),
		staffRoute(StaffCancel, org.RoleOperator, "close a menu"),
		staffRoute(StaffDirectory, org.RoleManager, "service directory (/directory)"),
		staffRoute(StaffResults, org.RoleManager, "results views and exports (/results, /export)"),
		staffRoute(StaffForms, org.RoleAdmin, "publish a questionnaire workbook sent as a document"),
	}
}

// routeTable is Routes, built once: RouteOf and validKind run on every
// button encoded or decoded, and building the table each time was 15 % of
// the bytes a respondent's turn allocated (more garbage, a higher heap peak).
var routeTable = Routes()

// RouteOf finds the row of callback data (as sent by Telegram).
func RouteOf(data string) (Route, bool) {
	if len(data) < 2 || data[0] != codecVersion {
		return Route{}, false
	}
	for _, r := range routeTable {
		if strings.HasPrefix(data[1:], r.Prefix) {
			return r, true
		}
	}
	return Route{}, false
}

// validKind reports whether k is the kind byte of a row (CbStaff for the
// staff rows).
func validKind(k byte) bool { return kindTable[k] }

// kindTable and respondentTable are built once, as routeTable: every
// button rendered or pressed looks them up. They are read only.
var (
	kindTable = func() *[256]bool {
		var t [256]bool
		for _, r := range routeTable {
			t[r.Prefix[0]] = true
		}
		return &t
	}()
	respondentTable = sync.OnceValue(respondentRoutes)
)

// stepKinds are the respondent rows that answer or move the current
// question: one dialog input each.
var stepKinds = map[byte]dialog.InputKind{
	CbChoose: dialog.InChoose, CbToggle: dialog.InToggle, CbDone: dialog.InDone,
	CbBack: dialog.InBack, CbSkip: dialog.InSkip, CbAck: dialog.InChoose,
}

type routeFunc func(t *turn, ctx context.Context, cb Callback) (Outcome, error)

// respondentRoutes handles every respondent row and CbStaff (which hands
// the staff rows to Config.Staff).
func respondentRoutes() map[byte]routeFunc {
	m := map[byte]routeFunc{
		CbLanguage: (*turn).languageButton,
		CbDelete: func(t *turn, ctx context.Context, cb Callback) (Outcome, error) {
			return t.delete(ctx, cb.Option == "yes")
		},
		CbPage: (*turn).page,
		CbServices: func(t *turn, ctx context.Context, cb Callback) (Outcome, error) {
			return t.serviceArea(ctx, cb.Option)
		},
		CbRemind: func(t *turn, ctx context.Context, cb Callback) (Outcome, error) {
			return t.reminderButton(ctx, cb.Option)
		},
		CbStaff: (*turn).staffButton,
	}
	for k := range stepKinds {
		m[k] = (*turn).stepButton
	}
	return m
}

func (t *turn) callback(ctx context.Context) (Outcome, error) {
	cb, err := DecodeCallback(t.ev.data)
	var route routeFunc
	if err == nil {
		route = respondentTable()[cb.Kind]
	}
	if route == nil {
		// Forged or foreign data: a gentle notice and the current question.
		t.refuseTap(ctx)
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	}
	return route(t, ctx, cb)
}

func (t *turn) languageButton(ctx context.Context, cb Callback) (Outcome, error) {
	ev := t.ev
	if cb.Option == pageOption {
		// Turn the menu's page: the same message, the other keys.
		if ev.msgID != 0 {
			m := t.languagePage(ctx, min(cb.Pos, 1))
			t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Keyboard: m.Keyboard}, kbOnly: true})
		}
		return t.finish(ctx)
	}
	if _, ok := t.snap.Catalog.Language(cb.Option); !ok || !t.snap.Speaks(t.formID(), cb.Option) {
		if !claimNotice(ctx) {
			// The button's answer went out empty already (early.go): a
			// language this form no longer speaks — published again
			// without it since the menu was shown — is refused in a
			// message instead.
			t.say(ctx, dialog.MsgStale)
			return t.finish(ctx)
		}
		t.notice = t.r.Plain(t.lang, dialog.MsgStale, nil)
		return t.finish(ctx)
	}
	// The menu's message is settled: show the chosen language.
	if ev.msgID != 0 {
		l, _ := t.snap.Catalog.Language(cb.Option)
		t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Text: "🌐 " + l.Name}})
	}
	eff, err := t.it.ChooseLanguage(ctx, cb.Option)
	if err != nil {
		return Outcome{}, err
	}
	return t.show(ctx, eff)
}

func (t *turn) staffButton(ctx context.Context, cb Callback) (Outcome, error) {
	h, ev := t.h, t.ev
	if h.cfg.Staff != nil {
		sctx, sent := countNewMessages(ctx, ev.chat)
		req := t.request()
		ok, err := h.cfg.Staff.Callback(sctx, req, cb, ev.query, ev.msgID)
		if err != nil {
			return Outcome{}, err
		}
		if ok {
			t.answered = true // the staff handler answered it
			return t.staffDone(ctx, req, false, sent.Load())
		}
	}
	return t.refuseMenuTap(ctx)
}

// refuseTap tells the person why a tap did nothing (a stale, forged or
// foreign button): in the callback's answer while it can carry a notice
// (claimNotice); a tap answered before its turn — early by polling, "one
// moment" in an outage, empty when its webhook hold expired — gets the
// notice on the question card instead, which the caller shows (it steps
// the interview, or askBelow), or, with no question to show, a short
// message of its own. Before, the notice was lost with the answer: the
// card came back as it was, or nothing happened at all.
func (t *turn) refuseTap(ctx context.Context) {
	if claimNotice(ctx) {
		t.notice = t.r.Plain(t.lang, dialog.MsgStale, nil)
		return
	}
	if t.form != nil && t.state.Phase == dialog.PhaseAsking {
		t.note(dialog.MsgStale, true)
		return
	}
	t.say(ctx, MsgTapStale)
}

// refuseMenuTap is refuseTap for a button of a menu (staff, /services):
// a notice that goes on the card brings the question below the menu.
func (t *turn) refuseMenuTap(ctx context.Context) (Outcome, error) {
	t.refuseTap(ctx)
	if len(t.lead) > 0 {
		return t.askBelow(ctx)
	}
	return t.finish(ctx)
}

func (t *turn) stepButton(ctx context.Context, cb Callback) (Outcome, error) {
	t.cbPos = cb.Pos
	in := dialog.Input{Kind: stepKinds[cb.Kind], Option: cb.Option, Button: true, Pos: cb.Pos, Seq: cb.Seq}
	if cb.Kind == CbBack || cb.Kind == CbSkip {
		// Navigation keys are checked for staleness too.
		in.Option = ""
	}
	return t.step(ctx, in, true)
}

// newMessagesKey marks a context whose new messages to one chat
// (sendMessage, sendPhoto, sendDocument that went through) are counted:
// staffButton learns whether a staff handler's button sent any.
type newMessagesKey struct{}

type newMessages struct {
	chat int64
	n    atomic.Int32
}

// countNewMessages returns ctx counting the new messages sent to chat with
// it (Sender.do), and the count.
func countNewMessages(ctx context.Context, chat int64) (context.Context, *atomic.Int32) {
	c := &newMessages{chat: chat}
	return context.WithValue(ctx, newMessagesKey{}, c), &c.n
}

// noteNewMessage counts a new message sent to chat with ctx, if counted.
func noteNewMessage(ctx context.Context, chat int64) {
	if c, _ := ctx.Value(newMessagesKey{}).(*newMessages); c != nil && c.chat == chat {
		c.n.Add(1)
	}
}
