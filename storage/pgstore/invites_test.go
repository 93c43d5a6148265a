package pgstore_test

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

func TestInviteLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	roma, anagrafe := e.municipality(t, "058091", "anagrafe")
	milano, milanoSvc := e.municipality(t, "015146", "anagrafe")
	admin, _, _ := e.db.EnsureAdmin(ctx, 1)
	op := e.enrol(t, admin.ID, pgstore.RoleOperator, roma, 0, 2)

	inv, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "tokenAAAAAAAAAAAAAAA", Form: "immigrati", MunicipalityID: roma,
		ServiceID: *anagrafe, OperatorID: op.ID, Label: "Desk 1", ExpiresAt: now.Add(24 * time.Hour), MaxUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	if inv.ID == 0 || inv.ServiceCode != "anagrafe" || inv.ServiceName != "Anagrafe" || inv.MunicipalityName != "Roma" ||
		inv.MaxUses != 2 || inv.Uses != 0 || inv.Status(now) != "active" {
		t.Fatalf("created = %+v", inv)
	}
	// A service of another municipality is refused by the schema.
	if _, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "tokenBBBBBBBBBBBBBBBB", Form: "immigrati", MunicipalityID: roma,
		ServiceID: *milanoSvc}); !errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("foreign service: %v", err)
	}
	for i := 1; i <= 2; i++ {
		got, err := e.db.UseInvite(ctx, "tokenAAAAAAAAAAAAAAA", now)
		if err != nil || got.Uses != i || got.ServiceCode != "anagrafe" || got.OperatorID != op.ID || got.Form != "immigrati" {
			t.Fatalf("use %d = %+v, %v", i, got, err)
		}
	}
	if _, err := e.db.UseInvite(ctx, "tokenAAAAAAAAAAAAAAA", now); !errors.Is(err, pgstore.ErrExhausted) {
		t.Fatalf("third use: %v, want ErrExhausted", err)
	}
	if _, err := e.db.UseInvite(ctx, "tokenAAAAAAAAAAAAAAA", now.Add(48*time.Hour)); !errors.Is(err, pgstore.ErrExpired) {
		t.Fatalf("use after expiry: %v, want ErrExpired", err)
	}
	if _, err := e.db.UseInvite(ctx, "nope", now); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}

	open, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "tokenCCCCCCCCCCCCCCCC", Form: "operatori", MunicipalityID: roma, OperatorID: op.ID})
	if err != nil {
		t.Fatal(err)
	}
	if open.ServiceID != 0 || !open.ExpiresAt.IsZero() || open.MaxUses != 0 {
		t.Fatalf("unlimited invite = %+v", open)
	}
	for range 5 {
		if _, err := e.db.UseInvite(ctx, "tokenCCCCCCCCCCCCCCCC", now.Add(1000*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	other, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "tokenDDDDDDDDDDDDDDDD", Form: "immigrati", MunicipalityID: milano, OperatorID: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Two completed responses through the first invite.
	for _, id := range []string{"r1", "r2"} {
		c := e.completed(t, id, "p-"+id)
		c.MunicipalityID, c.ServiceID, c.Invite, c.OperatorID = roma, anagrafe, strconv.FormatInt(inv.ID, 10), &op.ID
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	// Scopes of the listing.
	list := func(f pgstore.InviteFilter) []int64 {
		t.Helper()
		invs, total, err := e.db.Invites(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, i := range invs {
			ids = append(ids, i.ID)
			if i.ID == inv.ID && (i.Completed != 2 || i.Uses != 2) {
				t.Errorf("invite counts: started %d completed %d, want 2 and 2", i.Uses, i.Completed)
			}
		}
		if f.Limit == 0 && total != len(ids) {
			t.Errorf("total %d for %d listed", total, len(ids))
		}
		return ids
	}
	if ids := list(pgstore.InviteFilter{OperatorID: op.ID}); len(ids) != 2 || ids[0] != open.ID || ids[1] != inv.ID {
		t.Fatalf("operator's invites = %v", ids)
	}
	if ids := list(pgstore.InviteFilter{MunicipalityID: milano}); len(ids) != 1 || ids[0] != other.ID {
		t.Fatalf("Milano's invites = %v", ids)
	}
	if ids := list(pgstore.InviteFilter{}); len(ids) != 3 {
		t.Fatalf("all invites = %v", ids)
	}
	if invs, total, _ := e.db.Invites(ctx, pgstore.InviteFilter{Limit: 1}); len(invs) != 1 || total != 3 {
		t.Fatalf("limited listing: %d of %d", len(invs), total)
	}
	if got, err := e.db.Invite(ctx, inv.ID, pgstore.InviteFilter{MunicipalityID: roma}); err != nil || got.Completed != 2 {
		t.Fatalf("Invite = %+v, %v", got, err)
	}
	if _, err := e.db.Invite(ctx, inv.ID, pgstore.InviteFilter{MunicipalityID: milano}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("out-of-scope Invite: %v", err)
	}

	// Revocation within scope only.
	if _, err := e.db.RevokeInvite(ctx, admin.ID, open.ID, pgstore.InviteFilter{MunicipalityID: milano}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("out-of-scope revoke: %v", err)
	}
	if _, err := e.db.RevokeInvite(ctx, 0, open.ID, pgstore.InviteFilter{OperatorID: admin.ID}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoking someone else's invite: %v", err)
	}
	rev, err := e.db.RevokeInvite(ctx, op.ID, open.ID, pgstore.InviteFilter{OperatorID: op.ID})
	if err != nil || !rev.Revoked || rev.Status(now) != "revoked" {
		t.Fatalf("revoke = %+v, %v", rev, err)
	}
	if _, err := e.db.RevokeInvite(ctx, op.ID, open.ID, pgstore.InviteFilter{}); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := e.db.UseInvite(ctx, "tokenCCCCCCCCCCCCCCCC", now); !errors.Is(err, pgstore.ErrRevoked) {
		t.Fatalf("revoked invite: %v", err)
	}
	if n := e.audits(t, "invite.create"); n != 3 {
		t.Errorf("%d invite.create entries, want 3", n)
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'invite.revoke' AND actor_id = $1", op.ID); n != 1 {
		t.Errorf("revoke not audited")
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%token%'"); n != 0 {
		t.Error("an invite token reached the audit log")
	}
}

// Concurrent opens never exceed max_uses.
func TestUseInviteConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, _ := e.municipality(t, "058091", "anagrafe")
	if _, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "raceRACEraceRACErace", Form: "immigrati", MunicipalityID: roma, MaxUses: 50}); err != nil {
		t.Fatal(err)
	}
	var ok, exhausted atomic.Int32
	var wg sync.WaitGroup
	for range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.db.UseInvite(ctx, "raceRACEraceRACErace", time.Now())
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, pgstore.ErrExhausted):
				exhausted.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 50 || exhausted.Load() != 30 {
		t.Fatalf("%d uses admitted, %d refused; want 50 and 30", ok.Load(), exhausted.Load())
	}
	if n := e.count(t, "SELECT uses FROM invites WHERE token_hash = sha256('raceRACEraceRACErace')"); n != 50 {
		t.Fatalf("uses = %d", n)
	}
}

