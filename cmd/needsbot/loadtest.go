//go:build !prod

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/needsbot/needsbot/internal/loadtest"
)

// runLoadtest is `needsbot loadtest` (package internal/loadtest). It exits
// 0 only if the report is OK.
func runLoadtest(ctx context.Context, e *cmdEnv, args []string) int {
	o, json, err := parseLoadtestFlags(args, e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot loadtest:", err)
		return 2
	}
	rep, err := loadtest.Run(ctx, o, e.stderr)
	if rep != nil {
		if json {
			_ = rep.WriteJSON(e.stdout)
		} else {
			rep.WriteText(e.stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot loadtest:", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}

func parseLoadtestFlags(args []string, stderr io.Writer) (o loadtest.Options, json bool, err error) {
	o = loadtest.Options{Env: loadtest.EnvFlag{}, TelegramRate: settingDefault("NEEDSBOT_TELEGRAM_RATE")}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Respondents, "respondents", 100, "simulated respondents, each completing the immigrants' interview")
	fs.IntVar(&o.Concurrency, "concurrency", 50, "respondents interviewing at the same time")
	fs.BoolVar(&o.Webhook, "webhook", false, "deliver updates by webhook instead of long polling")
	fs.BoolVar(&o.TelegramLimits, "telegram-limits", false, "enforce Telegram's flood limits in the fake Bot API (and run the bot at its default rates, or --env NEEDSBOT_TELEGRAM_RATE=…); off = a self-hosted Bot API server")
	fs.StringVar(&o.DBURL, "db", loadtest.DefaultDB, "Postgres server on which a fresh database is created for the run and dropped after")
	fs.StringVar(&o.RedisURL, "redis", "redis://127.0.0.1:6379/0", "Redis server (the run uses a unique key prefix and deletes its keys after)")
	fs.StringVar(&o.Bin, "bin", "", "needsbot binary to run (default: this executable)")
	fs.DurationVar(&o.Think, "think", 0, "average pause of a respondent before each update (uniform in [0, 2×think])")
	fs.DurationVar(&o.UpdateTimeout, "update-timeout", time.Minute, "how long one update may take before the respondent gives up")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the respondents' choices")
	fs.BoolVar(&json, "json", false, "print the report as JSON")
	fs.StringVar(&o.BotLog, "bot-log", "", "write the bot's log to this file")
	fs.Var(o.Env, "env", "extra NEEDSBOT_NAME=value setting for the bot (repeatable), e.g. --env NEEDSBOT_WORKERS=64")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: needsbot loadtest [flags]\n\nRuns `needsbot run` against a fake Bot API, a real Redis and a fresh Postgres database,\ndrives simulated respondents through the immigrants' interview and reports what it measured.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, json, err
	}
	if fs.NArg() > 0 {
		return o, json, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, json, o.Check()
}
