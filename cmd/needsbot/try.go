package main

import (
	"context"
	"fmt"
)

// runTry is `needsbot try` (not built yet).
func runTry(_ context.Context, e *cmdEnv, _ []string) int {
	fmt.Fprintln(e.stderr, "needsbot try: not available yet")
	return 2
}
