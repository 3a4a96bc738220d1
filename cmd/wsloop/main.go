// Command wsloop runs a wsloop WebSocket server. The default mode, echo,
// sends every message back on every path:
//
//	wsloop -addr 127.0.0.1:8080
//
// It logs with log/slog and drains gracefully (1001 Going Away) on SIGINT
// or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/poller"
	"github.com/wsloop/wsloop/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsloop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wsloop", flag.ContinueOnError)
	var (
		addr          = fs.String("addr", "127.0.0.1:8080", "listen address host:port")
		mode          = fs.String("mode", "echo", "what to serve: echo")
		loops         = fs.Int("loops", 0, "event loops (0: one per CPU)")
		workers       = fs.Int("workers", 0, "handler worker goroutines (0: 4 per CPU)")
		mailbox       = fs.Int("mailbox", poller.DefaultMailboxSize, "messages queued per connection before its input pauses")
		maxQueued     = fs.Int64("max-queued-bytes", poller.DefaultMaxQueuedBytes, "bytes queued for handlers on all connections")
		maxMsg        = fs.Int64("max-message-size", poller.DefaultMaxMessageSize, "largest message accepted, bytes (1009 past it)")
		maxHead       = fs.Int("max-head-size", 8<<10, "largest HTTP request head, bytes (431 past it)")
		handshakeTO   = fs.Duration("handshake-timeout", poller.DefaultHandshakeTimeout, "time allowed to complete the upgrade")
		idleTO        = fs.Duration("idle-timeout", 0, "close connections silent this long (0: off)")
		pingInterval  = fs.Duration("ping-interval", poller.DefaultPingInterval, "ping connections silent this long (negative: off)")
		pongTimeout   = fs.Duration("pong-timeout", poller.DefaultPongTimeout, "wait this long after a ping before closing with 1011")
		closeTimeout  = fs.Duration("close-timeout", poller.DefaultCloseTimeout, "wait this long for the peer's close frame")
		reusePort     = fs.Bool("reuseport", false, "SO_REUSEPORT: several processes share the port")
		drainTimeout  = fs.Duration("drain-timeout", 10*time.Second, "how long shutdown waits for connections to close")
		logFormat     = fs.String("log-format", "text", "log format: text or json")
		logLevel      = fs.String("log-level", "info", "log level: debug, info, warn, error")
		readBufferCap = fs.Int("read-buffer", poller.DefaultReadBufferCap, "bytes read per event per loop")
		trimMemory    = fs.Bool("trim-memory", true, "return free heap to the OS after connection storms")
		pprofAddr     = fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060; needs -tags pprof)")
		gogc          = fs.Int("gogc", 0, "Go GC target percentage, as GOGC (0: leave the runtime's setting; negative: GC off)")
		memLimit      = fs.Int64("memory-limit", 0, "Go soft memory limit in bytes, as GOMEMLIMIT (0: leave the runtime's setting)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(*logFormat, *logLevel)
	if err != nil {
		return err
	}
	// The heap's headroom is part of RSS: GOGC trades it for GC CPU, and
	// a memory limit caps it (see README, "Memory per idle connection").
	if *gogc != 0 {
		debug.SetGCPercent(*gogc)
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit)
	}
	var h server.Handler
	switch *mode {
	case "echo":
		h = server.Echo()
	default:
		return fmt.Errorf("unknown -mode %q (want echo)", *mode)
	}
	srv := server.New(h,
		server.WithEventLoops(*loops),
		server.WithWorkers(*workers),
		server.WithMailboxSize(*mailbox),
		server.WithMaxQueuedBytes(*maxQueued),
		server.WithMaxMessageSize(*maxMsg),
		server.WithMaxRequestHeadSize(*maxHead),
		server.WithHandshakeTimeout(*handshakeTO),
		server.WithIdleTimeout(*idleTO),
		server.WithPingInterval(*pingInterval),
		server.WithPongTimeout(*pongTimeout),
		server.WithCloseTimeout(*closeTimeout),
		server.WithReusePort(*reusePort),
		server.WithReadBufferCap(*readBufferCap),
		server.WithMemoryTrim(*trimMemory),
		server.WithLogger(logger),
	)
	if err := srv.Start(*addr); err != nil {
		return err
	}
	if *pprofAddr != "" {
		if servePprof == nil {
			return errors.New("-pprof needs a build with -tags pprof (go build -tags pprof ./cmd/wsloop)")
		}
		go servePprof(*pprofAddr, logger)
	}
	logger.Info("listening", "addr", srv.Addr(), "mode", *mode, "pid", os.Getpid(), "reuseport", *reusePort)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	logger.Info("draining", "signal", s.String(), "connections", srv.Connections())
	ctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// servePprof serves net/http/pprof; set only in builds with -tags pprof
// (pprof.go), which keeps net/http out of the default binary.
var servePprof func(addr string, logger *slog.Logger)

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
