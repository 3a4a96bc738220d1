package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve lets in-flight requests finish once its
// context ends before it closes their connections; a CPU profile or trace
// still running then is cut short.
const ShutdownGrace = 5 * time.Second

// ListenAndServe listens on addr ("host:port"; normally loopback, see the
// package doc) and serves Handler(src, opts...) there until ctx ends. It returns the
// listen error at once if addr cannot be bound, nil after a stop caused by
// ctx, or the error that stopped the HTTP server otherwise. It blocks: run
// it in a goroutine of its own and cancel ctx on shutdown.
func ListenAndServe(ctx context.Context, addr string, src Source, opts ...Option) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, src, opts...)
}

// Serve serves Handler(src, opts...) on ln until ctx ends, then stops accepting,
// waits up to ShutdownGrace for in-flight requests and closes the rest.
// It takes ownership of ln and closes it. It returns nil after a stop
// caused by ctx, or the error that stopped the HTTP server otherwise.
func Serve(ctx context.Context, ln net.Listener, src Source, opts ...Option) error {
	hs := &http.Server{
		Handler:           Handler(src, opts...),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		// No WriteTimeout: /debug/pprof/profile and /trace write after
		// sampling for as long as the request asks (30 s by default).
	}
	stopped := make(chan struct{}) // closed when hs.Serve has returned
	done := make(chan struct{})    // closed when the watcher has finished
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-stopped:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			_ = hs.Close()
		}
	}()
	err := hs.Serve(ln)
	close(stopped)
	<-done
	if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return err
}
