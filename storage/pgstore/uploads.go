package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/org"
)

// FormUpload is a workbook an admin sent to the bot, waiting for Publish
// under a random key (callback data holds only the key).
type FormUpload struct {
	Key       string
	StaffID   int64  // who sent it: only they may publish it
	Name      string // the file's name (a workbook without form_id is named after it)
	Workbook  []byte
	ExpiresAt time.Time
	// Set once published (a second Publish reports it, and does nothing).
	PublishedAt *time.Time
	Form        string
	Version     int
}

// SaveFormUpload keeps a workbook until u.ExpiresAt, and deletes the
// uploads that expired more than a day ago.
func (d *DB) SaveFormUpload(ctx context.Context, u FormUpload) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM form_uploads WHERE expires_at < now() - interval '1 day'`); err != nil {
			return classify("expire form uploads", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO form_uploads (key, staff_id, file_name, workbook, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			u.Key, u.StaffID, u.Name, u.Workbook, u.ExpiresAt); err != nil {
			return classify("save form upload", err)
		}
		return nil
	})
}

// FormUploadByKey returns an upload that has not expired at now, or was
// published (org.ErrNotFound otherwise).
func (d *DB) FormUploadByKey(ctx context.Context, key string, now time.Time) (FormUpload, error) {
	return formUpload(ctx, d.pool, key, now, "")
}

func formUpload(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, key string, now time.Time, lock string) (FormUpload, error) {
	var u FormUpload
	var form *string
	var version *int
	err := q.QueryRow(ctx, `SELECT key, staff_id, file_name, workbook, expires_at, published_at, form, version FROM form_uploads
		WHERE key = $1 AND (expires_at > $2 OR published_at IS NOT NULL)`+lock, key, now).
		Scan(&u.Key, &u.StaffID, &u.Name, &u.Workbook, &u.ExpiresAt, &u.PublishedAt, &form, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return FormUpload{}, fmt.Errorf("pgstore: form upload: %w", ErrNotFound)
	}
	if err != nil {
		return FormUpload{}, classify("form upload", err)
	}
	if form != nil && version != nil {
		u.Form, u.Version = *form, *version
	}
	return u, nil
}

// PublishFormUpload publishes f (as PublishForm, audit-logged) from the
// upload under key, once: the upload must not have expired at now (else
// org.ErrNotFound); if it was published already, nothing happens and the
// error is org.ErrUsed, with the upload (its form and version) returned.
// A version already published otherwise is org.ErrExists.
func (d *DB) PublishFormUpload(ctx context.Context, key string, now time.Time, f PublishedForm) (FormUpload, error) {
	var u FormUpload
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var err error
		if u, err = formUpload(ctx, tx, key, now, " FOR UPDATE"); err != nil {
			return err
		}
		if u.PublishedAt != nil {
			return fmt.Errorf("pgstore: form upload: %w", org.ErrUsed)
		}
		if err := publishForm(ctx, tx, f); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE form_uploads SET published_at = now(), form = $2, version = $3 WHERE key = $1
			RETURNING published_at`, key, f.Form, f.Version).Scan(&u.PublishedAt); err != nil {
			return classify("mark form upload published", err)
		}
		u.Form, u.Version = f.Form, f.Version
		return nil
	})
	return u, err
}
