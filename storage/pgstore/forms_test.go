package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestPublishedForms: a published version is stored as data with who
// published it and its languages, once; retiring ends it for new
// interviews but keeps it (and every version) readable; both are
// audit-logged.
func TestPublishedForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var admin int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (7, 'admin') RETURNING id").Scan(&admin); err != nil {
		t.Fatal(err)
	}
	v1 := pgstore.PublishedForm{Form: "needs_small", Version: 1, Definition: "form: needs_small\nversion: 1\n",
		Messages: map[string]string{"en": "[\"f.needs_small.title\"]\nother = \"Needs\"\n"}, Languages: []string{"en"}, PublishedBy: &admin}
	if err := e.db.PublishForm(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PublishForm(ctx, v1); !errors.Is(err, pgstore.ErrFormExists) {
		t.Fatalf("same version again: %v", err)
	}
	v2 := v1
	v2.Version, v2.Languages, v2.PublishedBy = 2, []string{"en", "it"}, nil
	if err := e.db.PublishForm(ctx, v2); err != nil {
		t.Fatal(err)
	}
	bad := v1
	bad.Version, bad.Languages = 3, nil
	if err := e.db.PublishForm(ctx, bad); !errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("no languages: %v", err)
	}
	if err := e.db.RetireForm(ctx, &admin, "needs_small"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RetireForm(ctx, &admin, "needs_small"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("retired twice: %v", err)
	}
	got, err := e.db.PublishedForms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 {
		t.Fatalf("published: %+v", got)
	}
	if got[0].PublishedBy == nil || *got[0].PublishedBy != admin || got[1].PublishedBy != nil {
		t.Errorf("published by %v, %v", got[0].PublishedBy, got[1].PublishedBy)
	}
	if !slices.Equal(got[1].Languages, []string{"en", "it"}) || got[0].Messages["en"] != v1.Messages["en"] || got[0].Definition != v1.Definition {
		t.Errorf("data: %+v", got[1])
	}
	if got[0].RetiredAt == nil || got[1].RetiredAt == nil || got[0].PublishedAt.IsZero() {
		t.Errorf("dates: %+v", got)
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action IN ('form.publish', 'form.retire')"); n != 3 {
		t.Errorf("%d audit entries, want 3", n)
	}
}

// TestFormsNotifyAndStamp: a publication and a retirement notify the
// listeners (at commit) and change the stamp; the stamp of the listed
// versions is the stamp the cheap check reads.
func TestFormsNotifyAndStamp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.db.ListenForms(lctx, 10*time.Millisecond, func() { changed <- struct{}{} }, func(err error) { t.Errorf("listen: %v", err) })
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(30 * time.Second):
			t.Fatalf("no notification %s", what)
		}
	}
	wait("when listening begins") // a (re)connection counts as a change
	empty, err := e.db.FormsStamp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stampNow := func() string {
		t.Helper()
		st, err := e.db.FormsStamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := e.db.PublishedForms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if of := pgstore.FormsStampOf(pub); of != st {
			t.Fatalf("FormsStamp %s, FormsStampOf %s", st, of)
		}
		return st
	}
	if stampNow() != empty {
		t.Fatal("stamp")
	}
	v1 := pgstore.PublishedForm{Form: "notify_small", Version: 1, Definition: "form: notify_small\nversion: 1\n",
		Messages: map[string]string{"en": ""}, Languages: []string{"en"}}
	if err := e.db.PublishForm(ctx, v1); err != nil {
		t.Fatal(err)
	}
	wait("after a publication")
	published := stampNow()
	if published == empty {
		t.Fatal("a publication left the stamp as it was")
	}
	// A refused publication (the same version) notifies nothing: the
	// transaction rolled back.
	if err := e.db.PublishForm(ctx, v1); !errors.Is(err, pgstore.ErrFormExists) {
		t.Fatal(err)
	}
	if err := e.db.RetireForm(ctx, nil, "notify_small"); err != nil {
		t.Fatal(err)
	}
	wait("after a retirement")
	select {
	case <-changed:
		t.Fatal("a refused publication notified")
	default:
	}
	if st := stampNow(); st == published {
		t.Fatal("a retirement left the stamp as it was")
	}
	cancel()
	<-done
}
