//go:build !prod

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// NEEDSBOT_DEV_HEAPPROFILE=/path (development builds only, not in the prod
// build): every second the process writes a heap profile to /path.N
// (N = seconds since start), for finding where memory goes under
// `needsbot loadtest` (which passes this variable through to the bot:
// it is read here, not by the configuration). Analyse with
// `go tool pprof -sample_index=inuse_space /path.N`.
func init() {
	path := os.Getenv("NEEDSBOT_DEV_HEAPPROFILE")
	if path == "" {
		return
	}
	os.Unsetenv("NEEDSBOT_DEV_HEAPPROFILE")
	go func() {
		for i := 0; ; i++ {
			time.Sleep(time.Second)
			f, err := os.Create(fmt.Sprintf("%s.%d", path, i))
			if err != nil {
				return
			}
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}()
}
