package pgstore

import (
	"context"
)

// PopularLanguages returns the languages respondents of a municipality
// completed interviews in most often over the last year, most used first,
// only those with at least minCount respondents: the menu, shown to anyone
// holding an invite, must not reveal that a few people answered in a rare
// language. (A respondent counts once while linked; unlinked responses
// count one each.)
func (d *DB) PopularLanguages(ctx context.Context, municipalityID int64, limit, minCount int) ([]string, error) {
	rows, err := d.pool.Query(ctx, `
SELECT language FROM responses
WHERE municipality_id = $1 AND completed_at > now() - interval '1 year'
GROUP BY language HAVING count(DISTINCT coalesce(respondent, id)) >= $3
ORDER BY count(*) DESC, language LIMIT $2`, municipalityID, limit, max(minCount, 1))
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
