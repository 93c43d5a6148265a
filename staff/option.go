package staff

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// Staff buttons carry everything they need in their CbStaff Option (the
// menus keep no server-side state): the route (menu.Routes) says what the
// button does, the rest is that action's fields, written with menu.Enc.
// Every field is re-checked against the member's role and scope in
// Postgres when the button is pressed.

// errOption marks button data that is malformed or not in canonical form
// (forged, or from another version).
var errOption = menu.ErrData

// maxLabel bounds an invite's label in bytes, so that it fits in the
// button data of every step (Telegram allows 64 bytes in all).
const maxLabel = 32

func b36(v int64) string { return strconv.FormatInt(v, 36) }

// linkDraft is a staff link being composed.
type linkDraft struct {
	Role org.Role // "" until chosen
	Muni menu.Opt // unset until chosen; never set for admin links
	Svc  menu.Opt // unset until chosen; 0: any service (operators only)
	Days int      // 0 until chosen
	Page int      // page of the municipality list
}

// roleCode is a role's one-letter code in button data ("" for none).
func roleCode(r org.Role) string {
	switch r {
	case org.RoleAdmin:
		return "a"
	case org.RoleManager:
		return "m"
	case org.RoleOperator:
		return "o"
	}
	return ""
}

func (d linkDraft) encode() string {
	var e menu.Enc
	return e.Code(roleCode(d.Role)).Opt(d.Muni).Opt(d.Svc).Int(int64(d.Days)).Int(int64(d.Page)).String()
}

func parseLink(payload string) (linkDraft, error) {
	dec := menu.NewDec(payload, 5)
	var d linkDraft
	code := dec.Code()
	for _, r := range []org.Role{org.RoleAdmin, org.RoleManager, org.RoleOperator} {
		if code == roleCode(r) {
			d.Role = r
		}
	}
	d.Muni, d.Svc = dec.Opt(), dec.Opt()
	d.Days, d.Page = int(dec.Int()), int(dec.Int())
	if err := dec.Err(); err != nil || d.Days > 1000 || d.Page > 1000 {
		return d, errOption
	}
	if d.encode() != payload {
		return d, errOption // not canonical: "01", an unknown role…
	}
	return d, nil
}

// inviteDraft is a respondent invite being composed.
type inviteDraft struct {
	Form  int      // 1-based index into the configured forms, 0 until chosen
	Muni  int64    // 0 until chosen
	Svc   menu.Opt // unset until chosen; 0: no particular service
	Valid menu.Opt // unset until chosen; 0: no expiry, else days
	Uses  menu.Opt // unset until chosen; 0: unlimited, else people
	Page  int      // page of the municipality list
	// Asked is set once the label was asked for and skipped (a label
	// given with /invite is never asked for).
	Asked bool
	Label string
}

func newInviteDraft(label string) inviteDraft { return inviteDraft{Label: label} }

func (d inviteDraft) encode() string {
	var e menu.Enc
	return e.Int(int64(d.Form)).Int(d.Muni).Opt(d.Svc).Opt(d.Valid).Opt(d.Uses).Int(int64(d.Page)).Flag(d.Asked).Text(d.Label).String()
}

func parseInvite(payload string) (inviteDraft, error) {
	dec := menu.NewDec(payload, 8)
	var d inviteDraft
	d.Form, d.Muni = int(dec.Int()), dec.Int()
	d.Svc, d.Valid, d.Uses = dec.Opt(), dec.Opt(), dec.Opt()
	d.Page, d.Asked, d.Label = int(dec.Int()), dec.Flag(), dec.Text()
	if err := dec.Err(); err != nil || d.Form > 1000 || d.Page > 1000 {
		return d, errOption
	}
	if cleanLabel(d.Label) != d.Label || d.encode() != payload {
		return d, errOption
	}
	return d, nil
}

// cleanLabel makes a label safe to carry and show: printable characters
// only, single spaces, at most maxLabel bytes (cut at a character).
func cleanLabel(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == utf8.RuneError
	}), " ")
	for len(s) > maxLabel {
		_, size := utf8.DecodeLastRuneInString(s)
		s = strings.TrimSpace(s[:len(s)-size])
	}
	return s
}

// idAction is "?12", "!12" (ask, do) under a revoke route, "5" or "!5"
// under menu.Poster: an action on one row.
type idAction struct {
	Confirm bool // "!" (do it) rather than "?" (ask); for Poster: print even a single-use invite
	ID      int64
	poster  bool
}

func (a idAction) encode() string {
	switch {
	case a.Confirm:
		return "!" + b36(a.ID)
	case a.poster:
		return b36(a.ID)
	}
	return "?" + b36(a.ID)
}

// parseIDAction parses the payload of a revoke or poster route.
func parseIDAction(payload string) (idAction, error) {
	var a idAction
	rest := payload
	switch {
	case strings.HasPrefix(rest, "!"):
		a.Confirm, rest = true, rest[1:]
	case strings.HasPrefix(rest, "?"):
		rest = rest[1:]
	default:
		a.poster = true
	}
	id, err := strconv.ParseInt(rest, 36, 64)
	a.ID = id
	if err != nil || id <= 0 || a.encode() != payload {
		return idAction{}, errOption
	}
	return a, nil
}
