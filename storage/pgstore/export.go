package pgstore

import (
	"context"
	"fmt"
	"time"
)

// ExportRow is one completed interview as exports write it: metadata and
// answers in language-neutral codes. It never holds the respondent's
// pseudonym, the operator or the invite's token (a secret), only the
// invite's number and label.
type ExportRow struct {
	ID             string
	Form           string
	FormVersion    int
	ISTAT          string // municipality's ISTAT code
	Municipality   string // municipality's name
	Service        string // service code, "" for none
	InviteID       int64  // 0 for none
	InviteLabel    string
	Language       string
	Languages      []string
	ConsentVersion string
	Started        time.Time
	Completed      time.Time
	DurationS      int
	// RecordKey is the response's random record key (responses.rkey), from
	// which the cell keys of perturbed aggregates are derived.
	RecordKey int64
	// Answers maps question names to their stored values.
	Answers map[string]string
}

// exportSQL reads responses in index order (questionnaire, municipality,
// completion time), each with its answers (arrays of its row): rows
// stream out as they are read, with no sort of the whole export.
const exportSQL = `
SELECT r.id, r.form, r.form_version, m.istat_code, m.name, coalesce(s.code, ''),
       coalesce(i.id, 0), coalesce(i.label, ''), r.language, r.languages, r.consent_version,
       r.started_at, r.completed_at, coalesce(r.duration_s, 0), r.rkey, r.answer_questions, r.answer_values
FROM responses r
JOIN municipalities m ON m.id = r.municipality_id
LEFT JOIN services s ON s.id = r.service_id
LEFT JOIN invites i ON i.id = r.invite_id
WHERE %s
ORDER BY %s`

// Row orders of exports.
const (
	orderByTime = "r.municipality_id, r.completed_at, r.id"
	// orderByDay keeps the day but shuffles the rows within it, so that a
	// de-identified export's row order tells nothing finer than its dates.
	orderByDay = "r.municipality_id, (r.completed_at AT TIME ZONE '" + ResultsZone + "')::date, random()"
)

// ExportResponses calls fn with every completed interview in scope, in
// order of municipality and completion time, streaming them from Postgres
// (memory stays bounded whatever the count). The row passed to fn, and its
// Answers map, are reused: fn must copy what it keeps. Scope.Since may be
// any instant. It returns how many rows fn was called with; an error from
// fn stops the export and is returned as is.
func (d *DB) ExportResponses(ctx context.Context, s ResultsScope, fn func(*ExportRow) error) (int, error) {
	return d.exportResponses(ctx, s, orderByTime, fn)
}

// ExportResponsesByDay is ExportResponses in order of municipality and
// completion day (in ResultsZone), in random order within a day: for
// de-identified exports, whose rows carry no time of day.
func (d *DB) ExportResponsesByDay(ctx context.Context, s ResultsScope, fn func(*ExportRow) error) (int, error) {
	return d.exportResponses(ctx, s, orderByDay, fn)
}

func (d *DB) exportResponses(ctx context.Context, s ResultsScope, order string, fn func(*ExportRow) error) (int, error) {
	if err := s.check(false); err != nil {
		return 0, fmt.Errorf("pgstore: export: %w", err)
	}
	w := scopeWhere(s, "r", "completed_at")
	rows, err := d.pool.Query(ctx, fmt.Sprintf(exportSQL, w.sql(), order), w.args...)
	if err != nil {
		return 0, classify("export", err)
	}
	defer rows.Close()
	row := &ExportRow{Answers: map[string]string{}}
	var questions, values []string
	n := 0
	for rows.Next() {
		questions, values = questions[:0], values[:0]
		if err := rows.Scan(&row.ID, &row.Form, &row.FormVersion, &row.ISTAT, &row.Municipality, &row.Service,
			&row.InviteID, &row.InviteLabel, &row.Language, &row.Languages, &row.ConsentVersion,
			&row.Started, &row.Completed, &row.DurationS, &row.RecordKey, &questions, &values); err != nil {
			return n, classify("export", err)
		}
		clear(row.Answers)
		for i, q := range questions {
			if i < len(values) {
				row.Answers[q] = values[i]
			}
		}
		if err := fn(row); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, classify("export", err)
	}
	return n, nil
}

// CountResponses counts the completed interviews in scope (Since may be
// any instant), e.g. to tell an export's size before it starts.
func (d *DB) CountResponses(ctx context.Context, s ResultsScope) (int, error) {
	if err := s.check(false); err != nil {
		return 0, fmt.Errorf("pgstore: count responses: %w", err)
	}
	w := scopeWhere(s, "r", "completed_at")
	var n int
	if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM responses r WHERE "+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, classify("count responses", err)
	}
	return n, nil
}
