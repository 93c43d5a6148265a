package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/org"
)

// ErrNotFound is returned when a looked-up row does not exist.
const ErrNotFound = org.ErrNotFound

// MunicipalityID returns the id of the municipality with ISTAT code istat
// (e.g. "058091" for Roma), or an error wrapping ErrNotFound.
func (d *DB) MunicipalityID(ctx context.Context, istat string) (int64, error) {
	var id int64
	err := d.pool.QueryRow(ctx, `SELECT id FROM municipalities WHERE istat_code = $1`, istat).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: municipality %s: %w", istat, ErrNotFound)
	}
	if err != nil {
		return 0, classify("municipality", err)
	}
	return id, nil
}
