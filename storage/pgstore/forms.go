package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
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
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO published_forms (form, version, definition, messages, languages, published_by)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (form, version) DO NOTHING`,
			f.Form, f.Version, f.Definition, f.Messages, f.Languages, f.PublishedBy)
		if err != nil {
			return classify("publish form", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: form %s version %d: %w", f.Form, f.Version, ErrFormExists)
		}
		if err := notifyForms(ctx, tx, f.Form); err != nil {
			return err
		}
		return audit(ctx, tx, f.PublishedBy, "form.publish", map[string]any{"form": f.Form, "version": f.Version, "languages": f.Languages})
	})
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
		if err := notifyForms(ctx, tx, form); err != nil {
			return err
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

// FormsChannel is the LISTEN/NOTIFY channel that PublishForm and
// RetireForm notify, in their transaction (delivered at commit), so that
// running replicas reload their questionnaires.
const FormsChannel = "needsbot_forms"

func notifyForms(ctx context.Context, tx pgx.Tx, form string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FormsChannel, form); err != nil {
		return classify("notify forms", err)
	}
	return nil
}

// FormsStamp identifies the state of published_forms: the number of
// versions and the newest publication or retirement. It equals
// FormsStampOf(PublishedForms()) until something is published or retired:
// the cheap periodic check of replicas that may have missed a notification.
func (d *DB) FormsStamp(ctx context.Context) (string, error) {
	var n int
	var last *time.Time
	err := d.pool.QueryRow(ctx, `SELECT count(*), greatest(max(published_at), max(retired_at)) FROM published_forms`).Scan(&n, &last)
	if err != nil {
		return "", classify("forms stamp", err)
	}
	return formsStamp(n, last), nil
}

// FormsStampOf is FormsStamp computed from the published versions.
func FormsStampOf(pub []PublishedForm) string {
	var last *time.Time
	for _, p := range pub {
		for _, t := range []*time.Time{&p.PublishedAt, p.RetiredAt} {
			if t != nil && (last == nil || t.After(*last)) {
				t := *t
				last = &t
			}
		}
	}
	return formsStamp(len(pub), last)
}

func formsStamp(n int, last *time.Time) string {
	if last == nil {
		return strconv.Itoa(n)
	}
	return strconv.Itoa(n) + "/" + strconv.FormatInt(last.UnixMicro(), 10)
}

// ListenForms calls changed whenever a form is published or retired, until
// ctx ends. It holds one connection in LISTEN; after each (re)connection it
// calls changed too, since notifications sent while it was away are lost.
// A lost connection is reported to failed and retried after retry (the
// caller's periodic check covers the gap).
func (d *DB) ListenForms(ctx context.Context, retry time.Duration, changed func(), failed func(error)) {
	for ctx.Err() == nil {
		err := d.listenForms(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		failed(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (d *DB) listenForms(ctx context.Context, changed func()) error {
	pc, err := d.pool.Acquire(ctx)
	if err != nil {
		return classify("listen forms", err)
	}
	// A LISTENing connection must not go back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+FormsChannel); err != nil {
		return classify("listen forms", err)
	}
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return classify("listen forms", err)
		}
		changed()
	}
}
