package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// runMigrate applies the embedded migrations (under an advisory lock, so it
// is safe next to running replicas). It needs only NEEDSBOT_DATABASE_URL.
func runMigrate(ctx context.Context, e *cmdEnv, args []string) int {
	cfg, _, err := loadConfig("migrate", args, e.getenv, e.stderr)
	if errors.Is(err, flagHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	if err := pgstore.Migrate(ctx, cfg.DatabaseURL); err != nil {
		fmt.Fprintf(e.stderr, "needsbot migrate: %s: %v\n", redactURL(cfg.DatabaseURL), err)
		return 1
	}
	fmt.Fprintln(e.stdout, "migrations applied")
	return 0
}
