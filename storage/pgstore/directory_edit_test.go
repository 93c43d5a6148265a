package pgstore_test

import (
	"errors"
	"testing"

	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Entries edited one at a time (the directory menu in Telegram): added
// hidden at the end, updated field by field, scoped to their municipality,
// the same name and address refused, every change audited without values.
func TestDirectoryEditOneEntry(t *testing.T) {
	e := newEnv(t)
	roma, err := e.db.MunicipalityID(ctx, "058091")
	if err != nil {
		t.Fatal(err)
	}
	milano, err := e.db.MunicipalityID(ctx, "015146")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.db.ImportDirectory(ctx, nil, roma, []directory.Entry{{Name: "Punto Informativo", HelpPoint: true}}); err != nil {
		t.Fatal(err)
	}
	id, err := e.db.AddDirectoryEntry(ctx, nil, roma, directory.Entry{Name: "Sportello Casa"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.db.DirectoryEntry(ctx, roma, id)
	if err != nil || got.Name != "Sportello Casa" || !got.Hidden {
		t.Fatalf("added: %+v %v", got, err)
	}
	if _, err := e.db.DirectoryEntry(ctx, milano, id); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("another municipality's entry: %v", err)
	}
	got.Address, got.Areas, got.HasCoords, got.Latitude, got.Longitude = "Via Roma 1", []string{"casa"}, true, 41.9, 12.5
	if err := e.db.UpdateDirectoryEntry(ctx, nil, roma, got, "address"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.UpdateDirectoryEntry(ctx, nil, milano, got, "address"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("update through another municipality: %v", err)
	}
	if err := e.db.SetDirectoryHidden(ctx, nil, roma, id, false); err != nil {
		t.Fatal(err)
	}
	all, err := e.db.Directory(ctx, roma, false)
	if err != nil || len(all) != 2 || all[1].Name != "Sportello Casa" || all[1].Address != "Via Roma 1" || !all[1].HasCoords {
		t.Fatalf("visible directory, the new entry last: %+v %v", all, err)
	}
	if _, err := e.db.AddDirectoryEntry(ctx, nil, roma, directory.Entry{Name: "Sportello Casa", Address: "Via Roma 1"}); !errors.Is(err, pgstore.ErrExists) {
		t.Fatalf("the same name and address twice: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action IN ('directory.add', 'directory.edit', 'directory.hide')`); n != 3 {
		t.Errorf("%d audit entries, want 3", n)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE detail::text LIKE '%Via Roma%'`); n != 0 {
		t.Errorf("values in the audit log")
	}
}
