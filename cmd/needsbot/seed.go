//go:build !prod

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/pgstore"
)

const seedUsage = `usage: needsbot seed --responses N [--municipality ISTAT] [--days 180] [--seed 1]

Generates N synthetic interviews for benchmarks and demos: random but valid
walks of the real questionnaires (mostly immigrants, some operators; about 15%%
abandoned after consent), spread over the last --days days and over the
municipalities (all, or the one given) and their services, bulk-inserted with
COPY. Response ids start with "seed-"; no respondent pseudonyms. It reads
NEEDSBOT_DATABASE_URL (or --database-url) like migrate does, and migrates first.
It refuses a database holding real staff or responses (anything but its own
"seed-" responses and try's demo data): synthetic answers would be counted.

`

// runSeed is `needsbot seed`.
func runSeed(ctx context.Context, e *cmdEnv, args []string) int {
	cfg, _, err := loadConfig("seed", nil, e.getenv, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, seedUsage); fs.PrintDefaults() }
	dsn := fs.String("database-url", cfg.DatabaseURL, "Postgres ($NEEDSBOT_DATABASE_URL)")
	n := fs.Int("responses", 0, "interviews to generate (completed and abandoned)")
	muni := fs.String("municipality", "", "ISTAT code: only this municipality (default: every one)")
	days := fs.Int("days", 180, "spread the interviews over this many days before now")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same answers)")
	batch := fs.Int("batch", 5000, "interviews per COPY transaction")
	workers := fs.Int("workers", 2, "goroutines walking the questionnaires")
	perBatch := fs.Bool("rollup-per-batch", false, "update the results rollup with every batch (default: rebuild it once at the end, faster)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n <= 0 || *days <= 0 || *batch <= 0 || *workers <= 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	lib, err := forms.Load(cfg.FormsDir)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed: questionnaires:", err)
		return 1
	}
	// Synthetic answers must never be counted with real ones.
	if err := pgstore.CheckDemoDatabase(ctx, *dsn, trykit.DemoStaff()); err != nil {
		fmt.Fprintf(e.stderr, "needsbot seed: refusing %s: %v; seed only an empty, synthetic or try database\n", redactURL(*dsn), err)
		return 1
	}
	if err := pgstore.Migrate(ctx, *dsn); err != nil {
		fmt.Fprintf(e.stderr, "needsbot seed: %s: %v\n", redactURL(*dsn), err)
		return 1
	}
	db, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	defer db.Close()
	places, err := seedPlaces(ctx, db, *muni)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	start := time.Now()
	st, err := seedResponses(ctx, db, lib, places, seedOptions{N: *n, Days: *days, Seed: *seed, Batch: *batch,
		Workers: *workers, Now: start, Progress: e.stderr, Rollup: *perBatch})
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	if !*perBatch {
		fmt.Fprintln(e.stderr, "seed: rebuilding the results rollup")
		if err := db.RebuildRollups(ctx); err != nil {
			fmt.Fprintln(e.stderr, "needsbot seed:", err)
			return 1
		}
	}
	if err := db.VacuumAnalyze(ctx); err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	el := time.Since(start)
	fmt.Fprintf(e.stdout, "seeded %d interviews (%d completed, %d abandoned) in %s (%.0f/s)\n",
		st.completed+st.abandoned, st.completed, st.abandoned, el.Round(time.Millisecond),
		float64(st.completed+st.abandoned)/el.Seconds())
	return 0
}

// seedPlaces lists the municipalities (all, or the one with ISTAT code
// istat) with their services.
func seedPlaces(ctx context.Context, db *pgstore.DB, istat string) ([]results.SynthPlace, error) {
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

type seedOptions struct {
	N, Days, Batch, Workers int
	Seed                    uint64
	Now                     time.Time
	Rollup                  bool      // update the rollup per batch, instead of rebuilding it at the end
	Progress                io.Writer // nil: quiet
}

type seedStats struct{ completed, abandoned int }

// seedResponses generates opt.N interviews with opt.Workers walkers and
// stores them in batches with COPY, while the walkers go on.
func seedResponses(ctx context.Context, db *pgstore.DB, lib *dialog.Library, places []results.SynthPlace, opt seedOptions) (seedStats, error) {
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
	var st seedStats
	last := time.Now()
	for b := range batches {
		if _, err := db.CopyResponses(ctx, b.done, opt.Rollup); err != nil {
			return st, err
		}
		if _, err := db.CopyAbandoned(ctx, b.ab); err != nil {
			return st, err
		}
		st.completed += len(b.done)
		st.abandoned += len(b.ab)
		if opt.Progress != nil && time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(opt.Progress, "seed: %d of %d interviews stored\n", st.completed+st.abandoned, opt.N)
		}
	}
	select {
	case err := <-errc:
		return st, err
	default:
	}
	return st, nil
}
