package main

import (
	"runtime/debug"
	"testing"

	"github.com/redis/go-redis/v9"
)

// `needsbot run` collects at GOGC=50 unless GOGC is set.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != runGCPercent {
		t.Fatalf("without GOGC: GC percent %d, want %d", got, runGCPercent)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set: GC percent changed to %d", got)
	}
}

// The Redis client's buffers shrink unless already set.
func TestRedisBuffers(t *testing.T) {
	o, err := redis.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	o.ReadBufferSize = 65536
	redisBuffers(o)
	if o.ReadBufferSize != 65536 || o.WriteBufferSize != redisBufferSize || o.PipelineReadBufferSize != redisPipelineBufferSize {
		t.Fatalf("buffers: read %d write %d pipeline read %d", o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize)
	}
}
