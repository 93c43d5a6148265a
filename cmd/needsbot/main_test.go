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

// asNeedsbot, set in a child's environment, makes this test binary be
// needsbot: main() with the child's arguments (see needsbotBinary).
const asNeedsbot = "GO_TEST_AS_NEEDSBOT"

func TestMain(m *testing.M) {
	if os.Getenv(asNeedsbot) == "1" {
		main()
	}
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
