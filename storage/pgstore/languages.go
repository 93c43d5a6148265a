package pgstore

import (
	"context"
)

// PopularLanguages returns the languages respondents of a municipality
// completed interviews in most often over the last year, most used first.
func (d *DB) PopularLanguages(ctx context.Context, municipalityID int64, limit int) ([]string, error) {
	rows, err := d.pool.Query(ctx, `
SELECT language FROM responses
WHERE municipality_id = $1 AND completed_at > now() - interval '1 year'
GROUP BY language ORDER BY count(*) DESC, language LIMIT $2`, municipalityID, limit)
	if err != nil {
		return nil, classify("popular languages", err)
	}
	defer rows.Close()
	var langs []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, classify("popular languages", err)
		}
		langs = append(langs, l)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("popular languages", err)
	}
	return langs, nil
}
