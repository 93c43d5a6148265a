// Package menu is the toolkit of the staff menus and wizards: the staff
// rows of the one routing table of callback data (Routes, a view of
// bot.Routes, which holds the respondents' rows too), a typed codec for the
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
// Option. The routes are rows of the one routing table of callback data,
// bot.Routes(), with the respondents' buttons: no prefix there is a
// prefix of another (tests in bot and here check it).
type Route string

// The routes of staff buttons.
const (
	Link         Route = bot.StaffLink         // staff link wizard
	Invite       Route = bot.StaffInvite       // respondent invite wizard
	RevokeStaff  Route = bot.StaffRevokeMember // revoke a member: ask, then do
	RevokeInvite Route = bot.StaffRevokeInvite // revoke an invite: ask, then do
	Poster       Route = bot.StaffPoster       // send an invite's poster again
	Cancel       Route = bot.StaffCancel       // close a menu
	Directory    Route = bot.StaffDirectory    // the service directory (issue 16)
	Results      Route = bot.StaffResults      // /results and /export (package results)
	Forms        Route = bot.StaffForms        // publish a workbook an admin sent (issue 13)
)

// Entry is one staff row of the routing table.
type Entry struct {
	Route Route
	// Need is the least role a button of this route needs; the handler
	// still checks scope.
	Need org.Role
	What string // for people reading the table
}

// Routes returns the staff rows of the routing table (bot.Routes), as a
// fresh slice.
func Routes() []Entry {
	var out []Entry
	for _, r := range bot.Routes() {
		if r.Staff {
			out = append(out, Entry{Route: Route(r.StaffRoute()), Need: r.Need, What: r.What})
		}
	}
	return out
}

// entries is Routes, built once (Lookup runs on every staff button).
var entries = Routes()

// Lookup finds the route of a staff button's Option and returns the rest
// (the payload).
func Lookup(opt string) (Entry, string, bool) {
	for _, e := range entries {
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
