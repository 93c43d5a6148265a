// Package org holds the domain types of the organisation that runs
// needsbot, below every feature: municipalities and their services, staff
// members and their roles, staff links and respondent invites, and the
// errors their stores report. It has no I/O and depends on the standard
// library only, so that staff, results, the application core and storage
// can all speak of the same things; each consumer declares the small
// interface it needs of a store.
package org

import (
	"bytes"
	"crypto/sha256"
	"time"
)

// Role is a staff member's role.
type Role string

// Roles, from the widest scope to the narrowest.
const (
	RoleAdmin    Role = "admin"    // every municipality
	RoleManager  Role = "manager"  // one municipality: results, exports, staff, directory
	RoleOperator Role = "operator" // one municipality (optionally one service): invites
)

// Level orders roles by scope: admin 3, manager 2, operator 1, anything
// else 0.
func (r Role) Level() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleManager:
		return 2
	case RoleOperator:
		return 1
	}
	return 0
}

// AtLeast reports whether r is need or a wider role (never for an unknown
// role or an unknown need).
func (r Role) AtLeast(need Role) bool { return need.Level() > 0 && r.Level() >= need.Level() }

// Member is an enrolled, not revoked, staff member acting now.
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

// Municipality is a municipality and how many services it has.
type Municipality struct {
	ID       int64
	ISTAT    string
	Name     string
	Services int
}

// Service is a service (desk, course…) of a municipality.
type Service struct {
	ID             int64
	MunicipalityID int64
	Code           string
	Name           string
}

// Staff is a staff member as stored, with the names of their municipality
// and service for listings.
type Staff struct {
	ID               int64
	TelegramUserID   int64
	Role             string
	MunicipalityID   int64 // 0 for admins
	ServiceID        int64 // 0 when not bound to a service
	Name             string
	MunicipalityName string
	ServiceName      string
	CreatedAt        time.Time
	Revoked          bool
}

// Member is the acting member a stored staff record stands for.
func (s Staff) Member() Member {
	return Member{ID: s.ID, TelegramUserID: s.TelegramUserID, Role: Role(s.Role), MunicipalityID: s.MunicipalityID,
		ServiceID: s.ServiceID, Name: s.Name}
}

// StaffLink is a single-use invitation to become staff.
type StaffLink struct {
	ID             int64
	Token          string // the secret; only its hash (HashToken) is stored
	Role           string
	MunicipalityID int64 // 0 for admin links
	ServiceID      int64 // 0: any service
	CreatedBy      int64 // staff id; 0 for the command line
	ExpiresAt      time.Time
}

// Claim is the outcome of opening a staff link.
type Claim struct {
	Staff     Staff
	CreatedBy int64 // who made the link (staff id), 0 for the command line
	// Again is set when the link had already been used by this same
	// person (a repeated tap, a redelivered update): nothing changed.
	Again bool
}

// HashToken is how invite and staff-link tokens are stored and looked
// up: their SHA-256. The token itself is never written to the database (a
// dump or a backup must not open invites or make staff); tokens carry 120
// bits or more of randomness, so the hash cannot be reversed by guessing.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Invite is a respondent invite: a link (and QR code) bound to a
// questionnaire, a municipality, optionally a service, and the staff member
// who made it.
type Invite struct {
	ID int64
	// Token is the secret of the link, known only when the caller has it
	// (CreateInvite keeps the one it was given); the database holds only
	// TokenHash.
	Token          string
	TokenHash      []byte
	Form           string
	MunicipalityID int64
	ServiceID      int64 // 0: no particular service
	OperatorID     int64 // staff id of the creator; 0 for none
	Label          string
	ExpiresAt      time.Time // zero: never
	MaxUses        int       // 0: unlimited
	Uses           int       // accepted opens ("started")
	Completed      int       // responses recorded through it (listings only)
	Revoked        bool
	// OperatorGone is set when the staff member who made the invite was
	// revoked, or re-enrolled or moved since: the invite no longer opens.
	OperatorGone     bool
	CreatedAt        time.Time
	MunicipalityName string
	ServiceCode      string
	ServiceName      string
}

// TokenMatches reports whether token is this invite's token (its hash is
// the stored one).
func (i Invite) TokenMatches(token string) bool {
	return token != "" && bytes.Equal(HashToken(token), i.TokenHash)
}

// Status is the invite's state at now: "active", "revoked", "expired" or
// "exhausted".
func (i Invite) Status(now time.Time) string {
	switch {
	case i.Revoked, i.OperatorGone:
		return "revoked"
	case !i.ExpiresAt.IsZero() && !now.Before(i.ExpiresAt):
		return "expired"
	case i.MaxUses > 0 && i.Uses >= i.MaxUses:
		return "exhausted"
	}
	return "active"
}

// InviteFilter scopes invite listings and revocations: an operator's own
// invites, a municipality's, or (both 0) all of them.
type InviteFilter struct {
	OperatorID     int64
	MunicipalityID int64
	Limit          int // listings: most recent first, default 20
}
