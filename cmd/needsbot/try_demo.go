//go:build !prod

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/internal/seed"
	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// seedDemo sets up the demo staff and invite (idempotently: a local
// database keeps them between runs); see pgstore.SeedDemo.
// It returns the demo and the second municipality's ISTAT code (the
// admin's comparison), "" when there is none.
func seedDemo(ctx context.Context, a *app, istat string) (trykit.Demo, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := ""
	if ids := a.forms.Respondents(); len(ids) > 0 {
		form = ids[0]
	}
	got, err := a.db.SeedDemo(ctx, form, istat, pgstore.DemoStaff{Operator: trykit.DemoOperatorID, Manager: trykit.DemoManagerID,
		Admin: trykit.DemoAdminID, OperatorName: "Giulia (demo operator)", ManagerName: "Marco (demo manager)",
		AdminName: "Ada (demo admin)"}, trykit.DemoToken())
	if err != nil {
		return trykit.Demo{}, "", err
	}
	if err := a.db.MarkDemoDatabase(ctx); err != nil {
		return trykit.Demo{}, "", err
	}
	if err := seedDemoDirectory(ctx, a.db, istat); err != nil {
		return trykit.Demo{}, "", fmt.Errorf("demo service directory: %w", err)
	}
	return trykit.Demo{Municipality: got.Municipality, Service: got.Service, Invite: got.Invite, Staff: true, Other: got.Other}, got.OtherISTAT, nil
}

// seedAction fills the try database's demo municipalities (istats) with
// synthetic interviews (what `needsbot seed` does), trykit.DemoSeedN in
// each, so that a manager's first /results shows charts and an admin's
// comparison numbers, rather than a wall of hidden small counts.
func seedAction(a *app, istats ...string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var places []results.SynthPlace
		for _, istat := range istats {
			ps, err := seed.Places(ctx, a.db, istat)
			if err != nil {
				return "", err
			}
			for i := range ps {
				ps[i].Weight = 1 // as many in each
			}
			places = append(places, ps...)
		}
		st, err := seed.Store(ctx, a.db, a.forms, places, seed.Options{N: trykit.DemoSeedN * len(istats), Days: 90, Seed: uint64(time.Now().UnixNano()),
			Batch: 1000, Workers: 2, Now: time.Now()})
		if err != nil {
			return "", err
		}
		if err := a.db.RebuildRollups(ctx); err != nil {
			return "", err
		}
		next := "send /results to see the charts."
		if len(istats) > 1 {
			next = "send /results, then ⚖️ Compare to see the municipalities side by side."
		}
		return fmt.Sprintf("Added %d synthetic interviews (%d completed, %d abandoned) over the last 90 days. "+
			"They are made up, spread like real answers: %s", st.Completed+st.Abandoned, st.Completed, st.Abandoned, next), nil
	}
}