// An invite is worth what its maker may still do: revoking the operator
// disables it (UseInvite refuses it, listings say revoked), and it
// stays disabled when the same person is enrolled again later.
func TestInviteOfRevokedOperator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	roma, _ := e.municipality(t, "058091", "anagrafe")
	admin, _, _ := e.db.EnsureAdmin(ctx, 1)
	op := e.enrol(t, admin.ID, pgstore.RoleOperator, roma, 0, 2)
	inv, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "operatorOperatorOper", Form: "immigrati", MunicipalityID: roma, OperatorID: op.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.db.CreateInvite(ctx, pgstore.Invite{Token: "adminAdminAdminAdmin", Form: "immigrati", MunicipalityID: roma, OperatorID: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.UseInvite(ctx, "operatorOperatorOper", now); err != nil {
		t.Fatalf("active operator's invite: %v", err)
	}
	if _, err := e.db.RevokeStaff(ctx, admin.ID, op.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.UseInvite(ctx, "operatorOperatorOper", now); !errors.Is(err, pgstore.ErrRevoked) {
		t.Fatalf("revoked operator's invite: %v, want ErrRevoked", err)
	}
	got, err := e.db.Invite(ctx, inv.ID, pgstore.InviteFilter{})
	if err != nil || got.Status(now) != "revoked" || got.Uses != 1 {
		t.Fatalf("listed: %+v %v", got, err)
	}
	// Other invites live on.
	if _, err := e.db.UseInvite(ctx, "adminAdminAdminAdmin", now); err != nil {
		t.Fatalf("the admin's invite: %v", err)
	}
	// Enrolled again: the old invite stays dead.
	if again := e.enrol(t, admin.ID, pgstore.RoleOperator, roma, 0, 2); again.ID != op.ID || again.Revoked {
		t.Fatalf("re-enrolled: %+v", again)
	}
	if _, err := e.db.UseInvite(ctx, "operatorOperatorOper", now); !errors.Is(err, pgstore.ErrRevoked) {
		t.Fatalf("invite made before the operator's re-enrolment: %v, want ErrRevoked", err)
	}
}
