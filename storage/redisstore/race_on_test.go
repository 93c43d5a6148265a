//go:build race

package redisstore_test

// raceOn: the race detector is on (allocation counts are not exact).
const raceOn = true
