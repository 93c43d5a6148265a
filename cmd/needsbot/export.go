package main

import (
	"context"
	"fmt"
)

// runExport is `needsbot export` (not built yet).
func runExport(_ context.Context, e *cmdEnv, _ []string) int {
	fmt.Fprintln(e.stderr, "needsbot export: not available yet")
	return 2
}
