//go:build prod

package main

import (
	"context"
	"fmt"
	"log/slog"
)

// The production build (go build -tags prod, deploy/Dockerfile) leaves out
// the development commands and what only they need: the fake Bot API
// (bot/telegramtest), the web chat (bot/webchat), the embedded Redis
// (miniredis), the load test, the fault matrix and synthetic data. They stay listed, so that
// `needsbot help` is the same in every build, and say where they are.
func runTry(_ context.Context, e *cmdEnv, _ []string) int      { return notInThisBuild(e, "try") }
func runLoadtest(_ context.Context, e *cmdEnv, _ []string) int { return notInThisBuild(e, "loadtest") }
func runSeed(_ context.Context, e *cmdEnv, _ []string) int     { return notInThisBuild(e, "seed") }
func runChaos(_ context.Context, e *cmdEnv, _ []string) int    { return notInThisBuild(e, "chaos") }

func notInThisBuild(e *cmdEnv, name string) int {
	fmt.Fprintf(e.stderr, "needsbot %s: not in this build: it is a development command, left out of the production build (-tags prod).\n"+
		"Run it from a source checkout: go run ./cmd/needsbot %s\n", name, name)
	return 2
}

// startPprof is a development aid (pprof_dev.go); never in production.
func startPprof(func(string) string, *slog.Logger) {}
