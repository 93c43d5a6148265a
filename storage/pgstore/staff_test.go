package pgstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

func (e *env) audits(t testing.TB, action string) int {
	t.Helper()
	return e.count(t, "SELECT count(*) FROM audit_log WHERE action = $1", action)
}

func TestMunicipalitiesAndServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, _, err := e.db.EnsureAdmin(ctx, 9001)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.db.AddMunicipality(ctx, &admin.ID, "048017", "Firenze")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AddMunicipality(ctx, nil, "048017", "Firenze again"); !errors.Is(err, pgstore.ErrExists) {
		t.Fatalf("duplicate ISTAT code: %v, want ErrExists", err)
	}
	for _, bad := range [][2]string{{"48017", "Firenze"}, {"04801x", "Firenze"}, {"048018", ""}} {
		if _, err := e.db.AddMunicipality(ctx, nil, bad[0], bad[1]); !errors.Is(err, pgstore.ErrInvalid) {
			t.Errorf("AddMunicipality(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
	s, err := e.db.AddService(ctx, nil, m.ID, "sportello_immigrati", "Sportello immigrati")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AddService(ctx, nil, m.ID, "sportello_immigrati", "x"); !errors.Is(err, pgstore.ErrExists) {
		t.Fatalf("duplicate service: %v", err)
	}
	for _, bad := range []struct {
		muni       int64
		code, name string
	}{{m.ID, "Bad Code", "x"}, {m.ID, "ok", ""}, {999999, "ok", "x"}} {
		if _, err := e.db.AddService(ctx, nil, bad.muni, bad.code, bad.name); !errors.Is(err, pgstore.ErrInvalid) {
			t.Errorf("AddService(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	all, err := e.db.Municipalities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range all {
		names = append(names, x.Name)
		if x.ISTAT == "048017" && x.Services != 1 {
			t.Errorf("Firenze has %d services, want 1", x.Services)
		}
	}
	if len(all) != 4 || names[0] != "Firenze" || names[3] != "Roma" {
		t.Fatalf("municipalities = %v", names)
	}
	got, err := e.db.Municipality(ctx, m.ID)
	if err != nil || got.ISTAT != "048017" || got.Name != "Firenze" {
		t.Fatalf("Municipality = %+v, %v", got, err)
	}
	if _, err := e.db.Municipality(ctx, 999999); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("unknown municipality: %v", err)
	}
	svcs, err := e.db.Services(ctx, m.ID)
	if err != nil || len(svcs) != 1 || svcs[0].ID != s.ID {
		t.Fatalf("Services = %+v, %v", svcs, err)
	}
	if sv, err := e.db.Service(ctx, s.ID); err != nil || sv.Code != "sportello_immigrati" || sv.MunicipalityID != m.ID {
		t.Fatalf("Service = %+v, %v", sv, err)
	}
	if n := e.audits(t, "municipality.add"); n != 1 {
		t.Errorf("%d municipality.add audit entries, want 1", n)
	}
	if n := e.audits(t, "service.add"); n != 1 {
		t.Errorf("%d service.add audit entries, want 1", n)
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'municipality.add' AND actor_id = $1", admin.ID); n != 1 {
		t.Errorf("municipality.add not attributed to the admin")
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, changed, err := e.db.EnsureAdmin(ctx, 42)
	if err != nil || !changed || s.Role != pgstore.RoleAdmin || s.TelegramUserID != 42 || s.MunicipalityID != 0 {
		t.Fatalf("first EnsureAdmin = %+v %v %v", s, changed, err)
	}
	again, changed, err := e.db.EnsureAdmin(ctx, 42)
	if err != nil || changed || again.ID != s.ID {
		t.Fatalf("second EnsureAdmin = %+v %v %v (want unchanged)", again, changed, err)
	}
	if n := e.audits(t, "staff.bootstrap"); n != 1 {
		t.Fatalf("%d bootstrap entries after a restart, want 1", n)
	}
	// Revoked in Telegram but still in NEEDSBOT_ADMIN_IDS: a restart does
	// not reinstate them (a stolen account stays out)…
	if _, err := e.db.RevokeStaff(ctx, 0, s.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.StaffByTelegram(ctx, 42); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoked admin still active: %v", err)
	}
	for range 2 { // two restarts
		kept, changed, err := e.db.EnsureAdmin(ctx, 42)
		if !errors.Is(err, pgstore.ErrRevoked) || changed || kept.ID != s.ID || !kept.Revoked {
			t.Fatalf("revoked admin at restart = %+v %v %v, want left revoked", kept, changed, err)
		}
	}
	if _, err := e.db.StaffByTelegram(ctx, 42); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoked admin reinstated by a restart: %v", err)
	}
	if n := e.audits(t, "staff.bootstrap"); n != 1 {
		t.Fatalf("%d bootstrap entries, want 1", n)
	}
	// …only a staff link brings them back.
	if back := e.enrol(t, 0, pgstore.RoleAdmin, 0, 0, 42); back.ID != s.ID || back.Revoked || back.Role != pgstore.RoleAdmin {
		t.Fatalf("re-enrolled = %+v", back)
	}
	if again, changed, err := e.db.EnsureAdmin(ctx, 42); err != nil || changed || again.Revoked {
		t.Fatalf("EnsureAdmin after re-enrolment = %+v %v %v", again, changed, err)
	}
	// A revoked manager listed as admin is not promoted either.
	romaM, _ := e.municipality(t, "058091", "anagrafe")
	gone := e.enrol(t, 0, pgstore.RoleManager, romaM, 0, 44)
	if _, err := e.db.RevokeStaff(ctx, 0, gone.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.EnsureAdmin(ctx, 44); !errors.Is(err, pgstore.ErrRevoked) {
		t.Fatalf("revoked manager listed as admin: %v", err)
	}
	// A manager listed as admin is promoted.
	roma, _ := e.municipality(t, "058091", "anagrafe")
	mgr := e.enrol(t, 0, pgstore.RoleManager, roma, 0, 43)
	promoted, changed, err := e.db.EnsureAdmin(ctx, 43)
	if err != nil || !changed || promoted.ID != mgr.ID || promoted.Role != pgstore.RoleAdmin || promoted.MunicipalityID != 0 {
		t.Fatalf("promoted = %+v %v %v", promoted, changed, err)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'staff.bootstrap' AND detail->>'previous_role' = 'manager'`); n != 1 {
		t.Fatal("promotion not audited with the previous role")
	}
}

// enrol makes a staff member through a staff link created by creator (0 =
// command line).
func (e *env) enrol(t testing.TB, creator int64, role string, muni, svc, user int64) pgstore.Staff {
	t.Helper()
	tok := "tok_" + role + "_" + time.Now().Format("150405.000000000")
	if _, err := e.db.CreateStaffLink(ctx, pgstore.StaffLink{Token: tok, Role: role, MunicipalityID: muni, ServiceID: svc,
		CreatedBy: creator, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c, err := e.db.ClaimStaffLink(ctx, tok, user, "Name", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Staff
}

func TestStaffLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	roma, anagrafe := e.municipality(t, "058091", "anagrafe")
	milano, _ := e.municipality(t, "015146", "anagrafe")
	admin, _, _ := e.db.EnsureAdmin(ctx, 1)
	mgr := e.enrol(t, admin.ID, pgstore.RoleManager, roma, 0, 2)
	if mgr.Role != pgstore.RoleManager || mgr.MunicipalityID != roma || mgr.MunicipalityName != "Roma" {
		t.Fatalf("manager = %+v", mgr)
	}
	link := func(tok, role string, muni, svc, by int64, exp time.Time) {
		t.Helper()
		if _, err := e.db.CreateStaffLink(ctx, pgstore.StaffLink{Token: tok, Role: role, MunicipalityID: muni, ServiceID: svc, CreatedBy: by, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	link("operator-link-0001", pgstore.RoleOperator, roma, *anagrafe, mgr.ID, now.Add(time.Hour))
	link("expired-link-00001", pgstore.RoleOperator, roma, 0, mgr.ID, now.Add(-time.Second))
	link("milano-link-000001", pgstore.RoleOperator, milano, 0, mgr.ID, now.Add(time.Hour)) // forged scope
	link("admin-link-0000001", pgstore.RoleAdmin, 0, 0, 0, now.Add(time.Hour))

	c, err := e.db.ClaimStaffLink(ctx, "operator-link-0001", 3, "Olga", now)
	if err != nil {
		t.Fatal(err)
	}
	op := c.Staff
	if op.Role != pgstore.RoleOperator || op.MunicipalityID != roma || op.ServiceID != *anagrafe || op.Name != "Olga" ||
		op.ServiceName != "Anagrafe" || c.CreatedBy != mgr.ID || c.Again {
		t.Fatalf("claim = %+v", c)
	}
	// The same person again (double tap, redelivery): nothing changes.
	if c2, err := e.db.ClaimStaffLink(ctx, "operator-link-0001", 3, "Olga", now); err != nil || !c2.Again || c2.Staff.ID != op.ID {
		t.Fatalf("repeated claim = %+v, %v", c2, err)
	}
	cases := []struct {
		token string
		user  int64
		want  error
	}{
		{"operator-link-0001", 4, pgstore.ErrUsed},
		{"expired-link-00001", 4, pgstore.ErrExpired},
		{"no-such-link-00001", 4, pgstore.ErrNotFound},
		{"milano-link-000001", 4, pgstore.ErrRevoked},
		{"admin-link-0000001", 2, pgstore.ErrAlreadyStaff}, // the manager: never re-roled by a link
	}
	for _, tc := range cases {
		if _, err := e.db.ClaimStaffLink(ctx, tc.token, tc.user, "X", now); !errors.Is(err, tc.want) {
			t.Errorf("claim %s by %d: %v, want %v", tc.token, tc.user, err, tc.want)
		}
	}
	// A revoked manager's pending links die with their role.
	link("pending-link-00001", pgstore.RoleOperator, roma, 0, mgr.ID, now.Add(time.Hour))
	if _, err := e.db.RevokeStaff(ctx, admin.ID, mgr.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ClaimStaffLink(ctx, "pending-link-00001", 5, "X", now); !errors.Is(err, pgstore.ErrRevoked) {
		t.Fatalf("link of a revoked creator: %v", err)
	}
	// A revoked member comes back through a new link, with the new scope.
	link("comeback-link-0001", pgstore.RoleOperator, roma, 0, admin.ID, now.Add(time.Hour))
	back, err := e.db.ClaimStaffLink(ctx, "comeback-link-0001", 2, "Marta", now)
	if err != nil || back.Staff.ID != mgr.ID || back.Staff.Role != pgstore.RoleOperator || back.Staff.Revoked {
		t.Fatalf("comeback = %+v, %v", back, err)
	}
	if n := e.audits(t, "staff.enrol"); n != 3 {
		t.Errorf("%d enrol entries, want 3", n)
	}
	if n := e.audits(t, "staff.link.create"); n != 7 {
		t.Errorf("%d link entries, want 7", n)
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%link-00%'"); n != 0 {
		t.Error("a staff link token reached the audit log")
	}
}

func TestClaimStaffLinkRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, _ := e.municipality(t, "058091", "anagrafe")
	if _, err := e.db.CreateStaffLink(ctx, pgstore.StaffLink{Token: "race-link-00000001", Role: pgstore.RoleOperator,
		MunicipalityID: roma, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for u := int64(100); u < 110; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.db.ClaimStaffLink(ctx, "race-link-00000001", u, "X", time.Now())
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, pgstore.ErrUsed) {
				t.Errorf("claim: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || e.count(t, "SELECT count(*) FROM staff") != 1 {
		t.Fatalf("%d claims of a single-use link succeeded", wins)
	}
}

func TestListAndRevokeStaff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, _ := e.municipality(t, "058091", "anagrafe")
	milano, _ := e.municipality(t, "015146", "anagrafe")
	admin, _, _ := e.db.EnsureAdmin(ctx, 1)
	mr := e.enrol(t, admin.ID, pgstore.RoleManager, roma, 0, 2)
	or := e.enrol(t, mr.ID, pgstore.RoleOperator, roma, 0, 3)
	mm := e.enrol(t, admin.ID, pgstore.RoleManager, milano, 0, 4)
	ids := func(ss []pgstore.Staff) []int64 {
		var out []int64
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	all, err := e.db.ListStaff(ctx, 0)
	if err != nil || len(all) != 4 || all[0].ID != admin.ID || all[len(all)-1].ID != or.ID {
		t.Fatalf("all staff = %v, %v", ids(all), err)
	}
	rs, _ := e.db.ListStaff(ctx, roma)
	if len(rs) != 2 || rs[0].ID != mr.ID || rs[1].ID != or.ID {
		t.Fatalf("Roma staff = %v", ids(rs))
	}
	// Out of scope: Milano's manager cannot revoke Roma's operator; a
	// municipality scope never reaches an admin.
	if _, err := e.db.RevokeStaff(ctx, mm.ID, or.ID, milano); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("out-of-scope revoke: %v", err)
	}
	if _, err := e.db.RevokeStaff(ctx, mr.ID, admin.ID, roma); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("manager revoking an admin: %v", err)
	}
	got, err := e.db.RevokeStaff(ctx, mr.ID, or.ID, roma)
	if err != nil || !got.Revoked {
		t.Fatalf("revoke = %+v, %v", got, err)
	}
	if _, err := e.db.RevokeStaff(ctx, mr.ID, or.ID, roma); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := e.db.StaffByTelegram(ctx, 3); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("revoked operator still found: %v", err)
	}
	if s, err := e.db.StaffByID(ctx, or.ID); err != nil || !s.Revoked {
		t.Fatalf("StaffByID of a revoked member = %+v, %v", s, err)
	}
	if rs, _ := e.db.ListStaff(ctx, roma); len(rs) != 1 {
		t.Fatalf("revoked member still listed: %v", ids(rs))
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'staff.revoke' AND actor_id = $1 AND (detail->>'staff_id')::bigint = $2", mr.ID, or.ID); n != 1 {
		t.Fatalf("revoke audited %d times", n)
	}
}
