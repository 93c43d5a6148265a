package main

import "runtime/debug"

// runGCPercent is the garbage collector's target of `needsbot run` when
// GOGC is not set: the heap may grow to 1.5 times the live data between
// collections instead of Go's default 2 times. The bot's live heap is
// small and steady (some 20 MiB under load: the questionnaires and the
// message catalogs of every language), and the collector takes about 1 %
// of its CPU, so collecting more often costs little CPU and keeps the
// peak RSS some 10 MiB lower (issue 19). A heap that grows (a large
// export) still gets room in proportion, unlike with a fixed
// GOMEMLIMIT. GOGC (and GOMEMLIMIT) in the environment take precedence.
const runGCPercent = 50

// tuneGC sets runGCPercent unless getenv has GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(runGCPercent)
	}
}
