package main

import (
	"context"
	"time"

	"github.com/needsbot/needsbot/dialog/xlsform"
	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Publishing through the bot (issue 13, staff/forms.go): the workbook
// waits in Postgres (form_uploads), is published there (published_forms,
// audit-logged), then made live in this process; other replicas follow
// through the live library's own notification.

// formsReloader makes what Postgres holds live in this process: the live
// form library (formlib.Live).
type formsReloader interface {
	Reload(ctx context.Context) (bool, error)
}

// formPublisher adapts pgstore to staff.FormPublisher.
type formPublisher struct {
	db   *pgstore.DB
	live formsReloader
	app  *app
}

var _ staff.FormPublisher = formPublisher{}

func (p formPublisher) SaveUpload(ctx context.Context, u staff.Upload) error {
	return p.db.SaveFormUpload(ctx, pgstore.FormUpload{Key: u.Key, StaffID: u.StaffID, Name: u.Name, Workbook: u.Workbook, ExpiresAt: u.ExpiresAt})
}

func staffUpload(u pgstore.FormUpload) staff.Upload {
	return staff.Upload{Key: u.Key, StaffID: u.StaffID, Name: u.Name, Workbook: u.Workbook, ExpiresAt: u.ExpiresAt,
		Published: u.PublishedAt != nil, Form: u.Form, Version: u.Version}
}

func (p formPublisher) Upload(ctx context.Context, key string, now time.Time) (staff.Upload, error) {
	u, err := p.db.FormUploadByKey(ctx, key, now)
	return staffUpload(u), err
}

func (p formPublisher) Publish(ctx context.Context, key string, now time.Time, actor int64, pub *xlsform.Publication) (staff.Upload, error) {
	u, err := p.db.PublishFormUpload(ctx, key, now, publishedRecord(pub, &actor))
	if err != nil {
		return staffUpload(u), err
	}
	// Published: a failed reload is for operators (the form goes live at
	// the next reload or restart), not a failed publication.
	if _, err := p.live.Reload(ctx); err != nil {
		p.app.log.Error("published form not live in this process yet", "form", u.Form, "version", u.Version, "err", err)
	}
	return staffUpload(u), nil
}

// latestVersion is the newest version of a form this process runs (0:
// none), shipped or published.
func (a *app) latestVersion(form string) int {
	if f := a.lib.Current().Forms.Latest(form); f != nil {
		return f.Version
	}
	return 0
}
