// Package admin serves a wsloop server's operator endpoints on an address
// of their own, apart from the WebSocket listener:
//
//	/                 a plain-text index of these endpoints
//	/metrics          Prometheus metrics, every series named wsloop_*
//	/debug/pprof/     Go profiles (net/http/pprof)
//	/publish/{topic}  POST: publish the body on a pubsub topic (WithPublisher)
//
// Profiles and metrics reveal internals and cost CPU, and the publish
// endpoint takes no credentials, so the admin address should normally be
// loopback (127.0.0.1:9090) or otherwise unreachable from clients:
//
//	go func() {
//		if err := admin.ListenAndServe(ctx, "127.0.0.1:9090", srv); err != nil {
//			logger.Error("admin listener", "err", err)
//		}
//	}()
//
// The endpoints run on a ServeMux of their own, never http.DefaultServeMux.
// Importing this package still has net/http/pprof's side effect of adding
// /debug/pprof/ to http.DefaultServeMux, which matters only to a program
// that serves that mux somewhere else.
package admin

import (
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// index is the body of GET /; publishIndex is added with WithPublisher.
const (
	index = `wsloop admin
/metrics        Prometheus metrics (wsloop_*)
/debug/pprof/   Go profiles (net/http/pprof)
`
	publishIndex = "/publish/{topic}  POST: publish the body on topic (?key=K: state and conflation key; ?kind=delete|event)\n"
)

// Handler returns the admin endpoints for src (normally a *server.Server)
// on a new ServeMux: a plain-text index at /, the metrics of
// NewRegistry(src, opts...) at /metrics, and net/http/pprof's Index,
// Cmdline, Profile, Symbol and Trace under /debug/pprof/ (Index also
// serves the named profiles, such as /debug/pprof/heap). Each call builds
// its own registry. WithPublisher adds POST /publish/{topic}
// (PublishHandler); WithHub adds the wsloop_pubsub_* series.
// The handler is safe for concurrent requests; other paths answer 404.
func Handler(src Source, opts ...Option) http.Handler {
	cfg := newConfig(opts)
	text := index
	mux := http.NewServeMux()
	if cfg.pub != nil {
		text += publishIndex
		mux.Handle("/publish/{topic...}", PublishHandler(cfg.pub))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, text)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(NewRegistry(src, opts...), promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
