package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// slow stretches d, a test's bound on a wait sized for a quiet machine,
// by how loaded the machine is now: the one-minute load average per CPU,
// at least 1 and at most maxSlow. On a shared CI machine running the race
// detector (load 35 on 2 cores was seen) a bot's answer legitimately takes
// many times longer than on a quiet one; a hung bot still fails the test,
// after at most maxSlow times the bound. Bounds that are part of what a
// test checks (a wait shorter than a periodic fallback, an outage's
// length) are not stretched.
func slow(d time.Duration) time.Duration {
	return time.Duration(float64(d) * loadFactor())
}

const maxSlow = 10

// loadFactor is the one-minute load average per CPU, clamped to
// [1, maxSlow]; 1 where /proc/loadavg cannot be read.
func loadFactor() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 1
	}
	load, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 1
	}
	return min(max(load/float64(runtime.NumCPU()), 1), maxSlow)
}
