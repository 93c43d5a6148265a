// Package seed generates synthetic interviews — random but valid walks of
// the real questionnaires (results.Synth) — and stores them in Postgres
// with COPY, for `needsbot seed` and the demo button of `needsbot try`.
// Synthetic answers must never meet real ones: callers check the database
// first (pgstore.CheckDemoDatabase). The production build leaves it out.
package seed

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Places lists the municipalities (all, or the one with ISTAT code
// istat) with their services.
func Places(ctx context.Context, db *pgstore.DB, istat string) ([]results.SynthPlace, error) {
	ms, err := db.Municipalities(ctx)
	if err != nil {
		return nil, err
	}
	var places []results.SynthPlace
	for i, m := range ms {
		if istat != "" && m.ISTAT != istat {
			continue
		}
		svcs, err := db.Services(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		// Larger places first get more interviews (Roma > Milano > Prato).
		places = append(places, results.SynthPlace{ID: m.ID, Weight: float64(len(ms) - i), Services: svcs})
	}
	if len(places) == 0 {
		return nil, fmt.Errorf("no municipality %q", istat)
	}
	return places, nil
}

// Options say how many interviews to generate and how to store them.
type Options struct {
	N, Days, Batch, Workers int
	Seed                    uint64
	Now                     time.Time
	Rollup                  bool      // update the rollup per batch, instead of rebuilding it at the end
	Progress                io.Writer // nil: quiet
}

// Stats count the interviews stored.
type Stats struct{ Completed, Abandoned int }

// Store generates opt.N interviews (results.Synth) with opt.Workers walkers
// and stores them in batches with COPY, while the walkers go on.
func Store(ctx context.Context, db *pgstore.DB, lib *dialog.Library, places []results.SynthPlace, opt Options) (Stats, error) {
	type batch struct {
		done []pgstore.Completed
		ab   []pgstore.Abandoned
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2*opt.Workers)
	errc := make(chan error, opt.Workers)
	var wg sync.WaitGroup
	for w := range opt.Workers {
		share := opt.N / opt.Workers
		if w == 0 {
			share += opt.N % opt.Workers
		}
		wg.Go(func() {
			g := &results.Synth{Forms: lib, Places: places, Now: opt.Now, Days: opt.Days,
				Rand: rand.New(rand.NewPCG(opt.Seed, uint64(w)))}
			var b batch
			flush := func() bool {
				select {
				case batches <- b:
					b = batch{}
					return true
				case <-ctx.Done():
					return false
				}
			}
			for i := 0; i < share; i++ {
				c, a, err := g.Next()
				if err != nil {
					errc <- err
					return
				}
				if c != nil {
					b.done = append(b.done, *c)
				} else {
					b.ab = append(b.ab, *a)
				}
				if len(b.done)+len(b.ab) >= opt.Batch && !flush() {
					return
				}
			}
			if len(b.done)+len(b.ab) > 0 {
				flush()
			}
		})
	}
	go func() { wg.Wait(); close(batches) }()
	var st Stats
	last := time.Now()
	for b := range batches {
		if _, err := db.CopyResponses(ctx, b.done, opt.Rollup); err != nil {
			return st, err
		}
		if _, err := db.CopyAbandoned(ctx, b.ab); err != nil {
			return st, err
		}
		st.Completed += len(b.done)
		st.Abandoned += len(b.ab)
		if opt.Progress != nil && time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(opt.Progress, "seed: %d of %d interviews stored\n", st.Completed+st.Abandoned, opt.N)
		}
	}
	select {
	case err := <-errc:
		return st, err
	default:
	}
	return st, nil
}
