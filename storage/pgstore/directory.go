package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/directory"
)

// ImportDirectory makes entries, in their order, the visible directory of
// the municipality: an entry with the name and address of an existing one
// updates it (keeping its referral counts), a new one is added, and an
// existing entry missing from entries is hidden, not deleted. It returns
// how many entries were added, updated and hidden. The change is audited
// as directory.import with the counts only.
func (d *DB) ImportDirectory(ctx context.Context, actor *int64, municipalityID int64, entries []directory.Entry) (added, updated, hidden int, err error) {
	defer d.directoryChanged()
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		added, updated, hidden = 0, 0, 0
		// Lock the municipality's directory against a concurrent import.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM municipalities WHERE id = $1 FOR UPDATE`, municipalityID); err != nil {
			return classify("import directory", err)
		}
		var keep []int64
		for i, e := range entries {
			var lat, lon *float64
			if e.HasCoords {
				lat, lon = &e.Latitude, &e.Longitude
			}
			var id int64
			var inserted bool
			err := tx.QueryRow(ctx, `
INSERT INTO directory_entries (municipality_id, position, name, address, latitude, longitude, phone, website,
	hours, languages, areas, notes, free, appointment, help_point, hidden)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, false)
ON CONFLICT (municipality_id, name, address) DO UPDATE SET
	position = EXCLUDED.position, latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
	phone = EXCLUDED.phone, website = EXCLUDED.website, hours = EXCLUDED.hours,
	languages = EXCLUDED.languages, areas = EXCLUDED.areas, notes = EXCLUDED.notes,
	free = EXCLUDED.free, appointment = EXCLUDED.appointment, help_point = EXCLUDED.help_point,
	hidden = false, updated_at = now()
RETURNING id, xmax = 0`, municipalityID, i, e.Name, e.Address, lat, lon, e.Phone, e.Website,
				e.Hours, nonNil(e.Languages), nonNil(e.Areas), e.Notes, e.Free, e.Appointment, e.HelpPoint).Scan(&id, &inserted)
			if err != nil {
				return classify("import directory", err)
			}
			if inserted {
				added++
			} else {
				updated++
			}
			keep = append(keep, id)
		}
		tag, err := tx.Exec(ctx, `UPDATE directory_entries SET hidden = true, updated_at = now()
			WHERE municipality_id = $1 AND NOT hidden AND NOT (id = ANY($2))`, municipalityID, nonNilIDs(keep))
		if err != nil {
			return classify("import directory", err)
		}
		hidden = int(tag.RowsAffected())
		return audit(ctx, tx, actor, "directory.import", map[string]any{
			"municipality_id": municipalityID, "added": added, "updated": updated, "hidden": hidden})
	})
	return added, updated, hidden, err
}

// Directory returns the municipality's directory in its order; hidden
// entries only when withHidden.
func (d *DB) Directory(ctx context.Context, municipalityID int64, withHidden bool) ([]directory.Entry, error) {
	return d.directoryWhere(ctx, municipalityID, withHidden, 0)
}

// directoryWhere is Directory, or only entry id when id is not 0.
func (d *DB) directoryWhere(ctx context.Context, municipalityID int64, withHidden bool, id int64) ([]directory.Entry, error) {
	rows, err := d.pool.Query(ctx, `
SELECT id, name, address, latitude, longitude, phone, website, hours, languages, areas, notes,
	free, appointment, help_point, hidden
FROM directory_entries WHERE municipality_id = $1 AND (NOT hidden OR $2) AND ($3 = 0 OR id = $3)
ORDER BY hidden, position, id`, municipalityID, withHidden, id)
	if err != nil {
		return nil, classify("directory", err)
	}
	defer rows.Close()
	var out []directory.Entry
	for rows.Next() {
		var e directory.Entry
		var lat, lon *float64
		if err := rows.Scan(&e.ID, &e.Name, &e.Address, &lat, &lon, &e.Phone, &e.Website, &e.Hours,
			&e.Languages, &e.Areas, &e.Notes, &e.Free, &e.Appointment, &e.HelpPoint, &e.Hidden); err != nil {
			return nil, classify("directory", err)
		}
		if lat != nil && lon != nil {
			e.HasCoords, e.Latitude, e.Longitude = true, *lat, *lon
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("directory", err)
	}
	return out, nil
}

// SetDirectoryHidden hides or shows one entry of the municipality.
func (d *DB) SetDirectoryHidden(ctx context.Context, actor *int64, municipalityID, entryID int64, hidden bool) error {
	defer d.directoryChanged()
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE directory_entries SET hidden = $3, updated_at = now()
			WHERE id = $2 AND municipality_id = $1`, municipalityID, entryID, hidden)
		if err != nil {
			return classify("hide directory entry", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: directory entry %d: %w", entryID, ErrNotFound)
		}
		return audit(ctx, tx, actor, "directory.hide", map[string]any{"entry_id": entryID, "hidden": hidden})
	})
}

// Referral is one service a respondent was pointed to, under the need area
// it was chosen for ("" for the help point or a /services listing without
// an area).
type Referral struct {
	EntryID int64
	Area    string
}

// CountReferrals adds one to the count of each referral on the day of now
// (a UTC day). Nothing about the
// respondent or the response is stored.
func (d *DB) CountReferrals(ctx context.Context, refs []Referral, now time.Time) error {
	if len(refs) == 0 {
		return nil
	}
	day := now.UTC().Format(time.DateOnly)
	b := &pgx.Batch{}
	for _, r := range refs {
		b.Queue(`INSERT INTO referral_counts (entry_id, area, day, count) VALUES ($1, $2, $3, 1)
			ON CONFLICT (entry_id, area, day) DO UPDATE SET count = referral_counts.count + 1`, r.EntryID, r.Area, day)
	}
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		return classify("count referrals", err)
	}
	return nil
}

// ReferralStat is how many times the bot pointed to a service since a day.
type ReferralStat struct {
	EntryID int64
	Name    string
	Area    string
	Count   int
}

// ReferralStats returns the municipality's referral counts per service and
// area since the day of since, most referred first.
func (d *DB) ReferralStats(ctx context.Context, municipalityID int64, since time.Time) ([]ReferralStat, error) {
	rows, err := d.pool.Query(ctx, `
SELECT e.id, e.name, c.area, sum(c.count)::int
FROM referral_counts c JOIN directory_entries e ON e.id = c.entry_id
WHERE e.municipality_id = $1 AND c.day >= $2::date
GROUP BY e.id, e.name, c.area
ORDER BY 4 DESC, e.name, c.area`, municipalityID, since.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, classify("referral stats", err)
	}
	defer rows.Close()
	var out []ReferralStat
	for rows.Next() {
		var s ReferralStat
		if err := rows.Scan(&s.EntryID, &s.Name, &s.Area, &s.Count); err != nil {
			return nil, classify("referral stats", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("referral stats", err)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilIDs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
