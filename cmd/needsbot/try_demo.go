//go:build !prod

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/internal/seed"
	"github.com/needsbot/needsbot/internal/trykit"
)

// seedDemo sets up the demo staff and invite (idempotently: a local
// database keeps them between runs); see pgstore.SeedDemo.
func seedDemo(ctx context.Context, a *app, istat string) (trykit.Demo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := ""
	if ids := a.forms.Respondents(); len(ids) > 0 {
		form = ids[0]
	}
	got, err := a.db.SeedDemo(ctx, form, istat, trykit.DemoOperatorID, trykit.DemoManagerID, "Giulia (demo operator)", "Marco (demo manager)", trykit.DemoToken())
	if err != nil {
		return trykit.Demo{}, err
	}
	if err := a.db.MarkDemoDatabase(ctx); err != nil {
		return trykit.Demo{}, err
	}
	if err := seedDemoDirectory(ctx, a.db, istat); err != nil {
		return trykit.Demo{}, fmt.Errorf("demo service directory: %w", err)
	}
	return trykit.Demo{Municipality: got.Municipality, Service: got.Service, Invite: got.Invite, Staff: true}, nil
}

// seedAction fills the try database's demo municipality with synthetic
// interviews (what `needsbot seed` does), so that a manager's first
// /results shows charts rather than a wall of hidden small counts.
func seedAction(a *app, istat string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		places, err := seed.Places(ctx, a.db, istat)
		if err != nil {
			return "", err
		}
		st, err := seed.Store(ctx, a.db, a.forms, places, seed.Options{N: trykit.DemoSeedN, Days: 90, Seed: uint64(time.Now().UnixNano()),
			Batch: 1000, Workers: 2, Now: time.Now()})
		if err != nil {
			return "", err
		}
		if err := a.db.RebuildRollups(ctx); err != nil {
			return "", err
		}
		return fmt.Sprintf("Added %d synthetic interviews (%d completed, %d abandoned) over the last 90 days. "+
			"They are made up, spread like real answers: send /results to see the charts.", st.Completed+st.Abandoned, st.Completed, st.Abandoned), nil
	}
}
