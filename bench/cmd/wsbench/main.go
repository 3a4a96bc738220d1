//go:build linux

// Command wsbench runs a benchmark scenario against a list of WebSocket
// servers side by side: it builds every program it needs, starts and stops
// each server itself, alternates the servers over rounds (A B C A B C) so
// that drift hits all alike, pins the servers to CPU 0 and the load
// generators to CPU 1 (when there are two CPUs and taskset is present), and
// reports each figure with its ratio to wsloop as a table, as JSON and as bar
// charts. The echo table also gives each server's CPU per message as a
// multiple of floor's (bench/peers/floor: the least work an echo can take
// on this machine) when floor is among the servers, as it is by default.
//
//	wsbench -scenario idle    -servers wsloop,gorilla,coder,gobwas,gws,nbio,floor -conns 18000
//	wsbench -scenario echo    -conns 10000 -size 1024 -duration 5s -rounds 3
//	wsbench -scenario echo    -conns 1000 -size 64 -rate 20000
//	wsbench -scenario echo    -conns 1000 -size 64 -inflight 8
//	wsbench -scenario million -servers wsloop -conns 1000000
//	wsbench -scenario fanout  -servers wsloop,wsloop-local,gws,nbio,gorilla -subscribers 100000 -topics 1 -size 100 -rate 10,20
//	wsbench -scenario clients -clients wsloop,gorilla,coder -conns 100000
//
// Scenarios:
//
//	idle     N upgraded idle connections (default 18,000), one server process;
//	         time to establish, server RSS before and with them, marginal
//	         RSS per connection ((with - base) / connections).
//	echo     C connections (default 10,000) sending S-byte messages (default
//	         1 KiB), closed loop (-rate 0, -inflight messages outstanding per
//	         connection) or open loop at -rate messages/s in total; msgs/s,
//	         p50/p99/p999 round trip from the merged HdrHistograms, server
//	         CPU seconds over the measured window and per message (µs of
//	         server CPU per echoed message = CPU seconds per million), and
//	         that divided by floor's.
//	million  idle with N (default 1,000,000) connections over -procs server
//	         processes sharing one port with SO_REUSEPORT (default
//	         ceil(N/16000)); raises fs.file-max, somaxconn,
//	         tcp_max_syn_backlog and the ephemeral port range for the run
//	         and restores them afterwards, also on failure and on SIGINT or
//	         SIGTERM (-no-sysctl leaves them alone).
//	fanout   N subscribers (default 100,000), each subscribed to all of T
//	         topics (default 1), over -procs server processes sharing one
//	         port (default ceil(N/16000)); a publisher posts S-byte
//	         publications (default 100 B) at -rate publications/s in total,
//	         round-robin over the topics, to POST /publish/{topic} of the
//	         server's admin address (wsloop: one process, the others reach
//	         it through NATS; wsloop-local and the peers: every process);
//	         deliveries/s received in the measured window, publish→receive
//	         p50/p99/p999 from timestamps in the payload, loss, per-topic
//	         order. A list of rates (-rate 5,10,20) runs each as its own
//	         scenario and adds a sweep table. See fanout.go.
//	clients  N idle connections (default 100,000) of each Go client library
//	         in -clients (wsloop's client/, gorilla, coder), with a
//	         heartbeat, held by ceil(N/-per-load) wsclients processes
//	         against -procs wsloop processes; client RSS total and marginal
//	         per connection, Go heap, stacks and goroutines per connection,
//	         connect time, connections alive after -hold (default 30s).
//	         Sets the million scenario's sysctls. See clients.go.
//
// Every scenario uses ceil(N/18000) load-generator processes (bench/cmd/wsload),
// each bound to its own block of source addresses in 127.0.0.0/8 that is
// never reused within a run. MemAvailable is read every second; below
// -mem-floor the run stops cleanly (load first, then servers, then sysctls).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nwsbench: %v: stopping load and servers, restoring sysctls (again to force)\n", s)
		cancel(fmt.Errorf("interrupted by %v", s))
		s = <-sigs
		fmt.Fprintf(os.Stderr, "\nwsbench: %v again: killing children, restoring sysctls, exiting\n", s)
		guard.restoreAll()
		children.killAll(2 * time.Second)
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	guard.restoreAll() // normally already done; harmless if so
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// guard holds the sysctl values to restore; one per process because a
// signal handler must be able to reach it.
var guard = &sysctlGuard{logf: func(string, ...any) {}}

