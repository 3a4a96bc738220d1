// Command wsloop runs a wsloop WebSocket server. The default mode, echo,
// sends every message back on every path:
//
//	wsloop -addr 127.0.0.1:8080
//
// -mode pubsub serves topics over the wire protocol of package pubsub
// (subprotocols wsloop.json and wsloop.bin), and -admin then also accepts
// POST /publish/{topic}. -mode feed adds a synthetic market feed (package
// feed) and its live ticker page at http://ADDR/:
//
//	wsloop -mode feed -admin 127.0.0.1:9090
//
// -procs N runs N worker processes on one port (SO_REUSEPORT) under a
// supervisor that restarts a worker that dies and, on SIGHUP, starts new
// workers (from the binary now on disk) before draining the old ones; see
// supervisor.go. In pubsub and feed mode the workers share topics through
// -nats:
//
//	wsloop -procs 4 -mode feed -nats nats://127.0.0.1:4222 -admin 127.0.0.1:9090
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
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/server"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if err := run(os.Args[1:], os.LookupEnv, os.Stderr, stop, nil); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "wsloop:", err)
		os.Exit(1)
	}
}

// run parses args (and the environment through lookupEnv; usage and parse
// errors go to out), serves until a signal arrives on stop or the admin
// listener fails, then drains. started, if not nil, is called once
// everything listens, with the server and the admin listener's address
// (nil without -admin).
func run(args []string, lookupEnv func(string) (string, bool), out io.Writer, stop <-chan os.Signal,
	started func(srv *server.Server, adminAddr net.Addr)) error {
	f, err := parseFlags(args, lookupEnv, out)
	if err != nil {
		return err
	}
	logger, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	w, err := workerFromEnv(lookupEnv)
	if err != nil {
		return err
	}
	if w != nil {
		f.reusePort = true
		if f.goingAway == "" {
			f.goingAway = supervisedGoingAway
		}
		logger = logger.With("slot", w.slot, "gen", w.gen)
	} else if f.procs > 1 {
		return supervise(f, args, logger, stop)
	}
	opts, err := f.options(logger)
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
	a, err := newApp(f)
	if err != nil {
		return err
	}
	if a.verifier != nil {
		defer a.verifier.Close()
	}
	if a.hub != nil {
		// Deferred first, so it runs last: after the server's drain.
		defer a.hub.Close()
		raiseProcs(lookupEnv, logger)
	}
	srv := server.New(a.handler, append(opts, a.opts...)...)
	if err := srv.Start(f.addr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var adminAddr net.Addr
	adminLog := ""           // the admin address as logged
	var adminDone chan error // nil without -admin: never ready
	if f.admin != "" {
		ln, err := net.Listen("tcp", f.admin)
		if err != nil {
			_ = srv.Shutdown(ctx)
			return fmt.Errorf("-admin: %w", err)
		}
		adminAddr = ln.Addr()
		adminLog = adminAddr.String()
		var aopts []admin.Option
		if a.hub != nil {
			aopts = append(aopts, admin.WithPublisher(a.hub), admin.WithHub(a.hub))
		}
		adminDone = make(chan error, 1)
		go func() { adminDone <- admin.Serve(ctx, ln, srv, aopts...) }()
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	feedDone := make(chan error, 1)
	if f.mode == "feed" && (w == nil || w.feed != "off") {
		cfg := feed.Config{Symbols: f.feedSymbols, Rate: f.feedRate, Logger: logger}
		open := make(chan struct{})
		close(open)
		var gate <-chan struct{} = open
		if w != nil {
			gate = w.feedGate()
		}
		go func() {
			select {
			case <-gate:
				feedDone <- feed.Run(feedCtx, a.hub, cfg)
			case <-feedCtx.Done():
				feedDone <- nil
			}
		}()
	} else {
		feedDone <- nil
	}
	logger.Info("listening", "addr", srv.Addr(), "tls", srv.TLSAddr(), "admin", adminLog,
		"mode", f.mode, "pid", os.Getpid(), "reuseport", f.reusePort, "compress", f.compress)
	if f.mode == "feed" {
		logger.Info("live feed page", "url", "http://"+srv.Addr()+"/",
			"symbols", f.feedSymbols, "rate", f.feedRate, "topics", feed.TopicAll+", "+feed.TopicOf("<SYMBOL>"))
	}
	if started != nil {
		started(srv, adminAddr)
	}
	var supervisorLost <-chan struct{} // nil unless supervised
	if w != nil {
		if adminLog == "" {
			adminLog = "-"
		}
		w.report("ready %s %s", srv.Addr(), adminLog)
		reporting := make(chan struct{})
		defer close(reporting)
		go w.reportConns(srv.Connections, reporting)
		supervisorLost = w.lost
	}

	select {
	case s := <-stop:
		logger.Info("draining", "signal", s.String(), "connections", srv.Connections())
	case err := <-adminDone:
		logger.Error("admin listener", "err", err)
		adminDone = nil
	case <-supervisorLost:
		logger.Warn("draining: the supervisor is gone", "connections", srv.Connections())
	}
	stopFeed()
	if err := <-feedDone; err != nil {
		logger.Error("feed", "err", err)
	}
	if w != nil && f.mode == "feed" && w.feed != "off" {
		w.report("feed-stopped")
	}
	drain, cancelDrain := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancelDrain()
	if err := srv.Shutdown(drain); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cancel()
	if adminDone != nil {
		if err := <-adminDone; err != nil {
			logger.Error("admin listener", "err", err)
		}
	}
	logger.Info("stopped")
	return nil
}

// raiseProcs gives a pubsub or feed process confined to one CPU a second
// P, unless GOMAXPROCS was set: its publications arrive on goroutines
// outside the event loops (the NATS client, the admin listener's POST
// /publish, the feed), which with one P get the CPU only when a busy loop
// is preempted, and the kernel interleaves two threads sooner. Echo's
// handlers are fed by the loops themselves, and there a second P only
// costs CPU (bench/BENCHMARKS.md, "One P per CPU", which also says how
// little the fan-out measurements can tell apart).
func raiseProcs(lookupEnv func(string) (string, bool), logger *slog.Logger) {
	if _, set := lookupEnv("GOMAXPROCS"); set || runtime.GOMAXPROCS(0) > 1 {
		return
	}
	runtime.GOMAXPROCS(2)
	logger.Info("raised GOMAXPROCS to 2: publications arrive on goroutines outside the event loops")
}
