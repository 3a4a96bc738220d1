//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/loadgen"
)

// spec is one scenario with every default resolved.
type spec struct {
	name        string        // idle, echo, million, fanout
	tag         string        // name plus its size, for file names and table titles
	conns       int           // fanout: subscribers
	size        int           // echo, fanout
	rate        float64       // echo: 0 = closed loop; fanout: publications/s over all topics
	inflight    int           // echo only
	topics      int           // fanout
	drain       time.Duration // fanout
	serverProcs int
	reuseport   bool
	hold        time.Duration // idle, million
	warmup      time.Duration // echo, fanout
	duration    time.Duration // echo, fanout
	sysctls     bool
}

// maxOneProcess is the most connections one server process can take under
// the 20,000 open files limit with room for its own files.
const maxOneProcess = 19500

func makeSpec(cfg *config, name string, rate float64) (spec, error) {
	sp := spec{name: name, conns: cfg.conns, serverProcs: 1, hold: cfg.hold}
	switch name {
	case "idle":
		if sp.conns == 0 {
			sp.conns = 18000
		}
		if sp.hold == 0 {
			sp.hold = 10 * time.Second
		}
		sp.tag = fmt.Sprintf("idle-%d", sp.conns)
	case "echo":
		if sp.conns == 0 {
			sp.conns = 10000
		}
		sp.size, sp.rate, sp.inflight = cfg.size, rate, cfg.inflight
		sp.warmup, sp.duration = cfg.warmup, cfg.duration
		sp.tag = fmt.Sprintf("echo-%dBx%d", sp.size, sp.conns)
		switch {
		case sp.rate > 0:
			sp.tag += fmt.Sprintf("-rate%.0f", sp.rate)
		case sp.inflight > 1:
			// Its own charts, not the 1-in-flight run's.
			sp.tag += fmt.Sprintf("-inflight%d", sp.inflight)
		}
	case "million":
		if sp.conns == 0 {
			sp.conns = 1_000_000
		}
		if sp.hold == 0 {
			sp.hold = 30 * time.Second
		}
		sp.serverProcs = cfg.procs
		if sp.serverProcs == 0 {
			sp.serverProcs = ceilDiv(sp.conns, cfg.perServer)
		}
		sp.reuseport = true
		sp.sysctls = !cfg.noSysctl
		sp.tag = fmt.Sprintf("million-%d", sp.conns)
	case "fanout":
		if err := fanoutSpec(cfg, &sp, rate); err != nil {
			return sp, err
		}
	}
	if sp.conns < 1 {
		return sp, fmt.Errorf("%s: -conns must be positive", name)
	}
	if per := ceilDiv(sp.conns, sp.serverProcs); per > maxOneProcess {
		hint := ""
		if name != "million" {
			hint = " (use -scenario million, which spreads connections over several server processes)"
		}
		return sp, fmt.Errorf("%s: %d connections per server process exceed %d: one process may hold 20,000 open files%s", name, per, maxOneProcess, hint)
	}
	return sp, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// roundResult is one server's figures from one round of one scenario.
type roundResult struct {
	Round       int    `json:"round"`
	Server      string `json:"server"`
	Error       string `json:"error,omitempty"`
	ServerProcs int    `json:"server_procs"`
	LoadProcs   int    `json:"load_procs"`

	ConnsRequested     int     `json:"conns_requested"`
	ConnsOK            int     `json:"conns_ok"`
	ConnsFailed        int     `json:"conns_failed"`
	ConnectSeconds     float64 `json:"connect_seconds"`      // slowest load process, as it reported
	ConnectWallSeconds float64 `json:"connect_wall_seconds"` // first process start to last READY

	RSSBaseBytes    int64   `json:"rss_base_bytes"`
	RSSBytes        int64   `json:"rss_bytes"`
	RSSPeakBytes    int64   `json:"rss_peak_bytes"`
	RSSMarginal     float64 `json:"rss_marginal_bytes_per_conn"`
	MemAvailableMin int64   `json:"mem_available_min_bytes"`

	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	LoadCPUSeconds   float64 `json:"load_cpu_seconds"` // all load processes, same window: near window_seconds means the load generator's core was the limit
	WindowSeconds    float64 `json:"window_seconds"`

	MsgsSent      int64   `json:"msgs_sent"`
	MsgsRecv      int64   `json:"msgs_recv"`
	MsgsPerSec    float64 `json:"msgs_per_sec"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	CPUPerMillion float64 `json:"server_cpu_seconds_per_million_msgs"`
	CPUPerMsgUs   float64 `json:"server_cpu_us_per_msg"` // the same figure, as µs of server CPU per echoed message
	MsgsPerCPUSec float64 `json:"msgs_per_server_cpu_second"`
	Backlogged    int64   `json:"backlogged"`
	Errors        int64   `json:"errors"`

	// fanout: msgs_per_sec is deliveries_per_sec; msgs_sent the
	// publications, msgs_recv the deliveries over the whole run.
	DeliveriesPerSec float64      `json:"deliveries_per_sec,omitempty"`
	Fanout           *fanoutRound `json:"fanout,omitempty"`
	LostMetric       float64      `json:"-"` // Fanout.Lost, for the metric tables
}

// runScenario runs every round of sp, alternating the servers.
func (b *bench) runScenario(ctx context.Context, sp spec) ([]roundResult, error) {
	cfg := b.cfg
	if sp.sysctls {
		if err := guard.apply(millionSysctls); err != nil {
			return nil, err
		}
		defer guard.restoreAll()
	}
	loadProcs := ceilDiv(sp.conns, cfg.perLoad)
	b.logf("== %s: %d conns, %d server process(es) each, %d load process(es), %d round(s) of %s; pinned: %v",
		sp.tag, sp.conns, sp.serverProcs, loadProcs, cfg.rounds, strings.Join(cfg.servers, " "), cfg.pin)
	if cfg.warmRun && sp.name != "million" {
		// One unrecorded run first, so that the first measured server does
		// not alone pay for a cold machine (kernel slabs for the sockets,
		// page cache of the binaries).
		b.describe("%s warm-up run (%s, not recorded)", sp.tag, cfg.servers[0])
		rr := b.runOne(ctx, sp, cfg.servers[0], 0)
		if rr.Error != "" {
			b.logf("%s warm-up run %s: FAILED (not recorded): %s", sp.tag, cfg.servers[0], rr.Error)
		} else {
			b.logf("%s warm-up run %s (not recorded): %s", sp.tag, cfg.servers[0], oneLine(sp, rr))
		}
	}
	var out []roundResult
	for round := 1; round <= cfg.rounds; round++ {
		for _, srv := range cfg.servers {
			if err := ctx.Err(); err != nil {
				return out, context.Cause(ctx)
			}
			b.describe("%s r%d/%d %s", sp.tag, round, cfg.rounds, srv)
			rr := b.runOne(ctx, sp, srv, round)
			out = append(out, rr)
			b.step()
			if rr.Error != "" {
				b.logf("%s round %d %s: FAILED: %s", sp.tag, round, srv, rr.Error)
			} else {
				b.logf("%s round %d %s: %s", sp.tag, round, srv, oneLine(sp, rr))
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return out, context.Cause(ctx)
	}
	return out, nil
}

func oneLine(sp spec, r roundResult) string {
	s := fmt.Sprintf("conns %d/%d in %.2fs, rss %.1f MiB (base %.1f), %.0f B/conn marginal, cpu %.2fs",
		r.ConnsOK, r.ConnsRequested, r.ConnectSeconds, float64(r.RSSBytes)/(1<<20), float64(r.RSSBaseBytes)/(1<<20), r.RSSMarginal, r.ServerCPUSeconds)
	if sp.name == "fanout" {
		s = fanoutLine(r) + s
	}
	if sp.name == "echo" {
		s = fmt.Sprintf("%.0f msgs/s, p50 %.0fµs p99 %.0fµs p999 %.0fµs, cpu %.2fs (%.2f µs/msg; load generator %.2fs of %.2fs), ",
			r.MsgsPerSec, r.P50us, r.P99us, r.P999us, r.ServerCPUSeconds, r.CPUPerMsgUs, r.LoadCPUSeconds, r.WindowSeconds) + s
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(", errors %d", r.Errors)
	}
	return s
}

func (b *bench) serverCPU() int {
	if b.cfg.pin {
		return 0
	}
	return -1
}

func (b *bench) loadCPU() int {
	if b.cfg.pin {
		return 1
	}
	return -1
}

// serverEnv is the environment of server processes: wsbench's own plus the
// runtime knobs asked for.
func (b *bench) serverEnv() []string {
	env := os.Environ()
	if b.cfg.gogc != "" {
		env = append(env, "GOGC="+b.cfg.gogc)
	}
	if b.cfg.memLimit != "" {
		env = append(env, "GOMEMLIMIT="+b.cfg.memLimit)
	}
	return env
}

// edgeFlags turn on every production-edge feature of wsloop with limits
// too generous to bite, so that "wsloop-edge" measures their cost when
// unused: permessage-deflate offered (the load generator does not ask for
// it), an Origin allowlist, connection and upgrade limits, inbound rate
// limits, the outbound cap and the admin listener.
var edgeFlags = []string{
	"-compress", "-origins", "*", "-max-conns", "100000000", "-max-conns-per-ip", "100000000",
	"-upgrade-rate", "100000000", "-rate-msgs", "100000000", "-rate-bytes", "1e15",
	"-max-outbound", "1073741824", "-slow-consumer", "close", "-admin", "127.0.0.1:0",
}

func (b *bench) startServers(sp spec, server, addr string) ([]*child, error) {
	var srvs []*child
	for i := 0; i < sp.serverProcs; i++ {
		args := []string{"-addr", addr}
		if server == "wsloop-edge" {
			args = append(args, edgeFlags...)
		}
		if server == "wsloop-pool" {
			args = append(args, "-handlers", "pool")
		}
		if server == "wsloop" || server == "wsloop-edge" || server == "wsloop-pool" {
			args = append(args, "-log-level", "warn")
			if sp.serverProcs > 1 {
				// Dozens of processes share two cores: the README's
				// settings for a million connections. One event loop
				// each (echo runs its handler there: no worker is
				// involved), and the kernel's TCP keepalive as the
				// heartbeat (probes after 2 minutes of silence, no
				// work in the process) instead of WebSocket pings,
				// which at the 30 s default cost 33,000 pings/s and
				// their pongs; the peers send none at all.
				args = append(args, "-loops", "1", "-workers", "1", "-ping-interval", "-1s", "-keepalive", "2m")
			}
		}
		if sp.reuseport {
			args = append(args, "-reuseport")
		}
		c, err := startChild(fmt.Sprintf("%s#%d", server, i), b.bins[server], args, b.serverCPU(), b.serverEnv(), false)
		if err != nil {
			return srvs, err
		}
		srvs = append(srvs, c)
	}
	return srvs, nil
}

// waitListening waits until every server process listens on port: each has
// printed "listening", or /proc/net/tcp shows one LISTEN socket per process
// (SO_REUSEPORT gives each its own), or, for a single process, a TCP dial
// succeeds. wsloop logs to stderr and only at -log-level warn, so for it the
// socket count is what tells.
func waitListening(ctx context.Context, srvs []*child, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		printed := 0
		for _, s := range srvs {
			if s.exited() {
				return errors.New(s.describeExit())
			}
			if _, ok := s.findLine(func(l string) bool { return strings.HasPrefix(l, "listening ") }); ok {
				printed++
			}
		}
		ready := printed == len(srvs) || listeners(port) >= len(srvs)
		if !ready && len(srvs) == 1 {
			if c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond); err == nil {
				c.Close()
				ready = true
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d server process(es) not all listening on %s after %v (%d printed, %d listening sockets)", len(srvs), addr, timeout, printed, listeners(port))
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func pidsOf(cs []*child) []int {
	p := make([]int, len(cs))
	for i, c := range cs {
		p[i] = c.pid
	}
	return p
}

// readyLine is a parsed "READY <connected> <failed> <connect_seconds>".
type readyLine struct {
	ok, failed int
	secs       float64
}

func parseReady(l string) (readyLine, bool) {
	f := strings.Fields(l)
	if len(f) != 4 || f[0] != "READY" {
		return readyLine{}, false
	}
	ok, err1 := strconv.Atoi(f[1])
	failed, err2 := strconv.Atoi(f[2])
	secs, err3 := strconv.ParseFloat(f[3], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return readyLine{}, false
	}
	return readyLine{ok, failed, secs}, true
}

func isReady(l string) bool { return strings.HasPrefix(l, "READY ") }
func isJSON(l string) bool  { return strings.HasPrefix(l, "{") }

// runOne runs one server once: start it, measure its baseline, put the
// load on, measure, take the load off, stop it. Every wait is bounded.
func (b *bench) runOne(ctx context.Context, sp spec, server string, round int) (rr roundResult) {
	if sp.name == "fanout" {
		return b.runFanout(ctx, sp, server, round)
	}
	cfg := b.cfg
	rr = roundResult{Round: round, Server: server, ConnsRequested: sp.conns, ServerProcs: sp.serverProcs}
	b.takeMemMin()
	defer func() { rr.MemAvailableMin = b.takeMemMin() }()
	fail := failRound(ctx, &rr)

	port, addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	srvs, err := b.startServers(sp, server, addr)
	// Servers stop last: after the load processes have closed their
	// connections (their stop is deferred later, so it runs first).
	defer stopAll(srvs, 15*time.Second+time.Duration(sp.serverProcs)*200*time.Millisecond)
	if err != nil {
		return fail(err)
	}
	if err := waitListening(ctx, srvs, port, 20*time.Second+time.Duration(sp.serverProcs)*time.Second); err != nil {
		return fail(err)
	}
	if err := sleepCtx(ctx, cfg.settle); err != nil {
		return fail(err)
	}
	pids := pidsOf(srvs)
	if rr.RSSBaseBytes, err = procfs.SumRSS(pids); err != nil {
		return fail(fmt.Errorf("baseline RSS: %w", err))
	}
	cpuStart, err := sumCPUSeconds(pids)
	if err != nil {
		return fail(err)
	}
	alive := func() error {
		for _, s := range srvs {
			if s.exited() {
				return fmt.Errorf("server died: %s", s.describeExit())
			}
		}
		return nil
	}

	// Load processes.
	n := ceilDiv(sp.conns, cfg.perLoad)
	rr.LoadProcs = n
	// Dozens of server and load processes on two cores upgrade about
	// 7,000 connections a second: 1M takes over two minutes.
	connectBudget := 60*time.Second + time.Duration(sp.conns)*250*time.Microsecond
	inuse0, _ := tcpInUse()
	start := time.Now()
	loads, err := b.startLoads(n, sp.conns, addr, func(conns int) (args []string) {
		switch {
		case cfg.connectTimeout > 0:
			args = append(args, "-connect-timeout", cfg.connectTimeout.String())
		case sp.name == "million":
			// Also sets wsload's connect-phase cap (twice this).
			args = append(args, "-connect-timeout", (connectBudget / 2).Round(time.Second).String())
		}
		if sp.name == "echo" {
			rate := sp.rate * float64(conns) / float64(sp.conns)
			warm := sp.warmup
			if warm == 0 {
				warm = -time.Nanosecond // wsload reads 0 as "its default"
			}
			args = append(args, "-mode", "echo", "-size", strconv.Itoa(sp.size),
				"-rate", strconv.FormatFloat(rate, 'f', 3, 64), "-inflight", strconv.Itoa(sp.inflight),
				"-warmup", warm.String(), "-duration", sp.duration.String())
		} else {
			// The hold ends when wsbench closes stdin; -hold only bounds it.
			args = append(args, "-mode", "idle", "-hold", (sp.hold + connectBudget + 2*time.Minute).String())
		}
		return args
	})
	defer stopLoads(loads)
	if err != nil {
		return fail(err)
	}

	ready, err := b.waitReady(ctx, sp, server, round, loads, alive, start, connectBudget, inuse0)
	if err != nil {
		return fail(err)
	}
	readyAt := time.Now()
	rr.ConnectWallSeconds = readyAt.Sub(start).Seconds()
	for _, r := range ready {
		rr.ConnsOK += r.ok
		rr.ConnsFailed += r.failed
		rr.ConnectSeconds = max(rr.ConnectSeconds, r.secs)
	}

	var cpuA, cpuB float64
	var tA, tB time.Time
	if sp.name == "echo" {
		b.describe("%s r%d/%d %s: warmup", sp.tag, round, cfg.rounds, server)
		if err := sleepCtx(ctx, sp.warmup); err != nil {
			return fail(err)
		}
		if cpuA, err = sumCPUSeconds(pids); err != nil {
			return fail(err)
		}
		loadA, _ := sumCPUSeconds(pidsOf(loads))
		tA = time.Now()
		b.describe("%s r%d/%d %s: measuring %v", sp.tag, round, cfg.rounds, server, sp.duration)
		if err := sleepCtx(ctx, sp.duration); err != nil {
			return fail(err)
		}
		if cpuB, err = sumCPUSeconds(pids); err != nil {
			return fail(err)
		}
		if loadB, err := sumCPUSeconds(pidsOf(loads)); err == nil {
			rr.LoadCPUSeconds = loadB - loadA
		}
		tB = time.Now()
		if rr.RSSBytes, err = procfs.SumRSS(pids); err != nil {
			return fail(err)
		}
		rr.RSSPeakBytes = rr.RSSBytes
	} else {
		// Hold, reading RSS every second; the last reading is the figure.
		cpuA, tA = cpuStart, start
		holdEnd := readyAt.Add(sp.hold)
		for {
			v, err := procfs.SumRSS(pids)
			if err != nil {
				return fail(err)
			}
			rr.RSSBytes = v
			rr.RSSPeakBytes = max(rr.RSSPeakBytes, v)
			left := time.Until(holdEnd)
			if left <= 0 {
				break
			}
			if err := alive(); err != nil {
				return fail(err)
			}
			b.describe("%s r%d/%d %s: holding %d conns, %.0fs left, rss %.0f MiB", sp.tag, round, cfg.rounds, server, rr.ConnsOK, left.Seconds(), float64(v)/(1<<20))
			if err := sleepCtx(ctx, min(left, time.Second)); err != nil {
				return fail(err)
			}
		}
		if cpuB, err = sumCPUSeconds(pids); err != nil {
			return fail(err)
		}
		tB = time.Now()
	}
	if err := alive(); err != nil {
		return fail(err)
	}
	rr.ServerCPUSeconds = cpuB - cpuA
	rr.WindowSeconds = tB.Sub(tA).Seconds()
	if rr.ConnsOK > 0 {
		rr.RSSMarginal = float64(rr.RSSBytes-rr.RSSBaseBytes) / float64(rr.ConnsOK)
	}

	// Take the load off: idle processes end their hold at stdin EOF; echo
	// processes end by themselves after their drain.
	b.describe("%s r%d/%d %s: closing", sp.tag, round, cfg.rounds, server)
	for _, l := range loads {
		if l.stdin != nil && sp.name != "echo" {
			l.stdin.Close()
		}
	}
	results, merged, hist, err := collectResults(loads, 30*time.Second+time.Duration(sp.conns/20000)*time.Second, "the measurement")
	if err != nil {
		return fail(err)
	}
	rr.Errors = merged.Errors + int64(merged.ConnsFailed)
	rr.Backlogged = merged.Backlogged
	if sp.name == "echo" {
		rr.MsgsSent, rr.MsgsRecv = merged.MsgsSent, merged.MsgsRecv
		for i := range results {
			rr.MsgsPerSec += results[i].MsgsPerSecond() // processes ran side by side
		}
		rr.P50us = float64(hist.ValueAtQuantile(50))
		rr.P99us = float64(hist.ValueAtQuantile(99))
		rr.P999us = float64(hist.ValueAtQuantile(99.9))
		rr.MaxUs = float64(hist.Max())
		if msgs := rr.MsgsPerSec * rr.WindowSeconds; msgs > 0 && rr.ServerCPUSeconds > 0 {
			rr.CPUPerMillion = rr.ServerCPUSeconds / (msgs / 1e6)
			rr.CPUPerMsgUs = rr.ServerCPUSeconds * 1e6 / msgs
			rr.MsgsPerCPUSec = msgs / rr.ServerCPUSeconds
		}
		if rr.MsgsRecv == 0 {
			return fail(errors.New("no echo replies received"))
		}
	}
	return rr
}

// waitReady waits for every load process's READY line (the connect phase),
// up to budget from start, while the servers stay alive.
func (b *bench) waitReady(ctx context.Context, sp spec, server string, round int, loads []*child, alive func() error, start time.Time, budget time.Duration, inuse0 int64) ([]readyLine, error) {
	cfg := b.cfg
	deadline := start.Add(budget)
	lastDescribe, lastLog := time.Time{}, time.Now()
	var ready []readyLine
	for {
		ready = ready[:0]
		for _, l := range loads {
			if line, ok := l.findLine(isReady); ok {
				if r, ok := parseReady(line); ok {
					ready = append(ready, r)
					continue
				}
				return nil, fmt.Errorf("%s: bad READY line %q", l.name, line)
			}
			if l.exited() {
				return nil, errors.New(l.describeExit())
			}
		}
		if len(ready) == len(loads) {
			return ready, nil
		}
		if err := alive(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connect phase longer than %v (%d of %d load processes ready)", budget, len(ready), len(loads))
		}
		if time.Since(lastDescribe) > 500*time.Millisecond {
			lastDescribe = time.Now()
			if v, err := tcpInUse(); err == nil {
				b.describe("%s r%d/%d %s: connecting %d/%d", sp.tag, round, cfg.rounds, server, max(0, (v-inuse0)/2), sp.conns)
				if b.bar == nil && time.Since(lastLog) >= 10*time.Second {
					lastLog = time.Now()
					b.logf("%s r%d %s: %.0fs: about %d of %d connected (TCP sockets in use / 2)", sp.tag, round, server, time.Since(start).Seconds(), max(0, (v-inuse0)/2), sp.conns)
				}
			}
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// collectResults waits up to budget for every load process to exit (after
// names what they were stopped by) and returns the JSON results they
// printed, and those merged.
func collectResults(loads []*child, budget time.Duration, after string) ([]loadgen.Result, loadgen.Result, *hdrhistogram.Histogram, error) {
	deadline := time.Now().Add(budget)
	for _, l := range loads {
		if !l.wait(time.Until(deadline)) {
			return nil, loadgen.Result{}, nil, fmt.Errorf("%s did not finish within %v after %s", l.name, budget, after)
		}
	}
	var results []loadgen.Result
	for _, l := range loads {
		line, ok := l.lastLine(isJSON)
		if !ok {
			return nil, loadgen.Result{}, nil, fmt.Errorf("%s printed no JSON result: %s", l.name, l.describeExit())
		}
		var r loadgen.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, loadgen.Result{}, nil, fmt.Errorf("%s: decoding its result: %w", l.name, err)
		}
		results = append(results, r)
	}
	merged, hist, err := loadgen.Merge(results)
	return results, merged, hist, err
}

// startLoads starts n wsload processes that share total connections to
// addr, each with the common arguments and what extra adds for its share.
// It returns those started, also on error; stop them with stopLoads.
func (b *bench) startLoads(n, total int, addr string, extra func(conns int) []string) ([]*child, error) {
	var loads []*child
	for i := 0; i < n; i++ {
		conns := total / n
		if i < total%n {
			conns++
		}
		args := []string{"-addr", addr, "-path", "/", "-conns", strconv.Itoa(conns),
			"-src", b.src.take(), "-src-count", strconv.Itoa(b.cfg.srcCount), "-json"}
		if b.cfg.connectInflight > 0 {
			args = append(args, "-connect-inflight", strconv.Itoa(b.cfg.connectInflight))
		}
		args = append(args, extra(conns)...)
		c, err := startChild(fmt.Sprintf("wsload#%d", i), b.bins["wsload"], args, b.loadCPU(), os.Environ(), true)
		if err != nil {
			return loads, err
		}
		loads = append(loads, c)
	}
	return loads, nil
}

// stopLoads stops the load processes and closes their stdin.
func stopLoads(loads []*child) {
	stopAll(loads, 10*time.Second)
	for _, l := range loads {
		if l.stdin != nil {
			_ = l.stdin.Close()
		}
	}
}

// failRound returns the round's way out: it records err in *rr, with the
// cause when the whole run was stopped, and returns *rr.
func failRound(ctx context.Context, rr *roundResult) func(error) roundResult {
	return func(err error) roundResult {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w (run stopped: %v)", err, cause)
		}
		rr.Error = err.Error()
		return *rr
	}
}

// freeAddr picks a free loopback port for a round's servers.
func freeAddr() (int, string, error) {
	port, err := freePort()
	return port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), err
}
