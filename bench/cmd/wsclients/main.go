//go:build linux

// Command wsclients holds idle WebSocket client connections of one client
// library (wsloop's client, gorilla or coder; see package clientload) in
// one process, with a heartbeat, and reports what they cost. cmd/wsbench's
// clients scenario runs several of them side by side.
//
//	wsclients -kind wsloop -url ws://127.0.0.1:9300/ -conns 18000 -src 127.0.1.1 -src-count 4
//
// Output on stdout, one line each:
//
//	BASE {snapshot}                        at start, with no connection
//	READY <connected> <failed> <seconds>   once every dial has ended
//	STATS {snapshot}                       on MEASURE, or after -hold
//	CLOSED <all ended: true|false> <seconds>
//
// A snapshot is clientload.Snapshot as JSON (heap, stacks and goroutines
// after a GC, connections alive, TCP counters of sampled connections).
// Standard input drives the run: a CONNECT line dials, each MEASURE line
// prints a snapshot, and CLOSE or the end of input closes every
// connection and exits. With -hold the run drives itself instead: connect,
// hold, one snapshot, close. SIGINT and SIGTERM close too; -deadline
// bounds the whole process.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/clientload"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsclients:", err)
		os.Exit(1)
	}
}

// options are the command's own flags, beside clientload.Config.
type options struct {
	hold         time.Duration
	deadline     time.Duration
	closeTimeout time.Duration
}

func parse(args []string, stderr io.Writer) (clientload.Config, options, error) {
	fs := flag.NewFlagSet("wsclients", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c clientload.Config
	var o options
	fs.StringVar(&c.Kind, "kind", "wsloop", "client library: "+strings.Join(clientload.Kinds, ", "))
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:9300/", "server URL (127.0.0.0/8 only)")
	fs.IntVar(&c.Conns, "conns", 1000, fmt.Sprintf("connections to hold (at most %d)", clientload.MaxConns))
	fs.StringVar(&c.Src, "src", "127.0.0.2", "first source address (127.0.0.0/8)")
	fs.IntVar(&c.SrcCount, "src-count", 4, "source addresses used round-robin from -src")
	fs.IntVar(&c.Inflight, "inflight", 256, "dials in flight at once")
	fs.DurationVar(&c.DialTimeout, "dial-timeout", 10*time.Second, "per dial: TCP connect and upgrade")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 10*time.Second, "ping interval")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", 10*time.Second, "a connection silent for 1.5×heartbeat plus this is dropped")
	fs.IntVar(&c.SampleEvery, "sample-every", 1000, "read the TCP counters of every n-th connection")
	fs.DurationVar(&o.hold, "hold", 0, "drive the run without standard input: connect, hold this long, report, close")
	fs.DurationVar(&o.deadline, "deadline", 30*time.Minute, "hard cap on the whole run")
	fs.DurationVar(&o.closeTimeout, "close-timeout", 30*time.Second, "longest wait for the connections to end after closing them")
	if err := fs.Parse(args); err != nil {
		return c, o, err
	}
	if fs.NArg() > 0 {
		return c, o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.deadline <= 0 || o.hold < 0 || o.closeTimeout <= 0 {
		return c, o, errors.New("-deadline and -close-timeout must be positive, -hold not negative")
	}
	return c, o, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	h, err := clientload.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.deadline)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if err := printSnapshot(stdout, "BASE", h.Snapshot()); err != nil {
		return err
	}
	cmds := make(chan string)
	if o.hold > 0 {
		go script(cmds, o.hold)
	} else {
		go readCommands(stdin, cmds)
	}
	connected := false
	for {
		var line string
		var open bool
		select {
		case <-ctx.Done():
			line, open = "", false
		case line, open = <-cmds:
		}
		switch {
		case !open || line == "CLOSE":
			t0 := time.Now()
			all := h.Close(o.closeTimeout)
			fmt.Fprintf(stdout, "CLOSED %v %.3f\n", all, time.Since(t0).Seconds())
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("stopped: %w", err)
			}
			return nil
		case line == "CONNECT" && !connected:
			connected = true
			ok, failed, secs, err := h.Connect(ctx)
			if err != nil {
				fmt.Fprintf(stderr, "wsclients: %d of %d dials failed, first: %v\n", failed, cfg.Conns, err)
			}
			fmt.Fprintf(stdout, "READY %d %d %.3f\n", ok, failed, secs)
		case line == "MEASURE":
			if err := printSnapshot(stdout, "STATS", h.Snapshot()); err != nil {
				return err
			}
		default:
			fmt.Fprintf(stderr, "wsclients: ignoring input line %q\n", line)
		}
	}
}

// readCommands sends every line of r to cmds and closes it at the end.
func readCommands(r io.Reader, cmds chan<- string) {
	defer close(cmds)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		cmds <- strings.TrimSpace(sc.Text())
	}
}

// script is the run of -hold: connect, hold, measure, close.
func script(cmds chan<- string, hold time.Duration) {
	cmds <- "CONNECT"
	time.Sleep(hold)
	cmds <- "MEASURE"
	close(cmds)
}

func printSnapshot(w io.Writer, tag string, s clientload.Snapshot) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s %s\n", tag, b)
	return err
}
