//go:build race

package bot

// raceOn: the race detector is on (sync.Pool drops some of what it is
// given, so allocation counts are not exact).
const raceOn = true
