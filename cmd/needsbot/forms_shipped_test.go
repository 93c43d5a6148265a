package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/dialog/forms"
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
	t.Parallel()
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

// withSettings writes a copy of the workbook with settings columns set.
func withSettings(t *testing.T, src string, set map[string]string) string {
	t.Helper()
	wb, err := excelize.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	rows, err := wb.GetRows("settings")
	if err != nil || len(rows) < 2 {
		t.Fatalf("settings sheet: %v %v", rows, err)
	}
	for name, v := range set {
		col := slices.Index(rows[0], name)
		if col < 0 {
			t.Fatalf("no %s column in %v", name, rows[0])
		}
		cell, _ := excelize.CoordinatesToCellName(col+1, 2)
		if err := wb.SetCellValue("settings", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "wb.xlsx")
	if err := wb.SaveAs(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFormPublishRefusesShippedID: `needsbot form publish` refuses a
// workbook whose form_id is a shipped questionnaire's, at any version,
// with the reason, and stores nothing; the same workbook under its own id
// publishes.
func TestFormPublishRefusesShippedID(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NEEDSBOT_DATABASE_URL": dsn}
	publish := func(path string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, []string{"form", "publish", path}, func(k string) string { return env[k] }, nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, id := range []string{"immigrati", "operatori"} {
		wb := withSettings(t, "testdata/forms/vicinato.xlsx", map[string]string{"form_id": id, "version": strconv.Itoa(3)})
		code, out, errs := publish(wb)
		if code != 1 || !strings.Contains(out, `form id "`+id+`" is a questionnaire shipped with needsbot`) || !strings.Contains(errs, "refused") {
			t.Errorf("publish as %s = %d\nstdout: %s\nstderr: %s", id, code, out, errs)
		}
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if all, err := db.PublishedForms(ctx); err != nil || len(all) != 0 {
		t.Fatalf("refused publications stored: %d %v", len(all), err)
	}
	if code, out, errs := publish("testdata/forms/vicinato.xlsx"); code != 0 {
		t.Fatalf("publish vicinato = %d\n%s%s", code, out, errs)
	}
}

// A published version this binary cannot load is found once: later builds
// of the replica (a reload after the next publication) leave it out at
// once and compile the questionnaires once, not n+2 times (all, then one
// version at a time to find it, then the good ones) at every reload.
// Changed in place, a row is tried again.
func TestBadPublishedVersionCompiledOnce(t *testing.T) {
	t.Parallel()
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
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	v2, err := os.ReadFile("../../dialog/forms/immigrati_v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(version int) {
		t.Helper()
		def := strings.Replace(string(v2), "version: 2\n", "version: "+strconv.Itoa(version)+"\n", 1)
		def = strings.Replace(def, "form: immigrati\n", "form: nuovo\n", 1)
		if err := db.PublishForm(ctx, pgstore.PublishedForm{Form: "nuovo", Version: version, Definition: def,
			Messages: map[string]string{"it": "[\"q.nuovo.eta\"]\nother = \"Età\"\n"}, Languages: []string{"it"}}); err != nil {
			t.Fatal(err)
		}
	}
	publish(1)
	// A row written by hand that no binary loads (an unknown type).
	if _, err := conn.Exec(ctx, `INSERT INTO published_forms (form, version, definition, messages, languages)
		VALUES ('broken', 1, 'form: broken\nversion: 1\nquestions:\n  - {name: x, type: hologram}\n', '{"en": ""}', '{en}')`); err != nil {
		t.Fatal(err)
	}
	publish(2)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var builds formBuilds
	build := func(want int) {
		t.Helper()
		before := builds.compiles
		snap, err := buildFormsReusing(ctx, db, "", log, nil, &builds)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Forms.Latest("broken") != nil || snap.Forms.Latest("nuovo") == nil {
			t.Fatal("the bad version went live, or the good ones did not")
		}
		if got := builds.compiles - before; got != want {
			t.Errorf("the build compiled the questionnaires %d times, want %d", got, want)
		}
	}
	build(5) // first found: all, three one at a time, the good ones
	if !strings.Contains(logs.String(), "form=broken version=1") {
		t.Errorf("the left-out version is not logged:\n%s", logs.String())
	}
	publish(3)
	build(1) // a reload: the known bad version is left out at once
	logs.Reset()
	build(1)
	if !strings.Contains(logs.String(), "form=broken version=1") {
		t.Errorf("the left-out version is not logged at a later build:\n%s", logs.String())
	}
	// Fixed in place (by hand): tried again, and it loads.
	fixed := strings.Replace(strings.Replace(string(v2), "version: 2\n", "version: 1\n", 1), "form: immigrati\n", "form: broken\n", 1)
	if _, err := conn.Exec(ctx, `UPDATE published_forms SET definition = $1, messages = '{}' WHERE form = 'broken'`, fixed); err != nil {
		t.Fatal(err)
	}
	snap, err := buildFormsReusing(ctx, db, "", log, nil, &builds)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Forms.Latest("broken") == nil {
		t.Errorf("the row fixed in place was not tried again:\n%s", logs.String())
	}
}

// TestShippedIDs: the staff wiring keeps only the shipped questionnaires'
// ids (not a second compiled library), and they answer as shippedForm does
// on the library.
func TestShippedIDs(t *testing.T) {
	t.Parallel()
	ids, err := shippedIDs("")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"immigrati", "operatori", "vicinato", ""} {
		if got, want := ids[id], shippedForm(lib, id) != nil; got != want {
			t.Errorf("shippedIDs[%q] = %v, shippedForm says %v", id, got, want)
		}
	}
	if !ids["immigrati"] || !ids["operatori"] || ids["vicinato"] {
		t.Errorf("shipped ids %v", ids)
	}
}
