package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Erase deletes every response stored under the respondent's pseudonym
// (their answers go with them) and records in the audit log how many, but
// not whose: action "erase", detail {"responses": n}. Both happen in one
// transaction. It returns n. Responses already unlinked by retention
// cannot be found (nothing in them leads back to the pseudonym), and are
// not erased.
func (d *DB) Erase(ctx context.Context, pseudonym string) (int, error) {
	if pseudonym == "" {
		return 0, fmt.Errorf("pgstore: erase: %w: empty pseudonym", ErrInvalid)
	}
	var n int
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM responses WHERE respondent = $1", pseudonym)
		if err != nil {
			return classify("erase", err)
		}
		n = int(tag.RowsAffected())
		return audit(ctx, tx, nil, "erase", map[string]int{"responses": n})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ApplyRetention unlinks responses completed more than olderThan ago (by
// d.Now): their pseudonym, idempotency key, invite and operator are set to
// NULL and their start and completion are coarsened to the day (Italian
// time, the day results count them in), keeping the duration. The id is
// random, so nothing left leads back to the respondent; they stay in the
// results. It records the count in the audit log (action "retention") and
// returns it.
func (d *DB) ApplyRetention(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan <= 0 {
		return 0, errors.New("pgstore: apply retention: olderThan must be positive")
	}
	cutoff := d.Now().Add(-olderThan)
	var n int
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, retentionSQL, cutoff)
		if err != nil {
			return classify("apply retention", err)
		}
		n = int(tag.RowsAffected())
		if n == 0 {
			return nil
		}
		return audit(ctx, tx, nil, "retention", map[string]any{"responses": n, "completed_before": cutoff.UTC()})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const retentionSQL = `
UPDATE responses
SET respondent = NULL, idem = NULL, invite_id = NULL, operator_id = NULL, unlinked = true,
    started_at = date_trunc('day', started_at AT TIME ZONE 'Europe/Rome') AT TIME ZONE 'Europe/Rome',
    completed_at = date_trunc('day', completed_at AT TIME ZONE 'Europe/Rome') AT TIME ZONE 'Europe/Rome'
WHERE NOT unlinked AND completed_at < $1`

// Abandoned is an interview abandoned after consent: where it stopped,
// never what was answered.
type Abandoned struct {
	ID             string // idempotency key, from the live store
	Form           string
	FormVersion    int
	MunicipalityID int64
	ServiceID      *int64
	Language       string
	LastQuestion   string
	StartedAt      time.Time
	AbandonedAt    time.Time
	// Reminded and Resumed: the reminder was sent; the respondent came
	// back after it (and still stopped).
	Reminded, Resumed bool
}

// SaveAbandoned records an abandoned interview. Saving the same ID again
// changes nothing.
func (d *DB) SaveAbandoned(ctx context.Context, a Abandoned) error {
	if a.ID == "" || a.Form == "" || a.MunicipalityID <= 0 || a.StartedAt.IsZero() || a.AbandonedAt.IsZero() {
		return fmt.Errorf("pgstore: save abandoned: %w: missing id, form, municipality or times", ErrInvalid)
	}
	_, err := d.pool.Exec(ctx, `
INSERT INTO abandoned (id, form, form_version, municipality_id, service_id, language, last_question, started_at, abandoned_at, reminded, resumed)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Form, a.FormVersion, a.MunicipalityID, a.ServiceID, a.Language, a.LastQuestion, a.StartedAt, a.AbandonedAt,
		a.Reminded, a.Resumed)
	if err != nil {
		return classify("save abandoned", err)
	}
	return nil
}
