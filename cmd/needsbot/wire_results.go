package main

import (
	"context"
	"fmt"

	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/staff"
)

// wireResults builds /results and /export (package results), with the
// minimum cell size of NEEDSBOT_MIN_CELL. It returns nil if the service
// cannot be built (it logs why): the staff dispatcher then answers those
// commands as unknown rather than the bot failing to start.
func (a *app) wireResults() staff.Results {
	svc, err := a.newResults()
	if err != nil {
		a.log.Error("results unavailable", "err", err)
		return nil
	}
	return svc
}

// newResults builds the results service from the app's parts.
func (a *app) newResults() (*results.Service, error) {
	return results.New(results.Options{Places: a.db, Services: a.db, Counts: a.db, Rows: a.db, Auditor: a.db, Reporting: a.db,
		Library: a.lib, MinCell: a.cfg.MinCell, Logger: a.log})
}

// syncReporting refreshes the BI views' questions and labels (they live in
// the questionnaires and locales/, not in the database): at every start,
// after the migrations.
func (a *app) syncReporting(ctx context.Context) error {
	svc, err := a.newResults()
	if err != nil {
		return err
	}
	if err := svc.SyncReporting(ctx); err != nil {
		return fmt.Errorf("reporting labels: %w", err)
	}
	return nil
}
