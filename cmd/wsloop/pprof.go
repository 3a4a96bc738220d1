//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
)

func init() {
	servePprof = func(addr string, logger *slog.Logger) {
		if err := http.ListenAndServe(addr, nil); err != nil {
			logger.Error("pprof listener", "err", err)
		}
	}
}
