//go:build !prod

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/seed"
	"github.com/needsbot/needsbot/internal/trykit"
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

With --walks W (fewer than N), only W interviews are walked and the rest are
copies of them made in the database (set-based SQL): same answers, new ids,
record keys and times. 1,000,000 interviews take minutes instead of an hour.

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
	rseed := fs.Uint64("seed", 1, "random seed (the same seed gives the same answers)")
	batch := fs.Int("batch", 5000, "interviews per COPY transaction")
	workers := fs.Int("workers", 2, "goroutines walking the questionnaires")
	walks := fs.Int("walks", 0, "walk only this many interviews and clone them in SQL up to --responses (0: walk them all)")
	perBatch := fs.Bool("rollup-per-batch", false, "update the results rollup with every batch (default: rebuild it once at the end, faster)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n <= 0 || *days <= 0 || *batch <= 0 || *workers <= 0 || *walks < 0 || fs.NArg() > 0 {
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
	places, err := seed.Places(ctx, db, *muni)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	start := time.Now()
	walked := *n
	if *walks > 0 && *walks < *n {
		walked = *walks
	}
	st, err := seed.Store(ctx, db, lib, places, seed.Options{N: walked, Days: *days, Seed: *rseed, Batch: *batch,
		Workers: *workers, Now: start, Progress: e.stderr, Rollup: *perBatch})
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot seed:", err)
		return 1
	}
	if walked < *n {
		c, a, err := db.CloneSynthetic(ctx, *n, *days, start, *perBatch, func(stored int) {
			fmt.Fprintf(e.stderr, "seed: %d of %d interviews stored (cloned in SQL)\n", stored, *n)
		})
		if err != nil {
			fmt.Fprintln(e.stderr, "needsbot seed:", err)
			return 1
		}
		st.Completed, st.Abandoned = st.Completed+c, st.Abandoned+a
	}
	if *perBatch {
		fmt.Fprintln(e.stderr, "seed: the rollup job counts what is pending")
		if _, err := db.CatchUpRollups(ctx, true); err != nil {
			fmt.Fprintln(e.stderr, "needsbot seed:", err)
			return 1
		}
	} else {
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
		st.Completed+st.Abandoned, st.Completed, st.Abandoned, el.Round(time.Millisecond),
		float64(st.Completed+st.Abandoned)/el.Seconds())
	return 0
}
