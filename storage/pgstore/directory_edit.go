package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/needsbot/needsbot/directory"
)

// Editing the directory one entry at a time, as managers do in Telegram
// (issue 16); ImportDirectory replaces it from a file.

// DirectoryEntry returns one entry of the municipality, hidden or not.
func (d *DB) DirectoryEntry(ctx context.Context, municipalityID, entryID int64) (directory.Entry, error) {
	all, err := d.directoryWhere(ctx, municipalityID, true, entryID)
	if err != nil {
		return directory.Entry{}, err
	}
	if len(all) == 0 {
		return directory.Entry{}, fmt.Errorf("pgstore: directory entry %d: %w", entryID, ErrNotFound)
	}
	return all[0], nil
}

// AddDirectoryEntry adds e at the end of the municipality's directory,
// hidden until its editor shows it (an entry is added a field at a time).
// The same name and address twice is ErrExists. Audited as
// directory.add with the new id only.
func (d *DB) AddDirectoryEntry(ctx context.Context, actor *int64, municipalityID int64, e directory.Entry) (int64, error) {
	defer d.directoryChanged()
	var id int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		lat, lon := coords(e)
		err := tx.QueryRow(ctx, `
INSERT INTO directory_entries (municipality_id, position, name, address, latitude, longitude, phone, website,
	hours, languages, areas, notes, free, appointment, help_point, hidden)
SELECT $1, coalesce(max(position) + 1, 0), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, true
FROM directory_entries WHERE municipality_id = $1
RETURNING id`, municipalityID, e.Name, e.Address, lat, lon, e.Phone, e.Website, e.Hours,
			nonNil(e.Languages), nonNil(e.Areas), e.Notes, e.Free, e.Appointment, e.HelpPoint).Scan(&id)
		if err != nil {
			return directoryErr("add directory entry", err)
		}
		return audit(ctx, tx, actor, "directory.add", map[string]any{"municipality_id": municipalityID, "entry_id": id})
	})
	return id, err
}

// UpdateDirectoryEntry writes every field of e (by its ID, within the
// municipality). field names what changed, for the audit log
// (directory.edit with the entry id and the field, never the values).
func (d *DB) UpdateDirectoryEntry(ctx context.Context, actor *int64, municipalityID int64, e directory.Entry, field string) error {
	defer d.directoryChanged()
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		lat, lon := coords(e)
		tag, err := tx.Exec(ctx, `
UPDATE directory_entries SET name = $3, address = $4, latitude = $5, longitude = $6, phone = $7, website = $8,
	hours = $9, languages = $10, areas = $11, notes = $12, free = $13, appointment = $14, help_point = $15,
	updated_at = now()
WHERE id = $2 AND municipality_id = $1`, municipalityID, e.ID, e.Name, e.Address, lat, lon, e.Phone, e.Website,
			e.Hours, nonNil(e.Languages), nonNil(e.Areas), e.Notes, e.Free, e.Appointment, e.HelpPoint)
		if err != nil {
			return directoryErr("update directory entry", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgstore: directory entry %d: %w", e.ID, ErrNotFound)
		}
		return audit(ctx, tx, actor, "directory.edit", map[string]any{"entry_id": e.ID, "field": field})
	})
}

func coords(e directory.Entry) (lat, lon *float64) {
	if e.HasCoords {
		return &e.Latitude, &e.Longitude
	}
	return nil, nil
}

// directoryErr tells a duplicate name and address (ErrExists) from other
// refusals.
func directoryErr(op string, err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("pgstore: %s: %w", op, ErrExists)
	}
	return classify(op, err)
}
