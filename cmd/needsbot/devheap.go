//go:build !prod

package main

import (
	"os"
	"runtime"

	"github.com/needsbot/needsbot/internal/devheap"
)

// NEEDSBOT_DEV_HEAPPROFILE=/path (development builds only, not in the prod
// build): every second the process writes a heap profile to /path.N
// (internal/devheap). `needsbot loadtest` passes this variable through to
// the bot; it is read here, not by the configuration.
//
// Without it, and without NEEDSBOT_PPROF_ADDR (pprof_dev.go), `needsbot
// run` of a development build samples no heap profile, like the
// production build (whose linker turns heap profiling off: nothing reads
// it). The runtime's profile buckets and their 1.4 MB hash table
// otherwise grow with every allocation site sampled: some 1.5–2 MiB of
// the bot's peak RSS under `needsbot loadtest` and the peers' bench, which
// run development builds (issue 19). Other commands and test binaries
// (go test -memprofile) keep Go's default.
func init() {
	path := os.Getenv("NEEDSBOT_DEV_HEAPPROFILE")
	if path == "" {
		if len(os.Args) > 1 && os.Args[1] == "run" && os.Getenv("NEEDSBOT_PPROF_ADDR") == "" {
			runtime.MemProfileRate = 0
		}
		return
	}
	os.Unsetenv("NEEDSBOT_DEV_HEAPPROFILE")
	go devheap.Run(path)
}
