//go:build !prod

package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// startPprof serves net/http/pprof on NEEDSBOT_PPROF_ADDR (e.g.
// 127.0.0.1:6060) when it is set: a development aid for profiling the bot
// under `needsbot loadtest --env NEEDSBOT_PPROF_ADDR=127.0.0.1:6060`. It is
// off unless set and absent from the production build (-tags prod).
func startPprof(getenv func(string) string, log *slog.Logger) {
	addr := getenv("NEEDSBOT_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Warn("pprof listener stopped", "err", err)
		}
	}()
}
