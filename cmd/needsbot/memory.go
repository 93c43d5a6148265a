package main

import (
	"runtime/debug"

	"github.com/redis/go-redis/v9"
)

// runGCPercent is the garbage collector's target of `needsbot run` when
// GOGC is not set: the heap may grow to 1.5 times the live data between
// collections instead of Go's default 2 times. The bot's live heap is
// small and steady: some 9 MiB under load since the message catalog
// keeps plain texts as strings (18 MiB before, issue 19 session 4; the
// catalog of every language is 1.6 MB of it since session 12, 3.6 MB
// before, the questionnaires, library tables and connection buffers the
// rest: some 4.5 MB live after start). Collecting more often keeps
// the peak RSS lower (each MiB of live heap costs ~1.5 MiB of it) at
// about the GC CPU per update of the old catalog's heap (gctrace: 1.8
// times the cycles, each marking half). GOGC=100 would now save GC
// CPU but costs ~5–6 MiB of peak RSS, which the ⅓-of-the-peer goal (59
// MiB) does not leave (docs/performance.md, "Session 4: memory"). A heap
// that grows (a large export) still gets room in proportion, unlike with
// a fixed GOMEMLIMIT, which does not pay either: under `needsbot loadtest`
// in polling, 1,000 respondents at once, GOMEMLIMIT=28MiB took ~3 MiB
// off the peak RSS for 26–42 % more bot CPU per update, 31MiB nothing
// measurable for 8 % more, 24MiB 5–6 MiB for three times the CPU (session
// 5). Session 7 (webhook load test, 1,000 respondents: 8–10 MB live):
// GOGC=75 took 3–11 % off the bot's CPU for 2.5–3.3 MiB more peak RSS,
// GOGC=100 2.5–9 % for 5–7 MiB, GOGC=100 with GOMEMLIMIT=30MiB neither
// (docs/performance.md, "Session 7: wire"): the polling peak has no such
// room. GOGC (and GOMEMLIMIT) in the environment take precedence.
const runGCPercent = 50

// tuneGC sets runGCPercent unless getenv has GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(runGCPercent)
	}
}

// Per-connection buffers of the Redis client (the URL cannot set them):
// go-redis gives each connection a 32 KiB reader and a 32 KiB writer
// (128 KiB for its pipeline pool), some 4.5 MiB of heap under load
// (issue 19). The bot's commands and replies are a chat's state and
// script calls, mostly well under a kilobyte; a longer reply is read past
// the buffer all the same.
const (
	redisBufferSize         = 4 << 10
	redisPipelineBufferSize = 16 << 10
)

// redisBuffers sets the buffer sizes o leaves at their defaults.
func redisBuffers(o *redis.Options) {
	for _, f := range []struct {
		p *int
		n int
	}{{&o.ReadBufferSize, redisBufferSize}, {&o.WriteBufferSize, redisBufferSize},
		{&o.PipelineReadBufferSize, redisPipelineBufferSize}, {&o.PipelineWriteBufferSize, redisPipelineBufferSize}} {
		if *f.p == 0 {
			*f.p = f.n
		}
	}
}
