package main

import (
	"context"
	"fmt"
)

// runAdmin is `needsbot admin` (not built yet).
func runAdmin(_ context.Context, e *cmdEnv, _ []string) int {
	fmt.Fprintln(e.stderr, "needsbot admin: not available yet")
	return 2
}
