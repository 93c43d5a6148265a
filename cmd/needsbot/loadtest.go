package main

import (
	"context"
	"fmt"
)

// runLoadtest is `needsbot loadtest` (not built yet).
func runLoadtest(_ context.Context, e *cmdEnv, _ []string) int {
	fmt.Fprintln(e.stderr, "needsbot loadtest: not available yet")
	return 2
}
