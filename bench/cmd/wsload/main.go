// Command wsload is a WebSocket load generator that itself scales: a few
// epoll loops (one per GOMAXPROCS) drive up to 19,000 connections per
// process, each bound to a source address in 127.0.0.0/8 with
// IP_BIND_ADDRESS_NO_PORT. Run several processes for more connections.
//
// Modes:
//
//	wsload -addr 127.0.0.1:9300 -mode idle -conns 18000 -hold 60s
//	wsload -addr 127.0.0.1:9300 -mode echo -conns 1000 -size 64 -duration 5s
//	wsload -addr 127.0.0.1:9300 -mode echo -conns 1000 -rate 20000 -duration 5s
//	wsload -addr 127.0.0.1:9300 -mode fanout -conns 10000 -topics 100 -subprotocol wsloop.bin
//
// Output on stdout: "READY <connected> <failed> <connect_seconds>" once every
// connection has upgraded (and in fanout mode subscribed) or failed, then
// (with -json) the result as one JSON line (see loadgen.Result), or a
// human-readable summary. Diagnostics go to stderr. The hold (idle) or the
// traffic (echo, fanout) ends early on SIGINT, SIGTERM or when standard
// input reaches EOF (unless -watch-stdin=false; a stdin of /dev/null is not
// watched).
//
// Fanout mode subscribes every connection to topics t0 … t<N-1> and then
// reads two lines on standard input (Unix nanoseconds):
//
//	WINDOW <measure start> <measure end>
//	STOP <time>
//
// Publications received in the window count as deliveries, those
// published in it give the latencies; the run ends at the STOP time. The
// publisher is another process (cmd/wsbench); -hold bounds the waits.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/loadgen"
)

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("wsload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        loadgen.Config
		asJSON     bool
		watchStdin bool
		topics     int
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9300", "server host:port (127.0.0.0/8 only)")
	fs.StringVar(&cfg.Path, "path", "/", "request path")
	fs.IntVar(&cfg.Conns, "conns", 1000, fmt.Sprintf("connections to open (at most %d per process)", loadgen.MaxConns))
	fs.StringVar(&cfg.Src, "src", "127.0.0.2", "first source address (127.0.0.0/8)")
	fs.IntVar(&cfg.SrcCount, "src-count", 0, "source addresses used round-robin from -src (0: ceil(conns/20000)+1)")
	fs.IntVar(&cfg.ConnectInflight, "connect-inflight", 512, "connects and upgrades in flight at once")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 10*time.Second, "per connection: connect plus upgrade")
	fs.StringVar(&cfg.Mode, "mode", "idle", "idle, echo or fanout")
	fs.IntVar(&topics, "topics", 1, "fanout: topics every connection subscribes to (t0 … tN-1)")
	fs.StringVar(&cfg.Subprotocol, "subprotocol", "", "offer this Sec-WebSocket-Protocol (e.g. wsloop.bin)")
	fs.DurationVar(&cfg.PollInterval, "poll", time.Millisecond, "fanout: sleep this long after a partial batch of events (batches reads; adds up to this to latencies; negative: none)")
	fs.IntVar(&cfg.Size, "size", 1024, "echo: message payload bytes (>= 8)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "echo: total messages per second, open loop (0: closed loop)")
	fs.IntVar(&cfg.Inflight, "inflight", 1, "echo closed loop: messages outstanding per connection")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "echo: unrecorded time before measuring (negative: none)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "echo: measured time")
	fs.DurationVar(&cfg.Drain, "drain", 2*time.Second, "echo: longest wait for replies after sending stops")
	fs.DurationVar(&cfg.Hold, "hold", 30*time.Second, "idle: how long to hold the connections (negative: close at once); fanout: longest wait from READY to the STOP time")
	fs.StringVar(&cfg.Extensions, "extensions", "", "idle: offer this Sec-WebSocket-Extensions value (e.g. permessage-deflate)")
	fs.IntVar(&cfg.Loops, "loops", 0, "epoll loops (0: GOMAXPROCS)")
	fs.DurationVar(&cfg.Deadline, "deadline", 0, "hard cap on the whole run (0: derived from the other limits)")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON line")
	fs.BoolVar(&watchStdin, "watch-stdin", true, "end the hold/traffic when stdin reaches EOF (not when stdin is /dev/null)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Log = func(msg string) { fmt.Fprintln(stderr, "wsload:", msg) }
	cfg.Ready = func(ok, failed int, secs float64) {
		fmt.Fprintf(stdout, "READY %d %d %.3f\n", ok, failed, secs)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	var windows chan loadgen.Window
	var stops chan time.Time
	if cfg.Mode == loadgen.ModeFanout {
		if topics < 1 || topics > loadgen.MaxTopics {
			return 2, fmt.Errorf("-topics %d out of range [1, %d]", topics, loadgen.MaxTopics)
		}
		for i := range topics {
			cfg.Topics = append(cfg.Topics, fmt.Sprintf("t%d", i))
		}
		windows, stops = make(chan loadgen.Window, 1), make(chan time.Time, 1)
		cfg.Schedule, cfg.Stop = windows, stops
	}
	if watchStdin && !stdinIsNull() {
		go func() {
			readStdin(os.Stdin, windows, stops, stderr)
			cancel()
		}()
	}

	res, err := loadgen.Run(ctx, cfg)
	if res == nil {
		return 2, err
	}
	if asJSON {
		b, jerr := json.Marshal(res)
		if jerr != nil {
			return 1, jerr
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printSummary(stdout, res)
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// readStdin reads standard input to its end, handing the first WINDOW
// line to windows and the first STOP line to stops (when fanout mode gave
// them).
func readStdin(r io.Reader, windows chan<- loadgen.Window, stops chan<- time.Time, stderr io.Writer) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if windows == nil {
			continue
		}
		ns, err := parseTimes(sc.Text())
		switch {
		case err != nil:
			fmt.Fprintln(stderr, "wsload:", err)
		case len(ns) == 2 && ns[1] >= ns[0]:
			select {
			case windows <- loadgen.Window{MeasureStart: time.Unix(0, ns[0]), MeasureEnd: time.Unix(0, ns[1])}:
			default:
			}
		case len(ns) == 1:
			select {
			case stops <- time.Unix(0, ns[0]):
			default:
			}
		default:
			fmt.Fprintf(stderr, "wsload: stdin: %q: bad times\n", sc.Text())
		}
	}
}

// parseTimes parses "WINDOW <start> <end>" (two times) or "STOP <t>" (one
// time), in Unix ns.
func parseTimes(line string) ([]int64, error) {
	f := strings.Fields(line)
	if len(f) < 2 || !(f[0] == "WINDOW" && len(f) == 3 || f[0] == "STOP" && len(f) == 2) {
		return nil, fmt.Errorf("stdin: %q is neither a WINDOW nor a STOP line", line)
	}
	var ns []int64
	for _, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("stdin: %q: %w", line, err)
		}
		ns = append(ns, v)
	}
	return ns, nil
}

func stdinIsNull() bool {
	st, err := os.Stdin.Stat()
	if err != nil {
		return true
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(st, null)
}

func printSummary(w io.Writer, r *loadgen.Result) {
	fmt.Fprintf(w, "mode=%s conns=%d ok=%d failed=%d connect=%.3fs duration=%.3fs errors=%d\n",
		r.Mode, r.ConnsRequested, r.ConnsOK, r.ConnsFailed, r.ConnectSeconds, r.DurationSeconds, r.Errors)
	switch r.Mode {
	case loadgen.ModeFanout:
		fmt.Fprintf(w, "received=%d deliveries_in_window=%d deliveries/s=%.0f gaps=%d dups=%d seq_checked=%d seq_gaps=%d seq_dups=%d binary=%d\n",
			r.MsgsRecv, r.Deliveries, float64(r.Deliveries)/max(r.DurationSeconds, 1e-9), r.Gaps, r.Dups, r.SeqChecked, r.SeqGaps, r.SeqDups, r.BinaryMsgs)
	case loadgen.ModeEcho:
		fmt.Fprintf(w, "sent=%d recv=%d bytes=%d backlogged=%d msgs/s=%.0f\n",
			r.MsgsSent, r.MsgsRecv, r.BytesRecv, r.Backlogged, r.MsgsPerSecond())
	default:
		return
	}
	h, err := r.Histogram()
	if err != nil || h.TotalCount() == 0 {
		return
	}
	fmt.Fprintf(w, "rtt µs: min=%d p50=%d p90=%d p99=%d p99.9=%d max=%d mean=%.1f\n",
		h.Min(), h.ValueAtQuantile(50), h.ValueAtQuantile(90), h.ValueAtQuantile(99),
		h.ValueAtQuantile(99.9), h.Max(), h.Mean())
}
