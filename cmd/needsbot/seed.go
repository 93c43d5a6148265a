package main

import (
	"context"
	"fmt"
)

// runSeed is `needsbot seed` (not built yet).
func runSeed(_ context.Context, e *cmdEnv, _ []string) int {
	fmt.Fprintln(e.stderr, "needsbot seed: not available yet")
	return 2
}
