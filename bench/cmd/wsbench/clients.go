//go:build linux

package main

// The clients scenario: N idle connections of a Go WebSocket client
// library, held by ceil(N/-per-load) wsclients processes (package
// clientload) against -procs wsloop processes sharing one port, for every
// kind in -clients (wsloop's client/, gorilla, coder), one after the
// other, each against freshly started servers. Every client pings every
// -heartbeat and drops a connection silent for 1.5·heartbeat +
// -heartbeat-timeout, so with a hold longer than that a connection still
// up at the end has had its pings answered.
//
// Per kind and round: the client processes start and report a baseline
// (Go heap, stacks, goroutines after a GC, with no connection); after
// -settle their RSS is read; then they all dial at once (connect time is
// from that order to the last READY); they report a snapshot, hold for
// -hold while RSS is sampled every second, their RSS is read, and they
// report a final snapshot: connections still up, connections that ended
// or reconnected, heap, stacks, goroutines, and the TCP byte counters of
// every 1000th connection (the heartbeat traffic over the hold). Figures
// per connection divide by the connections established: RSS total / N,
// marginal RSS ((RSS − baseline RSS of the same processes) / N), Go heap
// in use and stacks (difference to the baseline / N), goroutines.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsloop/wsloop/bench/clientload"
	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// clientsConfig is the clients scenario's part of the command line.
type clientsConfig struct {
	kindsFlag        string
	kinds            []string
	heartbeat        time.Duration
	heartbeatTimeout time.Duration
	inflight         int
}

func (c *clientsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.kindsFlag, "clients", strings.Join(clientload.Kinds, ","), "clients: client libraries to compare, comma-separated ("+strings.Join(clientload.Kinds, ", ")+"); ratios are to wsloop's client")
	fs.DurationVar(&c.heartbeat, "heartbeat", 10*time.Second, "clients: ping interval of every client")
	fs.DurationVar(&c.heartbeatTimeout, "heartbeat-timeout", 10*time.Second, "clients: a connection silent for 1.5×heartbeat plus this is dropped")
	fs.IntVar(&c.inflight, "dial-inflight", 256, "clients: dials in flight per client process")
}

// parse checks the flags once the scenario is known to be clients.
func (c *clientsConfig) parse() error {
	c.kinds = nil
	for _, k := range splitList(c.kindsFlag) {
		if !slices.Contains(clientload.Kinds, k) {
			return fmt.Errorf("-clients: %q is not one of %s", k, strings.Join(clientload.Kinds, ","))
		}
		if slices.Contains(c.kinds, k) {
			return fmt.Errorf("-clients: %q listed twice", k)
		}
		c.kinds = append(c.kinds, k)
	}
	switch {
	case len(c.kinds) == 0:
		return errors.New("-clients: need at least one client library")
	case c.heartbeat <= 0 || c.heartbeat > time.Hour || c.heartbeatTimeout <= 0 || c.heartbeatTimeout > time.Hour:
		return errors.New("-heartbeat and -heartbeat-timeout must be in (0, 1h]")
	case c.inflight < 1 || c.inflight > 10000:
		return errors.New("-dial-inflight must be in [1, 10000]")
	}
	return nil
}

// clientsSpec resolves the clients scenario's defaults.
func clientsSpec(cfg *config) (spec, error) {
	sp := spec{name: "clients", conns: cfg.conns, hold: cfg.hold, sysctls: !cfg.noSysctl}
	if sp.conns == 0 {
		sp.conns = 100_000
	}
	if sp.hold == 0 {
		sp.hold = 30 * time.Second
	}
	sp.serverProcs = cfg.procs
	if sp.serverProcs == 0 {
		sp.serverProcs = ceilDiv(sp.conns, cfg.perServer)
	}
	sp.reuseport = sp.serverProcs > 1
	sp.tag = fmt.Sprintf("clients-%d", sp.conns)
	if per := ceilDiv(sp.conns, sp.serverProcs); per > maxOneProcess {
		return sp, fmt.Errorf("clients: %d connections per server process exceed %d (raise -procs)", per, maxOneProcess)
	}
	if silence := cfg.cl.heartbeat*3/2 + cfg.cl.heartbeatTimeout; sp.hold <= silence {
		return sp, fmt.Errorf("clients: -hold %v must exceed 1.5×heartbeat + heartbeat-timeout (%v), or surviving it proves nothing about the heartbeat", sp.hold, silence)
	}
	return sp, nil
}

