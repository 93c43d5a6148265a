// Package devheap writes heap profiles of a development build at a steady
// pace, for finding where memory goes under `needsbot loadtest`
// (NEEDSBOT_DEV_HEAPPROFILE). The production build does not import it.
package devheap

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// Run writes a heap profile to path.N every second (N = seconds since it
// started) until a file cannot be created. Analyse with
// `go tool pprof -sample_index=inuse_space path.N`.
func Run(path string) {
	for i := 0; ; i++ {
		time.Sleep(time.Second)
		f, err := os.Create(fmt.Sprintf("%s.%d", path, i))
		if err != nil {
			return
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
}
