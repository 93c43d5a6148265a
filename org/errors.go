package org

// Error is a domain error that stores report and consumers decide with
// errors.Is. It is a constant (a string type), so no importer can change
// what a sentinel means.
type Error string

func (e Error) Error() string { return string(e) }

// The errors of lookups, staff links and invites.
const (
	// ErrNotFound: a looked-up row does not exist (or is outside the
	// caller's scope).
	ErrNotFound Error = "not found"
	// ErrExists: adding something that already exists (a municipality's
	// ISTAT code, a service code).
	ErrExists Error = "already exists"
	// ErrInvalid: data a store refuses (a bad code, a broken reference).
	ErrInvalid Error = "invalid data"
	// ErrExpired: the link or invite is past its expiry.
	ErrExpired Error = "expired"
	// ErrUsed: a single-use staff link was already used by someone else.
	ErrUsed Error = "already used"
	// ErrRevoked: the invite was revoked, or the staff link's creator no
	// longer has the right to enrol.
	ErrRevoked Error = "revoked"
	// ErrExhausted: the invite reached its maximum number of uses.
	ErrExhausted Error = "used up"
	// ErrAlreadyStaff: whoever opened a staff link is already active staff
	// (a role is never changed by a link; revoke first).
	ErrAlreadyStaff Error = "already staff"
)