// runClients is the whole clients scenario: build, sysctls, rounds,
// report.
func (b *bench) runClients(ctx context.Context, moduleDir, binDir string) error {
	cfg := b.cfg
	sp, err := clientsSpec(cfg)
	if err != nil {
		return err
	}
	b.logf("building wsloop and wsclients in %s", binDir)
	if b.bins, err = buildBinaries(ctx, moduleDir, binDir, []string{"wsloop", "wsclients"}, false); err != nil {
		return err
	}
	if sp.sysctls {
		if err := guard.apply(millionSysctls); err != nil {
			return err
		}
		defer guard.restoreAll()
	}
	kinds := cfg.cl.kinds
	b.logf("== %s: %d conns of %s, %d server process(es), %d client process(es) per kind, hold %v, heartbeat %v/%v, %d round(s); pinned: %v",
		sp.tag, sp.conns, strings.Join(kinds, " "), sp.serverProcs, ceilDiv(sp.conns, cfg.perLoad), sp.hold, cfg.cl.heartbeat, cfg.cl.heartbeatTimeout, cfg.rounds, cfg.pin)
	if cfg.warmRun {
		r := b.runClientsOne(ctx, sp, kinds[0], 0)
		b.logf("%s warm-up run %s (not recorded): %s", sp.tag, kinds[0], clientsLine(r))
	}
	var rs []clientsRound
	var runErr error
rounds:
	for round := 1; round <= cfg.rounds; round++ {
		for _, k := range kinds {
			if err := ctx.Err(); err != nil {
				runErr = context.Cause(ctx)
				break rounds
			}
			r := b.runClientsOne(ctx, sp, k, round)
			rs = append(rs, r)
			b.logf("%s round %d %s: %s", sp.tag, round, k, clientsLine(r))
		}
	}
	if runErr == nil && ctx.Err() != nil {
		runErr = context.Cause(ctx)
	}
	sums := summarizeClients(sp, cfg, rs)
	printClientsTable(b.stdout, sp, cfg, sums)
	if cfg.jsonPath != "" && len(sums) > 0 {
		if err := writeJSON(cfg.jsonPath, sums); err != nil {
			return errors.Join(runErr, err)
		}
		b.logf("wrote %s", cfg.jsonPath)
	}
	return runErr
}

