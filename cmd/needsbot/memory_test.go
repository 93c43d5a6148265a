package main

import (
	"runtime/debug"
	"testing"
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
