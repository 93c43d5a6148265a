package main

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// testParallel is how many of this package's parallel tests run at once
// unless -test.parallel says otherwise (its default is GOMAXPROCS: 2 on
// the CI machine). Most of the end-to-end tests' time is waiting — for
// Telegram's pacing of a chat (about a message a second), for the bot's
// replies, for a browser — not CPU, and each has its own Redis key prefix,
// Postgres database, fake Bot API server and ports, so more of them than
// cores can wait at once.
const testParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(testParallel)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
