// Package menu is the toolkit of the staff menus and wizards: the one
// routing table of staff button data (Routes), a typed codec for the
// fields a button carries (Enc, Dec, Opt: no -1 sentinels), checked
// against Telegram's 64 bytes, and wizards made of steps (Wizard) with
// buttons, Back and Cancel, and typed-input steps answered by replying to
// the menu message.
//
// Menus keep no state on the server: a button carries the whole draft,
// and every press is checked again against the member's role and scope by
// whoever handles its route. Package staff dispatches the routes; package
// results makes the buttons of its own route with Key.
package menu

import (
	"errors"
	"strings"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/org"
)

// Route is what a staff button does: the first bytes of its CbStaff
// Option. No route is a prefix of another (a test checks it).
type Route string

// The routes of staff buttons.
const (
	Link         Route = "L"  // staff link wizard
	Invite       Route = "I"  // respondent invite wizard
	RevokeStaff  Route = "X"  // revoke a member: ask, then do
	RevokeInvite Route = "V"  // revoke an invite: ask, then do
	Poster       Route = "P"  // send an invite's poster again
	Cancel       Route = "C"  // close a menu
	Directory    Route = "D"  // the service directory (issue 16)
	Results      Route = "r:" // /results and /export (package results)
	Forms        Route = "F"  // publish a workbook an admin sent (issue 13)
)

// Entry is one row of the routing table.
type Entry struct {
	Route Route
	// Need is the least role a button of this route needs; the handler
	// still checks scope.
	Need org.Role
	What string // for people reading the table
}

// Routes returns the routing table of staff buttons, as a fresh slice.
func Routes() []Entry {
	return []Entry{
		{Link, org.RoleManager, "staff link wizard (/staff, /stafflink)"},
		{Invite, org.RoleOperator, "respondent invite wizard (/invite)"},
		{RevokeStaff, org.RoleManager, "revoke a staff member (/staff)"},
		{RevokeInvite, org.RoleOperator, "revoke an invite (/invites)"},
		{Poster, org.RoleOperator, "send an invite's poster again (/invites)"},
		{Cancel, org.RoleOperator, "close a menu"},
		{Directory, org.RoleManager, "service directory (/directory)"},
		{Results, org.RoleManager, "results views and exports (/results, /export)"},
		{Forms, org.RoleAdmin, "publish a questionnaire workbook sent as a document"},
	}
}

// Lookup finds the route of a staff button's Option and returns the rest
// (the payload).
func Lookup(opt string) (Entry, string, bool) {
	for _, e := range Routes() {
		if rest, ok := strings.CutPrefix(opt, string(e.Route)); ok {
			return e, rest, true
		}
	}
	return Entry{}, "", false
}

// ErrTooLong is button data over Telegram's 64 bytes.
var ErrTooLong = errors.New("menu: button data over 64 bytes")

// Data is the callback data of a staff button: route and payload.
func Data(r Route, payload string) (string, error) {
	d, err := bot.Callback{Kind: bot.CbStaff, Option: string(r) + payload}.Encode()
	if err != nil {
		return "", ErrTooLong
	}
	return d, nil
}

// Key makes a staff button.
func Key(label string, r Route, payload string) (bot.Key, error) {
	d, err := Data(r, payload)
	if err != nil {
		return bot.Key{}, err
	}
	return bot.Key{Text: label, Data: d}, nil
}
