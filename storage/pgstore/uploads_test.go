package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestFormUploads: a workbook waits under its key until it expires; it is
// published once (with the publication, audit-logged, in one
// transaction), a second time reports ErrUsed and what it became; a
// version published otherwise is ErrExists and leaves the upload waiting.
func TestFormUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var admin int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (8, 'admin') RETURNING id").Scan(&admin); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	up := func(key string) pgstore.FormUpload {
		return pgstore.FormUpload{Key: key, StaffID: admin, Name: "needs " + key[:1] + ".xlsx", Workbook: []byte("PK workbook " + key), ExpiresAt: now.Add(time.Hour)}
	}
	for _, k := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCC"} {
		if err := e.db.SaveFormUpload(ctx, up(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.SaveFormUpload(ctx, up("bad key!")); !errors.Is(err, pgstore.ErrInvalid) {
		t.Errorf("a malformed key: %v", err)
	}
	got, err := e.db.FormUploadByKey(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now)
	if err != nil || string(got.Workbook) != "PK workbook AAAAAAAAAAAAAAAAAAAAAA" || got.StaffID != admin || got.Name != "needs A.xlsx" || got.PublishedAt != nil {
		t.Fatalf("upload = %+v, %v", got, err)
	}
	if _, err := e.db.FormUploadByKey(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now.Add(2*time.Hour)); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("expired upload: %v", err)
	}
	if _, err := e.db.FormUploadByKey(ctx, "ZZZZZZZZZZZZZZZZZZZZZZ", now); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	f := pgstore.PublishedForm{Form: "tiny", Version: 1, Definition: "form: tiny\nversion: 1\n",
		Messages: map[string]string{"en": "[\"f.tiny.title\"]\nother = \"Tiny\"\n"}, Languages: []string{"en"}, PublishedBy: &admin}
	if _, err := e.db.PublishFormUpload(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now.Add(2*time.Hour), f); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("publishing an expired upload: %v", err)
	}
	u, err := e.db.PublishFormUpload(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now, f)
	if err != nil || u.PublishedAt == nil || u.Form != "tiny" || u.Version != 1 {
		t.Fatalf("publish = %+v, %v", u, err)
	}
	// Published: readable after its expiry too (a late second tap says so).
	u, err = e.db.PublishFormUpload(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now.Add(2*time.Hour), f)
	if !errors.Is(err, org.ErrUsed) || u.Form != "tiny" || u.Version != 1 {
		t.Errorf("second publish = %+v, %v", u, err)
	}
	// The same version from another upload: already published.
	if _, err := e.db.PublishFormUpload(ctx, "BBBBBBBBBBBBBBBBBBBBBB", now, f); !errors.Is(err, org.ErrExists) || !errors.Is(err, pgstore.ErrFormExists) {
		t.Errorf("same version from another upload: %v", err)
	}
	if got, err := e.db.FormUploadByKey(ctx, "BBBBBBBBBBBBBBBBBBBBBB", now); err != nil || got.PublishedAt != nil {
		t.Errorf("the refused upload = %+v, %v", got, err)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'form.publish' AND actor_id = $1`, admin).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d audit entries, %v", n, err)
	}
	// Uploads expired for more than a day go when the next one is saved.
	if _, err := e.pool.Exec(ctx, `UPDATE form_uploads SET expires_at = now() - interval '2 days' WHERE key = 'CCCCCCCCCCCCCCCCCCCCCC'`); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveFormUpload(ctx, up("DDDDDDDDDDDDDDDDDDDDDD")); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM form_uploads WHERE key = 'CCCCCCCCCCCCCCCCCCCCCC'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("an upload expired two days ago is still there (%d, %v)", n, err)
	}
}
