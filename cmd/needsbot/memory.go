package main

import (
	"runtime/debug"

	"github.com/redis/go-redis/v9"
)

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