// config is the parsed command line.
type config struct {
	scenarios []string
	servers   []string

	conns    int
	size     int
	rates    []float64 // one scenario per rate
	inflight int
	duration time.Duration
	warmup   time.Duration
	hold     time.Duration
	rounds   int
	drain    time.Duration

	subscribers int           // fanout
	topics      int           // fanout
	wsloopProto string        // fanout: the subprotocol offered to wsloop
	cl          clientsConfig // clients (clients.go)
	sizeSet     bool          // -size was given

	procs           int // million: server processes (0: ceil(N/perServer))
	perServer       int
	perLoad         int
	srcCount        int
	connectInflight int
	connectTimeout  time.Duration
	settle          time.Duration

	memFloor int64
	noSysctl bool
	pin      bool
	gogc     string
	memLimit string

	jsonPath  string
	chartsDir string
	benchDir  string
	binDir    string
	keepTmp   bool
	warmRun   bool
	progress  bool
	quiet     bool
}

// knownServers are the servers of the idle, echo and million scenarios.
// floor (bench/peers/floor) echoes with the least work possible: the
// reference every echo table measures CPU per message from.
var knownServers = []string{"wsloop", "wsloop-edge", "gorilla", "coder", "gobwas", "gws", "nbio", "floor"}

// optionalServers may be named in -servers but are not in the default list:
// wsloop-pool is wsloop with its handlers on the worker pool (-handlers
// pool) rather than inline on the event loop, echo's default.
var optionalServers = []string{"wsloop-pool"}

