package staff

import (
	"context"
	"time"

	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/org"
)

// The stores the staff side needs, each as small as its use; cmd wires
// storage/pgstore's DB into all of them, tests may fake any one. Errors
// are org's (org.ErrNotFound…), decided with errors.Is.

// Members finds staff members.
type Members interface {
	StaffByTelegram(ctx context.Context, userID int64) (org.Staff, error)
	StaffByID(ctx context.Context, id int64) (org.Staff, error)
	ListStaff(ctx context.Context, municipality int64) ([]org.Staff, error)
}

// Enrolment makes staff links, claims them and revokes members.
type Enrolment interface {
	CreateStaffLink(ctx context.Context, l org.StaffLink) (int64, error)
	ClaimStaffLink(ctx context.Context, token string, userID int64, name string, now time.Time) (org.Claim, error)
	RevokeStaff(ctx context.Context, actor, id, municipality int64) (org.Staff, error)
}

// Places looks municipalities and their services up.
type Places interface {
	Municipalities(ctx context.Context) ([]org.Municipality, error)
	Municipality(ctx context.Context, id int64) (org.Municipality, error)
	Services(ctx context.Context, municipality int64) ([]org.Service, error)
}

// Registry adds municipalities and services (admins) and looks them up by
// code.
type Registry interface {
	AddMunicipality(ctx context.Context, actor *int64, istat, name string) (org.Municipality, error)
	AddService(ctx context.Context, actor *int64, municipality int64, code, name string) (org.Service, error)
	MunicipalityID(ctx context.Context, istat string) (int64, error)
}

// ServiceLookup finds one service by id.
type ServiceLookup interface {
	Service(ctx context.Context, id int64) (org.Service, error)
}

// InviteMaker makes respondent invites and uses them.
type InviteMaker interface {
	NewInviteID(ctx context.Context) (int64, error)
	CreateInvite(ctx context.Context, inv org.Invite) (org.Invite, error)
	UseInvite(ctx context.Context, token string, now time.Time) (org.Invite, error)
}

// InviteList lists and revokes invites within a scope.
type InviteList interface {
	Invite(ctx context.Context, id int64, f org.InviteFilter) (org.Invite, error)
	Invites(ctx context.Context, f org.InviteFilter) ([]org.Invite, int, error)
	RevokeInvite(ctx context.Context, actor, id int64, f org.InviteFilter) (org.Invite, error)
}

// DirectoryEntries reads a municipality's service directory.
type DirectoryEntries interface {
	Directory(ctx context.Context, municipalityID int64, withHidden bool) ([]directory.Entry, error)
	DirectoryEntry(ctx context.Context, municipalityID, entryID int64) (directory.Entry, error)
}

// DirectoryEditor changes one entry of a municipality's directory,
// audit-logged under actor.
type DirectoryEditor interface {
	AddDirectoryEntry(ctx context.Context, actor *int64, municipalityID int64, e directory.Entry) (int64, error)
	UpdateDirectoryEntry(ctx context.Context, actor *int64, municipalityID int64, e directory.Entry, field string) error
	SetDirectoryHidden(ctx context.Context, actor *int64, municipalityID, entryID int64, hidden bool) error
}
