package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CloneSynthetic multiplies the synthetic interviews stored (ids "seed-…",
// from needsbot seed) in set-based SQL until the completed and abandoned
// interviews together number total, for seeding large benchmark databases
// fast: each copy keeps an original's questionnaire, municipality,
// service, languages, answers and duration, gets a new id ("seed-c…"),
// record key and reference, and completes (or is abandoned) at a random
// time in the days before now. One statement per round, each round at most
// doubling the interviews. With rollup the copies wait for CatchUpRollups
// like SaveResponse's; without, call RebuildRollups after. It returns how
// many completed and abandoned interviews it added.
func (d *DB) CloneSynthetic(ctx context.Context, total, days int, now time.Time, rollup bool, progress func(stored int)) (completed, abandoned int, err error) {
	var nc, na int
	if err := d.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM responses WHERE id LIKE 'seed-%'),
		(SELECT count(*) FROM abandoned WHERE id LIKE 'seed-%')`).Scan(&nc, &na); err != nil {
		return 0, 0, classify("clone synthetic", err)
	}
	if nc+na == 0 {
		return 0, 0, fmt.Errorf("pgstore: clone synthetic: nothing synthetic to clone")
	}
	// Completed and abandoned keep the originals' proportion.
	wantC := int(int64(total) * int64(nc) / int64(nc+na))
	wantA := total - wantC
	pending := ""
	if rollup {
		pending = `, p AS (INSERT INTO results_rollup_pending (response_id) SELECT id FROM c)`
	}
	// The lateral's reference to the row (0 * length(id)) makes random()
	// drawn per row.
	for round := 1; nc < wantC || na < wantA; round++ {
		addC, addA := min(wantC-nc, nc), min(wantA-na, na)
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if addC > 0 {
				_, err := tx.Exec(ctx, `WITH c AS (
    INSERT INTO responses (id, form, form_version, municipality_id, service_id, invite_id, operator_id,
                           language, languages, consent_version, started_at, completed_at, reminded, resumed,
                           answer_questions, answer_values, answer_nums, choice_questions, choices)
    SELECT 'seed-c' || $1::int || '-' || substr(r.id, 6), r.form, r.form_version, r.municipality_id, r.service_id,
           r.invite_id, r.operator_id, r.language, r.languages, r.consent_version,
           t.at - (r.completed_at - r.started_at), t.at, r.reminded, r.resumed,
           r.answer_questions, r.answer_values, r.answer_nums, r.choice_questions, r.choices
    FROM (SELECT * FROM responses WHERE id LIKE 'seed-%' LIMIT $2) r
    CROSS JOIN LATERAL (SELECT $3::timestamptz - random() * $4::int * interval '1 day' + 0 * length(r.id) * interval '1 s' AS at) t
    RETURNING id
)`+pending+` SELECT count(*) FROM c`, round, addC, now, days)
				if err != nil {
					return err
				}
			}
			if addA > 0 {
				_, err := tx.Exec(ctx, `INSERT INTO abandoned (id, form, form_version, municipality_id, service_id, language,
                       last_question, started_at, abandoned_at, reminded, resumed)
    SELECT 'seed-c' || $1::int || '-' || substr(a.id, 6), a.form, a.form_version, a.municipality_id, a.service_id,
           a.language, a.last_question, t.at - (a.abandoned_at - a.started_at), t.at, a.reminded, a.resumed
    FROM (SELECT * FROM abandoned WHERE id LIKE 'seed-%' LIMIT $2) a
    CROSS JOIN LATERAL (SELECT $3::timestamptz - random() * $4::int * interval '1 day' + 0 * length(a.id) * interval '1 s' AS at) t`,
					round, addA, now, days)
				return err
			}
			return nil
		})
		if err != nil {
			return completed, abandoned, classify("clone synthetic", err)
		}
		nc, na = nc+addC, na+addA
		completed, abandoned = completed+addC, abandoned+addA
		if progress != nil {
			progress(nc + na)
		}
	}
	return completed, abandoned, nil
}
