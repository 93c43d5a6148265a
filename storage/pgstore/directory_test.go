package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/storage/pgstore"
)

func TestDirectoryImportAndReferrals(t *testing.T) {
	e := newEnv(t)
	roma, err := e.db.MunicipalityID(ctx, "058091")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	first := []directory.Entry{
		{Name: "Sportello Casa", Address: "Via Roma 1", HasCoords: true, Latitude: 41.9, Longitude: 12.5,
			Languages: []string{"it", "ar"}, Areas: []string{"casa"}, Free: &yes},
		{Name: "Ufficio Documenti", Address: "Via Nazionale 2", Languages: []string{"it"}, Areas: []string{"documenti"}},
		{Name: "Punto Informativo", Address: "Piazza 3", HelpPoint: true},
	}
	a, u, h, err := e.db.ImportDirectory(ctx, nil, roma, first)
	if err != nil || a != 3 || u != 0 || h != 0 {
		t.Fatalf("first import: %d %d %d %v", a, u, h, err)
	}
	got, err := e.db.Directory(ctx, roma, false)
	if err != nil || len(got) != 3 {
		t.Fatalf("directory: %+v %v", got, err)
	}
	casa := got[0]
	if casa.ID == 0 || !casa.HasCoords || casa.Latitude != 41.9 || casa.Free == nil || !*casa.Free || casa.Appointment != nil ||
		len(casa.Languages) != 2 || casa.Areas[0] != "casa" || got[1].HasCoords || !got[2].HelpPoint {
		t.Fatalf("read back: %+v", got)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	refs := []pgstore.Referral{{casa.ID, "casa"}, {got[1].ID, "documenti"}}
	for range 2 {
		if err := e.db.CountReferrals(ctx, refs, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.CountReferrals(ctx, refs[:1], now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Nothing but entry, area, day and count is stored.
	if n := e.count(t, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'referral_counts'`); n != 4 {
		t.Errorf("referral_counts has %d columns, want 4", n)
	}
	// A second import: Casa updated, Documenti missing (hidden, counts
	// kept), a new one added.
	second := []directory.Entry{
		{Name: "Sportello Casa", Address: "Via Roma 1", Phone: "06 1", Languages: []string{"it"}, Areas: []string{"casa", "lavoro"}},
		{Name: "Centro Lavoro", Address: "Via 4", Areas: []string{"lavoro"}},
	}
	a, u, h, err = e.db.ImportDirectory(ctx, nil, roma, second)
	if err != nil || a != 1 || u != 1 || h != 2 {
		t.Fatalf("second import: added %d updated %d hidden %d %v", a, u, h, err)
	}
	got, _ = e.db.Directory(ctx, roma, false)
	if len(got) != 2 || got[0].ID != casa.ID || got[0].Phone != "06 1" || got[0].HasCoords || got[1].Name != "Centro Lavoro" {
		t.Fatalf("after second import: %+v", got)
	}
	all, _ := e.db.Directory(ctx, roma, true)
	if len(all) != 4 || !all[3].Hidden {
		t.Fatalf("with hidden: %+v", all)
	}
	stats, err := e.db.ReferralStats(ctx, roma, now)
	if err != nil || len(stats) != 2 || stats[0].Name != "Sportello Casa" || stats[0].Count != 3 || stats[1].Count != 2 {
		t.Fatalf("stats: %+v %v", stats, err)
	}
	if stats, _ := e.db.ReferralStats(ctx, roma, now.Add(24*time.Hour)); len(stats) != 1 || stats[0].Count != 1 {
		t.Fatalf("stats since the next day: %+v", stats)
	}
	if err := e.db.SetDirectoryHidden(ctx, nil, roma, casa.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.db.Directory(ctx, roma, false); len(got) != 1 {
		t.Fatalf("after hiding: %+v", got)
	}
	if err := e.db.SetDirectoryHidden(ctx, nil, roma+1000, casa.ID, false); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("hide in another municipality: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action IN ('directory.import', 'directory.hide')`); n != 3 {
		t.Errorf("%d audited directory changes, want 3", n)
	}
	// Bad data the database refuses.
	if _, _, _, err := e.db.ImportDirectory(ctx, nil, roma, []directory.Entry{{Name: ""}}); !errors.Is(err, pgstore.ErrInvalid) {
		t.Errorf("empty name: %v", err)
	}
}
