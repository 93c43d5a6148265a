package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/org"
)

// PublishedForm is one published version of a questionnaire: its
// definition (the YAML `needsbot form import` writes) and message files
// (language code → go-i18n TOML), stored as data so that a form reaches
// the bot without a release.
type PublishedForm struct {
	Form       string
	Version    int
	Definition string
	Messages   map[string]string
	// Languages it is published for: those whose every message exists.
	Languages   []string
	PublishedBy *int64 // staff id; nil from the shell
	PublishedAt time.Time
	RetiredAt   *time.Time
}

// ErrFormExists is a publication of a form version already published.
var ErrFormExists = errors.New("pgstore: this version of the form is already published")

// PublishForm stores a new version of a form, audit-logged. A version is
// published once: a change is a new version.
func (d *DB) PublishForm(ctx context.Context, f PublishedForm) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return publishForm(ctx, tx, f) })
}

// publishForm is PublishForm within tx; the error of a version already
// published is also org.ErrExists.
func publishForm(ctx context.Context, tx pgx.Tx, f PublishedForm) error {
	tag, err := tx.Exec(ctx, `INSERT INTO published_forms (form, version, definition, messages, languages, published_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (form, version) DO NOTHING`,
		f.Form, f.Version, f.Definition, f.Messages, f.Languages, f.PublishedBy)
	if err != nil {
		return classify("publish form", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: form %s version %d: %w (%w)", f.Form, f.Version, ErrFormExists, org.ErrExists)
	}
	return audit(ctx, tx, f.PublishedBy, "form.publish", map[string]any{"form": f.Form, "version": f.Version, "languages": f.Languages})
}

// RetireForm ends every published version of form for new interviews
// (those under way keep theirs), audit-logged.
func (d *DB) RetireForm(ctx context.Context, actor *int64, form string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE published_forms SET retired_at = now() WHERE form = $1 AND retired_at IS NULL`, form)
		if err != nil {
			return classify("retire form", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: published form %s: %w", form, ErrNotFound)
		}
		return audit(ctx, tx, actor, "form.retire", map[string]any{"form": form})
	})
}

// PublishedForms lists every published version, retired ones too (an
// interview keeps the version it started with), by form and version.
func (d *DB) PublishedForms(ctx context.Context) ([]PublishedForm, error) {
	rows, err := d.pool.Query(ctx, `SELECT form, version, definition, messages, languages, published_by, published_at, retired_at
		FROM published_forms ORDER BY form, version`)
	if err != nil {
		return nil, classify("published forms", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PublishedForm, error) {
		var f PublishedForm
		err := r.Scan(&f.Form, &f.Version, &f.Definition, &f.Messages, &f.Languages, &f.PublishedBy, &f.PublishedAt, &f.RetiredAt)
		return f, err
	})
	if err != nil {
		return nil, classify("published forms", err)
	}
	return out, nil
}
