package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestPublishedRowsCannotChangeShippedForms: the snapshot build leaves out
// (and logs) a published row that reuses a shipped form's id (an older
// database, a row written by hand), and a row whose messages reach into
// another form's message ids; the shipped questionnaires' texts stay, for
// every version (issue 13: the two shipped forms are unchanged for
// respondents).
func TestPublishedRowsCannotChangeShippedForms(t *testing.T) {
	dsn := storagetest.Postgres(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v2, err := os.ReadFile("../../dialog/forms/immigrati_v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := func(form string, version string) string {
		s := strings.Replace(string(v2), "version: 2\n", "version: "+version+"\n", 1)
		return strings.Replace(s, "form: immigrati\n", "form: "+form+"\n", 1)
	}
	const changed = "Età CAMBIATA"
	rows := []pgstore.PublishedForm{
		// The shipped id at a higher version, with a changed label.
		{Form: "immigrati", Version: 3, Definition: def("immigrati", "3"),
			Messages: map[string]string{"it": "[\"q.immigrati.eta\"]\nother = \"" + changed + "\"\n"}, Languages: []string{"it"}},
		// Another form whose messages name the shipped form's ids.
		{Form: "altro", Version: 1, Definition: def("altro", "1"),
			Messages: map[string]string{"it": "[\"q.immigrati.eta\"]\nother = \"" + changed + "\"\n[\"q.altro.eta\"]\nother = \"Età\"\n"}, Languages: []string{"it"}},
	}
	for _, r := range rows {
		if err := db.PublishForm(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	snap, err := buildForms(ctx, db, "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Catalog.Text("it", "q.immigrati.eta", nil); got != "Quanti anni hai?" {
		t.Errorf("shipped v2 question in Italian reads %q, want the shipped text", got)
	}
	if f := snap.Forms.Latest("immigrati"); f == nil || f.Version != 2 {
		t.Error("the latest immigrati is not the shipped version 2")
	}
	if snap.Forms.Latest("altro") != nil {
		t.Error("a form whose messages reach into another form's ids went live")
	}
	for _, want := range []string{"form=immigrati version=3", "form=altro version=1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("left-out row %q not logged:\n%s", want, logs.String())
		}
	}
}
