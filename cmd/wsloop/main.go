// Command wsloop runs a wsloop WebSocket server. The default mode, echo,
// sends every message back on every path:
//
//	wsloop -addr 127.0.0.1:8080
//
// Every flag can also be set by an environment variable named WSLOOP_ and
// the flag's name in capitals with '-' as '_' (WSLOOP_MAX_CONNS=10000);
// a flag on the command line wins. It logs with log/slog and drains
// gracefully (1001 Going Away, /healthz 503) on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/server"
)

func main() {
	if err := run(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "wsloop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	f, err := parseFlags(args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	// The heap's headroom is part of RSS: GOGC trades it for GC CPU, and
	// a memory limit caps it (see README, "Memory per idle connection").
	if f.gogc != 0 {
		debug.SetGCPercent(f.gogc)
	}
	if f.memLimit > 0 {
		debug.SetMemoryLimit(f.memLimit)
	}
	var h server.Handler
	switch f.mode {
	case "echo":
		h = server.Echo()
	default:
		return fmt.Errorf("unknown -mode %q (want echo)", f.mode)
	}
	opts, err := f.options(logger)
	if err != nil {
		return err
	}
	srv := server.New(h, opts...)
	if err := srv.Start(f.addr); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	adminDone := make(chan error, 1)
	if f.admin != "" {
		ln, err := net.Listen("tcp", f.admin)
		if err != nil {
			_ = srv.Shutdown(ctx)
			return fmt.Errorf("-admin: %w", err)
		}
		go func() { adminDone <- admin.Serve(ctx, ln, srv) }()
	}
	logger.Info("listening", "addr", srv.Addr(), "tls", srv.TLSAddr(), "admin", f.admin,
		"mode", f.mode, "pid", os.Getpid(), "reuseport", f.reusePort, "compress", f.compress)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		logger.Info("draining", "signal", s.String(), "connections", srv.Connections())
	case err := <-adminDone:
		logger.Error("admin listener", "err", err)
	}
	drain, cancel := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	logger.Info("stopped")
	return nil
}