// clientsRound is one kind's figures from one round.
type clientsRound struct {
	Round       int    `json:"round"`
	Kind        string `json:"kind"`
	Error       string `json:"error,omitempty"`
	ServerProcs int    `json:"server_procs"`
	ClientProcs int    `json:"client_procs"`

	ConnsRequested     int     `json:"conns_requested"`
	ConnsOK            int     `json:"conns_ok"`
	ConnectFailed      int     `json:"connect_failed"`
	FirstError         string  `json:"first_error,omitempty"`
	ConnectWallSeconds float64 `json:"connect_wall_seconds"` // CONNECT sent to the last READY
	ConnectSeconds     float64 `json:"connect_seconds"`      // slowest process, as it reported
	HoldSeconds        float64 `json:"hold_seconds"`
	Alive              int     `json:"alive_after_hold"`
	Ended              int64   `json:"ended_during_hold"`
	Reconnects         int64   `json:"reconnects"`
	ClosedAll          bool    `json:"closed_all"`

	RSSBaseBytes       int64   `json:"client_rss_base_bytes"`
	RSSBytes           int64   `json:"client_rss_bytes"`
	RSSPeakBytes       int64   `json:"client_rss_peak_bytes"`
	RSSPerConn         float64 `json:"client_rss_bytes_per_conn"`
	RSSMarginal        float64 `json:"client_rss_marginal_bytes_per_conn"`
	HeapBaseBytes      int64   `json:"heap_inuse_base_bytes"`
	HeapBytes          int64   `json:"heap_inuse_bytes"`
	HeapPerConn        float64 `json:"heap_inuse_bytes_per_conn"`
	StackPerConn       float64 `json:"stack_inuse_bytes_per_conn"`
	HeapObjectsPerConn float64 `json:"heap_objects_per_conn"`
	GoroutinesBase     int     `json:"goroutines_base"`
	Goroutines         int     `json:"goroutines"`
	GoroutinesPerConn  float64 `json:"goroutines_per_conn"`
	ClientCPUHold      float64 `json:"client_cpu_seconds_hold"`

	SampledConns         int     `json:"sampled_conns"`
	HoldBytesSentPerConn float64 `json:"hold_bytes_sent_per_sampled_conn"`
	HoldBytesRecvPerConn float64 `json:"hold_bytes_received_per_sampled_conn"`

	ServerRSSBaseBytes int64 `json:"server_rss_base_bytes"`
	ServerRSSBytes     int64 `json:"server_rss_bytes"`
	MemAvailableMin    int64 `json:"mem_available_min_bytes"`
}

// clientsProcs are the processes of one clients round.
type clientsProcs struct {
	srvs, clients []*child
}

func (p *clientsProcs) alive() error {
	for _, c := range append(slices.Clone(p.srvs), p.clients...) {
		if c.exited() {
			return fmt.Errorf("died: %s", c.describeExit())
		}
	}
	return nil
}

