// Package staff is needsbot's side for municipal staff: roles (admin,
// manager, operator) and their scope, enrolment through single-use staff
// links, respondent invites with QR posters, and the dispatch of staff
// commands and buttons, checking role and scope on every use.
//
// Tokens are secrets and never rest in the database: staff links are
// random and stored as their SHA-256; a respondent invite's token is
// derived from its id with a key the database does not hold (so its poster
// can be printed again) and stored as its SHA-256 too. Interviews name
// their invite by id. Bad tokens are rate limited per user before any
// lookup.
package staff

import (
	"context"

	"github.com/needsbot/needsbot/bot"
)

// Role is a staff member's role.
type Role string

// Roles, from the widest scope to the narrowest.
const (
	RoleAdmin    Role = "admin"    // every municipality
	RoleManager  Role = "manager"  // one municipality: results, exports, staff
	RoleOperator Role = "operator" // one municipality (optionally one service): invites
)

// Member is an enrolled, not revoked, staff member.
type Member struct {
	ID             int64 // staff id in Postgres
	TelegramUserID int64
	Role           Role
	MunicipalityID int64 // 0 for admins
	ServiceID      int64 // 0 when not bound to a service
	Name           string
}

// Can reports whether m may act on municipality (0 = all municipalities,
// which only admins may).
func (m Member) Can(municipality int64) bool {
	if m.Role == RoleAdmin {
		return true
	}
	return municipality != 0 && municipality == m.MunicipalityID
}

// Results answers /results and /export and their buttons (package
// results implements it). The staff dispatcher has already checked that m
// is a manager or admin; Results still scopes every query to what m.Can.
// Callback payloads it receives are the part after "r:" in a CbStaff
// button's Option, and the buttons it makes must carry "r:" + payload.
type Results interface {
	Command(ctx context.Context, r *bot.Request, m Member, name, args string) error
	Callback(ctx context.Context, r *bot.Request, m Member, payload, queryID string, msgID int) error
}