// fanoutServers are the servers with a broadcast facility: wsloop over NATS,
// wsloop with its in-process broker in every process, and the three peers.
var fanoutServers = []string{"wsloop", "wsloop-local", "gws", "nbio", "gorilla"}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("wsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	var scen, servers, memFloor, rates string
	fs.StringVar(&scen, "scenario", "idle", "scenarios to run, comma-separated: idle, echo, million, fanout, clients")
	fs.StringVar(&servers, "servers", "", "servers to compare, comma-separated (default: "+strings.Join(knownServers, ",")+"; for fanout "+strings.Join(fanoutServers, ",")+"); ratios are to wsloop, and in echo tables CPU per message also to floor")
	fs.IntVar(&c.conns, "conns", 0, "connections (0: scenario default: idle 18000, echo 10000, million 1000000, fanout -subscribers, clients 100000)")
	fs.IntVar(&c.size, "size", 1024, "echo message payload bytes (fanout: publication bytes, default 100)")
	fs.StringVar(&rates, "rate", "0", "echo: offered messages per second in total (0: closed loop); fanout: publications per second over all topics (default 10); a comma-separated list runs one scenario per rate")
	fs.IntVar(&c.subscribers, "subscribers", 0, "fanout: subscriber connections (0: -conns, else 100000)")
	fs.IntVar(&c.topics, "topics", 1, "fanout: topics t0 … tN-1; every subscriber subscribes to all of them")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "fanout: how long subscribers wait for publications after the window")
	fs.StringVar(&c.wsloopProto, "wsloop-subprotocol", "wsloop.bin", "fanout: the subprotocol subscribers offer wsloop (wsloop.bin or wsloop.json)")
	c.cl.register(fs)
	fs.IntVar(&c.inflight, "inflight", 1, "echo closed loop: messages outstanding per connection")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "echo: measured time per run")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "echo: unmeasured time before the measured window")
	fs.DurationVar(&c.hold, "hold", 0, "idle/million/clients: how long connections are held before RSS is read (0: idle 10s, million and clients 30s)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; every round runs every server once, in the same order")
	fs.IntVar(&c.procs, "procs", 0, "million: server processes per server, sharing the port with SO_REUSEPORT (0: ceil(conns/-per-server))")
	fs.IntVar(&c.perServer, "per-server", 16000, "million: connections aimed at one server process (each may hold < 20,000 files)")
	fs.IntVar(&c.perLoad, "per-load", 18000, "connections per load-generator process (at most 19000)")
	fs.IntVar(&c.srcCount, "src-count", 4, "source addresses per load-generator process")
	fs.IntVar(&c.connectInflight, "connect-inflight", 0, "connects in flight per load generator (0: wsload's default)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 0, "per-connection connect+upgrade timeout (0: wsload's default)")
	fs.DurationVar(&c.settle, "settle", time.Second, "wait after the servers listen before the baseline RSS is read")
	fs.StringVar(&memFloor, "mem-floor", "4GiB", "stop the run cleanly if MemAvailable falls below this (bytes, or with KiB/MiB/GiB)")
	fs.BoolVar(&c.noSysctl, "no-sysctl", false, "million: do not touch sysctls (for tests and small N)")
	fs.BoolVar(&c.pin, "pin", true, "pin servers to CPU 0 and load generators to CPU 1 with taskset (needs >= 2 CPUs)")
	fs.StringVar(&c.gogc, "gogc", "", "GOGC for the server processes (empty: inherit; Go's default is 100)")
	fs.StringVar(&c.memLimit, "gomemlimit", "", "GOMEMLIMIT for the server processes (empty: inherit; Go's default is off)")
	fs.StringVar(&c.jsonPath, "json", "", "write results as JSON to this file")
	fs.StringVar(&c.chartsDir, "charts", "", "write PNG bar charts into this directory")
	fs.StringVar(&c.benchDir, "bench-dir", ".", "directory inside the bench module (where go build runs)")
	fs.StringVar(&c.binDir, "bin-dir", "", "build the binaries here (default: a temporary directory)")
	fs.BoolVar(&c.warmRun, "warm-run", true, "before round 1, run the first server once without recording it (idle, echo)")
	fs.BoolVar(&c.keepTmp, "keep-tmp", false, "keep the temporary build directory")
	fs.BoolVar(&c.progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr")
	fs.BoolVar(&c.quiet, "quiet", false, "no per-run log lines on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { c.sizeSet = c.sizeSet || f.Name == "size" })
	fanout, clients := false, false
	for _, s := range splitList(scen) {
		switch s {
		case "idle", "echo", "million", "fanout", "clients":
			c.scenarios = append(c.scenarios, s)
			fanout = fanout || s == "fanout"
			clients = clients || s == "clients"
		default:
			return nil, fmt.Errorf("-scenario %q: want idle, echo, million, fanout or clients", s)
		}
	}
	if (fanout || clients) && len(c.scenarios) > 1 {
		return nil, errors.New("-scenario fanout and clients run alone (their servers and flags differ from the others')")
	}
	if clients {
		if servers != "" && servers != "wsloop" {
			return nil, errors.New("-scenario clients: the server is always wsloop (compare clients with -clients)")
		}
		servers = "wsloop"
		if err := c.cl.parse(); err != nil {
			return nil, err
		}
	}
	for _, f := range splitList(rates) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || v > 10_000_000 {
			return nil, fmt.Errorf("-rate %q: want numbers in [0, 1e7]", f)
		}
		c.rates = append(c.rates, v)
	}
	if len(c.rates) == 0 {
		c.rates = []float64{0}
	}
	allowed := knownServers
	known := append(append([]string(nil), knownServers...), optionalServers...)
	if fanout {
		allowed = fanoutServers
	}
	if servers == "" {
		servers = strings.Join(allowed, ",")
	}
	if !fanout {
		allowed = known
	}
	for _, s := range splitList(servers) {
		ok := false
		for _, k := range allowed {
			ok = ok || s == k
		}
		if !ok {
			return nil, fmt.Errorf("-servers: server %q is not for this scenario (known: %s)", s, strings.Join(allowed, ","))
		}
		for _, prev := range c.servers {
			if prev == s {
				return nil, fmt.Errorf("-servers: %q listed twice", s)
			}
		}
		c.servers = append(c.servers, s)
	}
	if len(c.scenarios) == 0 || len(c.servers) == 0 {
		return nil, errors.New("need at least one scenario and one server")
	}
	v, err := parseBytes(memFloor)
	if err != nil {
		return nil, fmt.Errorf("-mem-floor: %w", err)
	}
	c.memFloor = v
	switch {
	case c.conns < 0 || c.conns > 2_000_000:
		return nil, fmt.Errorf("-conns %d out of range [0, 2000000]", c.conns)
	case c.rounds < 1 || c.rounds > 100:
		return nil, fmt.Errorf("-rounds %d out of range [1, 100]", c.rounds)
	case c.perLoad < 1 || c.perLoad > 19000:
		return nil, fmt.Errorf("-per-load %d out of range [1, 19000]", c.perLoad)
	case c.perServer < 1 || c.perServer > 19500:
		return nil, fmt.Errorf("-per-server %d out of range [1, 19500]", c.perServer)
	case c.procs < 0 || c.procs > 200:
		return nil, fmt.Errorf("-procs %d out of range [0, 200]", c.procs)
	case c.srcCount < 1 || c.srcCount > 250:
		return nil, fmt.Errorf("-src-count %d out of range [1, 250]", c.srcCount)
	case c.size < 8 || c.size > 16<<20:
		return nil, fmt.Errorf("-size %d out of range [8, 16 MiB] (the payload carries its send time)", c.size)
	case c.inflight < 1 || c.inflight > 1024:
		return nil, errors.New("-inflight must be in [1, 1024]")
	case c.subscribers < 0 || c.subscribers > 2_000_000 || c.topics < 1 || c.topics > 1000:
		return nil, errors.New("-subscribers must be in [0, 2000000] and -topics in [1, 1000]")
	case c.drain < 0 || c.drain > time.Minute:
		return nil, errors.New("-drain must be in [0, 1m]")
	case c.wsloopProto != "wsloop.bin" && c.wsloopProto != "wsloop.json":
		return nil, errors.New("-wsloop-subprotocol: want wsloop.bin or wsloop.json")
	case c.duration <= 0 || c.duration > time.Hour || c.warmup < 0 || c.warmup > 10*time.Minute:
		return nil, errors.New("-duration must be in (0, 1h] and -warmup in [0, 10m]")
	case c.hold < 0 || c.hold > time.Hour:
		return nil, errors.New("-hold must be in [0, 1h]")
	}
	if c.pin && (runtime.NumCPU() < 2 || tasksetPath == "") {
		c.pin = false
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseBytes reads "4GiB", "512MiB", "100000" (bytes).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// bench is one wsbench invocation in progress.
type bench struct {
	cfg    *config
	stdout io.Writer
	stderr io.Writer
	bins   map[string]string
	src    *srcBlocks

	barMu sync.Mutex
	bar   *progressbar.ProgressBar

	memMu     sync.Mutex
	memMinAvl int64
}

func (b *bench) logf(format string, a ...any) {
	if b.cfg.quiet {
		return
	}
	b.barMu.Lock()
	defer b.barMu.Unlock()
	if b.bar != nil {
		_ = b.bar.Clear()
	}
	fmt.Fprintf(b.stderr, format+"\n", a...)
}

func (b *bench) describe(format string, a ...any) {
	b.barMu.Lock()
	defer b.barMu.Unlock()
	if b.bar != nil {
		b.bar.Describe(fmt.Sprintf(format, a...))
	}
}

func (b *bench) step() {
	b.barMu.Lock()
	defer b.barMu.Unlock()
	if b.bar != nil {
		_ = b.bar.Add(1)
	}
}

// errMemFloor is the cause of a run stopped by the MemAvailable watch.
var errMemFloor = errors.New("MemAvailable fell below -mem-floor")

// watchMemory reads MemAvailable every second until ctx ends; below floor it
// cancels the run.
func (b *bench) watchMemory(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if v, err := memAvailable(); err == nil {
			b.memMu.Lock()
			if b.memMinAvl == 0 || v < b.memMinAvl {
				b.memMinAvl = v
			}
			b.memMu.Unlock()
			if v < b.cfg.memFloor {
				cancel(fmt.Errorf("%w: %d MiB < %d MiB", errMemFloor, v>>20, b.cfg.memFloor>>20))
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// takeMemMin returns the lowest MemAvailable seen since the last call.
func (b *bench) takeMemMin() int64 {
	b.memMu.Lock()
	defer b.memMu.Unlock()
	v := b.memMinAvl
	b.memMinAvl = 0
	return v
}

// run is the whole command; main only adds signal handling around it.
func run(parent context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	b := &bench{cfg: cfg, stdout: stdout, stderr: stderr, src: newSrcBlocks()}
	guard.logf = b.logf

	// Whatever happens below, stop every child and put the sysctls back.
	defer func() {
		children.killAll(15 * time.Second)
		guard.restoreAll()
	}()

	if avail, err := memAvailable(); err == nil && avail < cfg.memFloor {
		return fmt.Errorf("MemAvailable %d MiB is already below -mem-floor %d MiB", avail>>20, cfg.memFloor>>20)
	}
	go b.watchMemory(ctx, cancel)

	moduleDir, err := findModuleDir(cfg.benchDir)
	if err != nil {
		return err
	}
	binDir := cfg.binDir
	if binDir == "" {
		if binDir, err = os.MkdirTemp("", "wsbench-bin-"); err != nil {
			return err
		}
		if !cfg.keepTmp {
			defer os.RemoveAll(binDir)
		} else {
			b.logf("binaries kept in %s", binDir)
		}
	} else if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	if cfg.scenarios[0] == "clients" {
		return b.runClients(ctx, moduleDir, binDir)
	}
	b.logf("building %s and wsload in %s", strings.Join(cfg.servers, ", "), binDir)
	t0 := time.Now()
	if b.bins, err = buildBinaries(ctx, moduleDir, binDir, cfg.servers, needsNATS(cfg.servers)); err != nil {
		return err
	}
	b.logf("built in %.1fs", time.Since(t0).Seconds())

	specs := make([]spec, 0, len(cfg.scenarios)*len(cfg.rates))
	for _, s := range cfg.scenarios {
		rates := cfg.rates
		if s != "echo" && s != "fanout" {
			rates = rates[:1] // no rate: one run
		}
		for _, rate := range rates {
			sp, err := makeSpec(cfg, s, rate)
			if err != nil {
				return err
			}
			specs = append(specs, sp)
		}
	}
	total := len(specs) * cfg.rounds * len(cfg.servers)
	if cfg.progress {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("wsbench"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}

	env := machineFacts(cfg)
	var all []summary
	var runErr error
	for _, sp := range specs {
		rs, err := b.runScenario(ctx, sp)
		sums := summarize(sp, cfg, rs, env)
		all = append(all, sums...)
		if len(sums) > 0 {
			printTable(stdout, sp, sums)
		}
		if err != nil {
			runErr = err
			break
		}
	}
	printSweep(stdout, all)
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(stderr)
	}
	if cfg.jsonPath != "" && len(all) > 0 {
		if err := writeJSON(cfg.jsonPath, all); err != nil {
			return errors.Join(runErr, err)
		}
		b.logf("wrote %s", cfg.jsonPath)
	}
	if cfg.chartsDir != "" && len(all) > 0 {
		files, err := writeCharts(cfg.chartsDir, all)
		if err != nil {
			return errors.Join(runErr, err)
		}
		b.logf("wrote %d charts into %s", len(files), cfg.chartsDir)
	}
	return runErr
}