// tell writes line to every client process's standard input.
func (p *clientsProcs) tell(line string) error {
	for _, c := range p.clients {
		if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// waitLines waits until every client process has printed n lines starting
// with prefix, and returns the n-th of each (prefix removed).
func (p *clientsProcs) waitLines(ctx context.Context, prefix string, n int, budget time.Duration) ([]string, error) {
	deadline := time.Now().Add(budget)
	for {
		var got []string
		for _, c := range p.clients {
			exited := c.exited() // before reading: an exited child's lines are all in
			if ls := linesWith(c, prefix); len(ls) >= n {
				got = append(got, strings.TrimPrefix(ls[n-1], prefix))
			} else if exited {
				return nil, fmt.Errorf("died: %s", c.describeExit())
			}
		}
		if len(got) == len(p.clients) {
			return got, nil
		}
		for _, s := range p.srvs {
			if s.exited() {
				return nil, fmt.Errorf("server died: %s", s.describeExit())
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d client processes printed %s #%d within %v", len(got), len(p.clients), strings.TrimSpace(prefix), n, budget)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// linesWith returns c's stdout lines that start with prefix, oldest first.
func linesWith(c *child, prefix string) []string {
	c.lineMu.Lock()
	defer c.lineMu.Unlock()
	var out []string
	for _, l := range c.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// snapshots decodes the JSON snapshots of one step and adds them up.
func snapshots(lines []string) (clientload.Snapshot, error) {
	var sum clientload.Snapshot
	for _, l := range lines {
		var s clientload.Snapshot
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			return sum, fmt.Errorf("snapshot %q: %w", l, err)
		}
		sum.Conns += s.Conns
		sum.Connected += s.Connected
		sum.Failed += s.Failed
		sum.Alive += s.Alive
		sum.Ended += s.Ended
		sum.Reconnects += s.Reconnects
		sum.HeapInuse += s.HeapInuse
		sum.HeapObjects += s.HeapObjects
		sum.StackInuse += s.StackInuse
		sum.Goroutines += s.Goroutines
		sum.SampledOpen += s.SampledOpen
		sum.SampledSent += s.SampledSent
		sum.SampledRecv += s.SampledRecv
		sum.ConnectSeconds = max(sum.ConnectSeconds, s.ConnectSeconds)
		if sum.FirstError == "" {
			sum.FirstError = s.FirstError
		}
	}
	return sum, nil
}

// runOne for the clients scenario: servers, client processes, baseline,
// connect, hold, measure, close. Every wait is bounded.
func (b *bench) runClientsOne(ctx context.Context, sp spec, kind string, round int) (rr clientsRound) {
	cfg := b.cfg
	nClients := ceilDiv(sp.conns, cfg.perLoad)
	rr = clientsRound{Round: round, Kind: kind, ServerProcs: sp.serverProcs, ClientProcs: nClients, ConnsRequested: sp.conns}
	b.takeMemMin()
	defer func() { rr.MemAvailableMin = b.takeMemMin() }()
	fail := func(err error) clientsRound {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w (run stopped: %v)", err, cause)
		}
		rr.Error = err.Error()
		return rr
	}
	b.describe("%s r%d %s: starting", sp.tag, round, kind)

	port, addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	var p clientsProcs
	p.srvs, err = b.startServers(sp, "wsloop", addr)
	defer stopAll(p.srvs, 15*time.Second+time.Duration(sp.serverProcs)*200*time.Millisecond)
	if err != nil {
		return fail(err)
	}
	if err := waitListening(ctx, p.srvs, port, 20*time.Second+time.Duration(sp.serverProcs)*time.Second); err != nil {
		return fail(err)
	}
	// Client processes stop before the servers (deferred later).
	defer stopLoads(p.clients)
	closeBudget := 30 * time.Second
	connectBudget := 60*time.Second + time.Duration(sp.conns)*time.Millisecond
	lifetime := connectBudget + sp.hold + closeBudget + 5*time.Minute
	for i := range nClients {
		conns := sp.conns / nClients
		if i < sp.conns%nClients {
			conns++
		}
		args := []string{"-kind", kind, "-url", "ws://" + addr + "/", "-conns", strconv.Itoa(conns),
			"-src", b.src.take(), "-src-count", strconv.Itoa(cfg.srcCount), "-inflight", strconv.Itoa(cfg.cl.inflight),
			"-heartbeat", cfg.cl.heartbeat.String(), "-heartbeat-timeout", cfg.cl.heartbeatTimeout.String(),
			"-deadline", lifetime.String(), "-close-timeout", closeBudget.String()}
		if cfg.connectTimeout > 0 {
			args = append(args, "-dial-timeout", cfg.connectTimeout.String())
		}
		c, err := startChild(fmt.Sprintf("wsclients-%s#%d", kind, i), b.bins["wsclients"], args, b.loadCPU(), os.Environ(), true)
		if err != nil {
			return fail(err)
		}
		p.clients = append(p.clients, c)
	}
	base, err := p.waitLines(ctx, "BASE ", 1, 30*time.Second)
	if err != nil {
		return fail(err)
	}
	baseSnap, err := snapshots(base)
	if err != nil {
		return fail(err)
	}
	if err := sleepCtx(ctx, cfg.settle); err != nil {
		return fail(err)
	}
	cpids, spids := pidsOf(p.clients), pidsOf(p.srvs)
	if rr.RSSBaseBytes, err = procfs.SumRSS(cpids); err != nil {
		return fail(err)
	}
	if rr.ServerRSSBaseBytes, err = procfs.SumRSS(spids); err != nil {
		return fail(err)
	}

	b.describe("%s r%d %s: connecting %d", sp.tag, round, kind, sp.conns)
	start := time.Now()
	if err := p.tell("CONNECT"); err != nil {
		return fail(err)
	}
	ready, err := p.waitLines(ctx, "READY ", 1, connectBudget)
	if err != nil {
		return fail(err)
	}
	rr.ConnectWallSeconds = time.Since(start).Seconds()
	for _, l := range ready {
		r, ok := parseReady("READY " + l)
		if !ok {
			return fail(fmt.Errorf("bad READY line %q", l))
		}
		rr.ConnsOK += r.ok
		rr.ConnectFailed += r.failed
		rr.ConnectSeconds = max(rr.ConnectSeconds, r.secs)
	}
	if rr.ConnsOK == 0 {
		return fail(errors.New("no connection established"))
	}
	if err := p.tell("MEASURE"); err != nil {
		return fail(err)
	}
	first, err := p.waitLines(ctx, "STATS ", 1, 60*time.Second)
	if err != nil {
		return fail(err)
	}
	firstSnap, err := snapshots(first)
	if err != nil {
		return fail(err)
	}
	rr.FirstError = firstSnap.FirstError

	// The hold, reading RSS every second.
	holdStart := time.Now()
	cpuA, err := sumCPUSeconds(cpids)
	if err != nil {
		return fail(err)
	}
	for {
		v, err := procfs.SumRSS(cpids)
		if err != nil {
			return fail(err)
		}
		rr.RSSBytes = v
		rr.RSSPeakBytes = max(rr.RSSPeakBytes, v)
		left := sp.hold - time.Since(holdStart)
		if left <= 0 {
			break
		}
		if err := p.alive(); err != nil {
			return fail(err)
		}
		b.describe("%s r%d %s: holding %d conns, %.0fs left, client rss %.0f MiB", sp.tag, round, kind, rr.ConnsOK, left.Seconds(), float64(v)/(1<<20))
		if err := sleepCtx(ctx, min(left, time.Second)); err != nil {
			return fail(err)
		}
	}
	cpuB, err := sumCPUSeconds(cpids)
	if err != nil {
		return fail(err)
	}
	rr.HoldSeconds = time.Since(holdStart).Seconds()
	rr.ClientCPUHold = cpuB - cpuA
	if rr.ServerRSSBytes, err = procfs.SumRSS(spids); err != nil {
		return fail(err)
	}
	if err := p.tell("MEASURE"); err != nil {
		return fail(err)
	}
	last, err := p.waitLines(ctx, "STATS ", 2, 60*time.Second)
	if err != nil {
		return fail(err)
	}
	s, err := snapshots(last)
	if err != nil {
		return fail(err)
	}
	rr.Alive, rr.Ended, rr.Reconnects = s.Alive, s.Ended, s.Reconnects
	n := float64(rr.ConnsOK)
	rr.RSSPerConn = float64(rr.RSSBytes) / n
	rr.RSSMarginal = float64(rr.RSSBytes-rr.RSSBaseBytes) / n
	rr.HeapBaseBytes, rr.HeapBytes = int64(baseSnap.HeapInuse), int64(s.HeapInuse)
	rr.HeapPerConn = (float64(s.HeapInuse) - float64(baseSnap.HeapInuse)) / n
	rr.StackPerConn = (float64(s.StackInuse) - float64(baseSnap.StackInuse)) / n
	rr.HeapObjectsPerConn = (float64(s.HeapObjects) - float64(baseSnap.HeapObjects)) / n
	rr.GoroutinesBase, rr.Goroutines = baseSnap.Goroutines, s.Goroutines
	rr.GoroutinesPerConn = float64(s.Goroutines-baseSnap.Goroutines) / n
	if s.SampledOpen > 0 && s.SampledOpen == firstSnap.SampledOpen {
		rr.SampledConns = s.SampledOpen
		rr.HoldBytesSentPerConn = float64(s.SampledSent-firstSnap.SampledSent) / float64(s.SampledOpen)
		rr.HoldBytesRecvPerConn = float64(s.SampledRecv-firstSnap.SampledRecv) / float64(s.SampledOpen)
	}

	// Close: end of input closes every connection and ends the process.
	b.describe("%s r%d %s: closing", sp.tag, round, kind)
	for _, c := range p.clients {
		_ = c.stdin.Close()
	}
	closed, err := p.waitLines(ctx, "CLOSED ", 1, closeBudget+10*time.Second)
	if err != nil {
		return fail(fmt.Errorf("closing: %w", err))
	}
	rr.ClosedAll = true
	for _, l := range closed {
		rr.ClosedAll = rr.ClosedAll && strings.HasPrefix(l, "true ")
	}
	return rr
}
