package pgstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/directory"
)

// TestDirectoryCache: the visible directory is read once per TTL; a
// change made elsewhere (straight SQL here, another replica or the CLI in
// production) shows once the TTL passed, one made through the same DB at
// once.
func TestDirectoryCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, err := e.db.MunicipalityID(ctx, "058091")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.db.ImportDirectory(ctx, nil, roma, []directory.Entry{
		{Name: "Sportello Casa", Address: "Via Roma 1", Areas: []string{"casa"}},
		{Name: "Ufficio Documenti", Address: "Via Nazionale 2", Areas: []string{"documenti"}},
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	c := e.db.DirectoryCache(time.Minute, func() time.Time { return now })
	names := func() []string {
		t.Helper()
		got, err := c.Get(ctx, roma)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range got {
			out = append(out, x.Name)
		}
		return out
	}
	if got := names(); len(got) != 2 {
		t.Fatalf("directory %q, want 2 entries", got)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE directory_entries SET hidden = true WHERE name = 'Sportello Casa'`); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if got := names(); len(got) != 2 {
		t.Fatalf("directory %q within the TTL, want the cached 2 entries", got)
	}
	now = now.Add(time.Second)
	got := names()
	if len(got) != 1 || got[0] != "Ufficio Documenti" {
		t.Fatalf("directory %q after the TTL, want the visible entry only", got)
	}
	all, err := e.db.Directory(ctx, roma, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		if x.Name == "Sportello Casa" {
			if err := e.db.SetDirectoryHidden(ctx, nil, roma, x.ID, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := names(); len(got) != 2 {
		t.Fatalf("directory %q right after an edit through the DB, want 2 entries", got)
	}
}
