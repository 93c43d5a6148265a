//go:build !prod

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/needsbot/needsbot/internal/chaos"
)

// runChaos is `needsbot chaos`: the fault matrix of issue 17 against this
// binary (internal/chaos does the work; this only reads flags).
func runChaos(ctx context.Context, e *cmdEnv, args []string) int {
	o := chaos.Options{Progress: e.stderr}
	var only, botLog string
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(&o.Short, "short", false, "bounded form: few respondents, outages scaled down (seconds instead of a minute), the whole matrix in a few minutes")
	fs.DurationVar(&o.Duration, "duration", 0, "after the matrix, inject random faults for this long (default 5m, or 20s with --short; 0s: none)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the respondents' choices and of the random faults")
	fs.IntVar(&o.Respondents, "respondents", 0, "simulated respondents per fault (default 12, or 4 with --short)")
	fs.StringVar(&o.Bin, "bin", "", "needsbot binary to run (default: this executable)")
	fs.StringVar(&o.RedisURL, "redis", "redis://127.0.0.1:6379/0", "Redis server (the run uses its own key prefix and deletes its keys after)")
	fs.StringVar(&o.DatabaseURL, "db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres server on which a fresh database is created for the run and dropped after")
	fs.StringVar(&only, "only", "", "comma-separated fault names to run (as in the table; \"random\" for the random phase)")
	fs.StringVar(&botLog, "bot-log", "", "write the replicas' logs to this file")
	fs.DurationVar(&o.WebhookTailDelay, "webhook-tail-delay", 0, "the webhook replicas' NEEDSBOT_TAIL_DELAY (0: the README's setting without chat affinity; 30s: a rolling deploy's two replicas with the default)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: needsbot chaos [flags]\n\nRuns two webhook replicas behind a loopback load balancer and one polling replica of this binary\nagainst Redis and Postgres behind cuttable proxies and a fake Bot API, walks simulated respondents\nthrough the questionnaire, injects each fault of the matrix and then random ones, and prints a table.\nExits 1 if a response was lost or doubled or an update applied twice.\n\nflags:")
		fs.PrintDefaults()
	}
	durationSet := false
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "needsbot chaos: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if !durationSet {
		o.Duration = 5 * time.Minute
		if o.Short {
			o.Duration = 20 * time.Second
		}
	}
	if o.Respondents == 0 {
		o.Respondents = 12
		if o.Short {
			o.Respondents = 4
		}
	}
	if o.Respondents < 1 || o.Duration < 0 {
		fmt.Fprintln(e.stderr, "needsbot chaos: --respondents must be positive and --duration not negative")
		return 2
	}
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	if o.Bin == "" {
		bin, err := os.Executable()
		if err != nil {
			fmt.Fprintln(e.stderr, "needsbot chaos: find this executable (use --bin):", err)
			return 1
		}
		o.Bin = bin
	}
	if botLog != "" {
		f, err := os.Create(botLog)
		if err != nil {
			fmt.Fprintln(e.stderr, "needsbot chaos:", err)
			return 1
		}
		defer f.Close()
		o.BotLog = f
	}
	rep, err := chaos.Run(ctx, o)
	if rep != nil {
		rep.WriteTable(e.stdout)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot chaos:", err)
		return 1
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
