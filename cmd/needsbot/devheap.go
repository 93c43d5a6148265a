//go:build !prod

package main

import (
	"os"

	"github.com/needsbot/needsbot/internal/devheap"
)

// NEEDSBOT_DEV_HEAPPROFILE=/path (development builds only, not in the prod
// build): every second the process writes a heap profile to /path.N
// (internal/devheap). `needsbot loadtest` passes this variable through to
// the bot; it is read here, not by the configuration.
func init() {
	path := os.Getenv("NEEDSBOT_DEV_HEAPPROFILE")
	if path == "" {
		return
	}
	os.Unsetenv("NEEDSBOT_DEV_HEAPPROFILE")
	go devheap.Run(path)
}
