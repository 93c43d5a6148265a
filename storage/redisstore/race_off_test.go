//go:build !race

package redisstore_test

const raceOn = false
