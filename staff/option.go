package staff

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Staff buttons carry everything they need in their CbStaff Option (the
// menus keep no server-side state): the first byte says what the button
// does, the rest is that action's fields. Every field is re-checked against
// the member's role and scope in Postgres when the button is pressed.
const (
	optLink         = 'L' // staff link wizard: linkDraft
	optInvite       = 'I' // invite wizard: inviteDraft
	optRevokeStaff  = 'X' // "X?" id: ask; "X!" id: revoke
	optRevokeInvite = 'V' // "V?" id: ask; "V!" id: revoke
	optPoster       = 'P' // "P" id: send an invite's poster again
	optCancel       = 'C' // close a menu
	optResults      = "r:"
)

// errOption marks button data that is malformed or not in canonical form
// (forged, or from another version).
var errOption = errors.New("staff: invalid button data")

// maxLabel bounds an invite's label in bytes, so that it fits in the
// button data of every step (Telegram allows 64 bytes in all).
const maxLabel = 32

func b36(v int64) string { return strconv.FormatInt(v, 36) }

// optional encodes v, with unset (the given sentinel) as "".
func optional(v, unset int64) string {
	if v == unset {
		return ""
	}
	return strconv.FormatInt(v, 36)
}

func parseOptional(s string, unset int64) (int64, error) {
	if s == "" {
		return unset, nil
	}
	v, err := strconv.ParseInt(s, 36, 64)
	if err != nil || v < 0 {
		return 0, errOption
	}
	return v, nil
}

// linkDraft is a staff link being composed.
type linkDraft struct {
	Role Role  // "" until chosen
	Muni int64 // 0 until chosen (and for admin links)
	Svc  int64 // -1 until chosen, 0: any service (operators only)
	Days int   // 0 until chosen
	Page int   // page of the municipality list
}

// roleCode is a role's one-letter code in button data ("" for none).
func roleCode(r Role) string {
	switch r {
	case RoleAdmin:
		return "a"
	case RoleManager:
		return "m"
	case RoleOperator:
		return "o"
	}
	return ""
}

func (d linkDraft) encode() string {
	var b strings.Builder
	b.WriteByte(optLink)
	b.WriteString(roleCode(d.Role))
	b.WriteByte('.')
	b.WriteString(optional(d.Muni, 0))
	b.WriteByte('.')
	b.WriteString(optional(d.Svc, -1))
	b.WriteByte('.')
	b.WriteString(optional(int64(d.Days), 0))
	b.WriteByte('.')
	b.WriteString(optional(int64(d.Page), 0))
	return b.String()
}

func parseLink(opt string) (linkDraft, error) {
	d := linkDraft{Svc: -1}
	f := strings.Split(strings.TrimPrefix(opt, string(optLink)), ".")
	if !strings.HasPrefix(opt, string(optLink)) || len(f) != 5 {
		return d, errOption
	}
	for _, r := range []Role{RoleAdmin, RoleManager, RoleOperator} {
		if f[0] == roleCode(r) {
			d.Role = r
		}
	}
	var err error
	var days, page int64
	if d.Muni, err = parseOptional(f[1], 0); err != nil {
		return d, err
	}
	if d.Svc, err = parseOptional(f[2], -1); err != nil {
		return d, err
	}
	if days, err = parseOptional(f[3], 0); err != nil {
		return d, err
	}
	if page, err = parseOptional(f[4], 0); err != nil {
		return d, err
	}
	d.Days, d.Page = int(days), int(page)
	if d.encode() != opt {
		return d, errOption // not canonical: "01", an unknown role…
	}
	return d, nil
}

// newLinkDraft is the empty draft ("L....").
func newLinkDraft() linkDraft { return linkDraft{Svc: -1} }

// inviteDraft is a respondent invite being composed.
type inviteDraft struct {
	Form  int   // 1-based index into the configured forms, 0 until chosen
	Muni  int64 // 0 until chosen
	Svc   int64 // -1 until chosen, 0: no particular service
	Valid int   // -1 until chosen, 0: no expiry, else days
	Uses  int   // -1 until chosen, 0: unlimited, else people
	Page  int   // page of the municipality list
	// Asked is set once the label was asked for and skipped (a label
	// given with /invite is never asked for).
	Asked bool
	Label string
}

func newInviteDraft(label string) inviteDraft {
	return inviteDraft{Svc: -1, Valid: -1, Uses: -1, Label: label}
}

func (d inviteDraft) encode() string {
	var b strings.Builder
	b.WriteByte(optInvite)
	b.WriteString(optional(int64(d.Form), 0))
	b.WriteByte('.')
	b.WriteString(optional(d.Muni, 0))
	b.WriteByte('.')
	b.WriteString(optional(d.Svc, -1))
	b.WriteByte('.')
	b.WriteString(optional(int64(d.Valid), -1))
	b.WriteByte('.')
	b.WriteString(optional(int64(d.Uses), -1))
	b.WriteByte('.')
	b.WriteString(optional(int64(d.Page), 0))
	b.WriteByte('.')
	if d.Asked {
		b.WriteByte('1')
	}
	b.WriteByte('.')
	b.WriteString(d.Label)
	return b.String()
}

func parseInvite(opt string) (inviteDraft, error) {
	d := newInviteDraft("")
	f := strings.SplitN(strings.TrimPrefix(opt, string(optInvite)), ".", 8)
	if !strings.HasPrefix(opt, string(optInvite)) || len(f) != 8 {
		return d, errOption
	}
	var v [7]int64
	unset := [7]int64{0, 0, -1, -1, -1, 0, 0}
	for i := range 7 {
		x, err := parseOptional(f[i], unset[i])
		if err != nil || x > 1<<40 {
			return d, errOption
		}
		v[i] = x
	}
	d.Form, d.Muni, d.Svc, d.Valid, d.Uses, d.Page = int(v[0]), v[1], v[2], int(v[3]), int(v[4]), int(v[5])
	d.Asked = v[6] == 1
	d.Label = f[7]
	if cleanLabel(d.Label) != d.Label || d.encode() != opt {
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

// idAction is "X?12", "X!12", "V?c", "P5", "P!5": an action on one row.
type idAction struct {
	Kind    byte
	Confirm bool // "!" (do it) rather than "?" (ask); for P: print even a single-use invite
	ID      int64
}

func (a idAction) encode() string {
	if a.Kind == optPoster {
		if a.Confirm {
			return string(optPoster) + "!" + b36(a.ID)
		}
		return string(optPoster) + b36(a.ID)
	}
	mark := "?"
	if a.Confirm {
		mark = "!"
	}
	return string(a.Kind) + mark + b36(a.ID)
}

func parseIDAction(opt string) (idAction, error) {
	if len(opt) < 2 {
		return idAction{}, errOption
	}
	a := idAction{Kind: opt[0]}
	rest := opt[1:]
	if a.Kind != optPoster {
		if len(rest) < 2 || (rest[0] != '?' && rest[0] != '!') {
			return a, errOption
		}
		a.Confirm, rest = rest[0] == '!', rest[1:]
	} else if len(rest) >= 2 && rest[0] == '!' {
		a.Confirm, rest = true, rest[1:]
	}
	id, err := strconv.ParseInt(rest, 36, 64)
	a.ID = id
	if err != nil || id <= 0 || a.encode() != opt {
		return idAction{}, errOption
	}
	return a, nil
}
