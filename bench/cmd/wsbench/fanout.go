//go:build linux

package main

// The fanout scenario: N subscriber connections, each subscribed to every
// one of T topics (t0 … tT-1), and a publisher posting S-byte publications
// at R per second in total (round-robin over the topics) for the warm-up
// and the measured window. Every publication therefore reaches all N
// subscribers: offered deliveries/s = R × N.
//
// Servers and publishing:
//   - wsloop: -procs processes of `wsloop -mode pubsub` sharing the port
//     (SO_REUSEPORT), joined through one nats-server with JetStream (a
//     fresh one with its store in a temporary directory for every run);
//     the publisher posts to ONE process's admin address and NATS carries
//     each publication to every process.
//   - wsloop-local: the same processes without NATS, each with its
//     in-process broker; the publisher posts every publication to every
//     process's admin address.
//   - gws, nbio, gorilla (bench/peers, -mode pubsub): like wsloop-local,
//     with no broker at all. Posting to every process is the peers' best
//     case: no broker hop, and no sequence numbers or history either.
//
// Measurement: subscribers are wsload -mode fanout processes; they
// subscribe with the wire protocol's JSON request and count as connected
// once every subscription is answered. Then wsbench picks the window (all
// READY + 300 ms + warm-up, lasting -duration), hands it to every wsload on
// its standard input, and runs the publisher (loadgen.Publish: each
// publication is posted to every endpoint at once and is done when all
// have answered; one that cannot start within 1 s after the window, because
// the endpoints answer slower than the rate, is skipped). When the
// publisher is done, the subscribers listen for -drain more (STOP on their
// standard input). Deliveries are publications received inside the
// window, summed over every wsload, divided by its length; latency is
// receive time minus the publication's due time written in its payload,
// for the publications due inside the window (one the publisher skipped
// counts, for every subscriber, as received at the stop: a lower bound);
// loss is publications posted × subscribers − publications received by the
// end of the drain (so a delivery later than the drain counts as lost).
// Server CPU and RSS include nats-server.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/loadgen"
)

// fanoutRound is what a fanout round adds to roundResult.
type fanoutRound struct {
	Subscribers        int     `json:"subscribers"`
	Topics             int     `json:"topics"`
	Endpoints          int     `json:"publish_endpoints"`
	Publications       int64   `json:"publications"`
	PublishPosts       int64   `json:"publish_posts"`
	PublishPosted      int64   `json:"publications_posted"`
	PublishSkipped     int64   `json:"publications_skipped"`
	PublishErrors      int64   `json:"publish_errors"`
	PublishMaxPostMs   float64 `json:"publish_max_request_ms"`
	PublishFirstError  string  `json:"publish_first_error,omitempty"`
	PublishMaxLagMs    float64 `json:"publish_max_lag_ms"`
	OfferedPerSec      float64 `json:"deliveries_offered_per_sec"`
	DeliveriesInWindow int64   `json:"deliveries_in_window"`
	DeliveriesExpected int64   `json:"deliveries_expected"`
	DeliveriesTotal    int64   `json:"deliveries_total"`
	Lost               int64   `json:"lost"`
	Gaps               int64   `json:"gaps"`
	Dups               int64   `json:"dups"`
	SeqChecked         int64   `json:"seq_checked"`
	SeqGaps            int64   `json:"seq_gaps"`
	SeqDups            int64   `json:"seq_dups"`
	BinaryMsgs         int64   `json:"binary_msgs"`
	NATS               bool    `json:"nats"`
}

// fanoutSpec fills sp for the fanout scenario at the given rate.
func fanoutSpec(cfg *config, sp *spec, rate float64) error {
	sp.conns = cfg.subscribers
	if sp.conns == 0 {
		sp.conns = cfg.conns
	}
	if sp.conns == 0 {
		sp.conns = 100_000
	}
	sp.topics = cfg.topics
	sp.size = 100
	if cfg.sizeSet {
		sp.size = cfg.size
	}
	if sp.size < loadgen.MinPayload {
		return fmt.Errorf("fanout: -size %d is below %d, the payload's header (time stamp, topic, number)", sp.size, loadgen.MinPayload)
	}
	sp.rate = rate
	if sp.rate == 0 {
		sp.rate = 10
	}
	sp.warmup, sp.duration, sp.drain = cfg.warmup, cfg.duration, cfg.drain
	sp.serverProcs = cfg.procs
	if sp.serverProcs == 0 {
		sp.serverProcs = ceilDiv(sp.conns, cfg.perServer)
	}
	sp.reuseport = sp.serverProcs > 1
	sp.tag = fmt.Sprintf("fanout-%dBx%dx%dt-%sps", sp.size, sp.conns, sp.topics, strconv.FormatFloat(sp.rate, 'f', -1, 64))
	return nil
}

// The publisher skips a publication it cannot start within publishCutoff
// after the window; publishTimeout bounds one request.
const (
	publishCutoff  = time.Second
	publishTimeout = 10 * time.Second
)

// needsNATS reports whether a server list needs nats-server built.
func needsNATS(servers []string) bool { return slices.Contains(servers, "wsloop") }

// topicNames are t0 … tn-1, as wsload -topics n subscribes to them.
func topicNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "t" + strconv.Itoa(i)
	}
	return out
}

// fanoutProcs is what runFanout started for one server.
type fanoutProcs struct {
	srvs      []*child
	nats      *child
	natsDir   string
	endpoints []string // the admin addresses the publisher posts to
}

func (f *fanoutProcs) pids() []int {
	p := pidsOf(f.srvs)
	if f.nats != nil {
		p = append(p, f.nats.pid)
	}
	return p
}

func (f *fanoutProcs) alive() error {
	for _, s := range f.srvs {
		if s.exited() {
			return fmt.Errorf("server died: %s", s.describeExit())
		}
	}
	if f.nats != nil && f.nats.exited() {
		return fmt.Errorf("nats-server died: %s", f.nats.describeExit())
	}
	return nil
}

// stop stops the servers, then nats-server, and removes its store.
func (f *fanoutProcs) stop() {
	stopAll(f.srvs, 15*time.Second+time.Duration(len(f.srvs))*200*time.Millisecond)
	if f.nats != nil {
		stopAll([]*child{f.nats}, 10*time.Second)
	}
	if f.natsDir != "" {
		_ = os.RemoveAll(f.natsDir)
	}
}

// startFanoutServers starts nats-server (for wsloop) and the server
// processes, each with its own admin address, and waits until all of them
// listen.
func (b *bench) startFanoutServers(ctx context.Context, sp spec, server string, port int) (*fanoutProcs, error) {
	f := &fanoutProcs{}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var natsURL string
	if server == "wsloop" {
		np, err := freePort()
		if err != nil {
			return f, err
		}
		if f.natsDir, err = os.MkdirTemp("", "wsbench-nats-"); err != nil {
			return f, err
		}
		natsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(np))
		args := []string{"-js", "-sd", f.natsDir, "-a", "127.0.0.1", "-p", strconv.Itoa(np)}
		if f.nats, err = startChild("nats-server", b.bins["nats-server"], args, b.serverCPU(), b.serverEnv(), false); err != nil {
			return f, err
		}
		if err := waitDial(ctx, natsAddr, 20*time.Second, f.alive); err != nil {
			return f, fmt.Errorf("nats-server: %w", err)
		}
		natsURL = "nats://" + natsAddr
	}
	var admins []string
	for i := 0; i < sp.serverProcs; i++ {
		ap, err := freePort()
		if err != nil {
			return f, err
		}
		admin := net.JoinHostPort("127.0.0.1", strconv.Itoa(ap))
		admins = append(admins, admin)
		args := []string{"-addr", addr, "-mode", "pubsub", "-admin", admin}
		if strings.HasPrefix(server, "wsloop") {
			args = append(args, "-log-level", "warn")
			if natsURL != "" {
				args = append(args, "-nats", natsURL)
			}
		}
		if sp.reuseport {
			args = append(args, "-reuseport")
		}
		c, err := startChild(fmt.Sprintf("%s#%d", server, i), b.bins[server], args, b.serverCPU(), b.serverEnv(), false)
		if err != nil {
			return f, err
		}
		f.srvs = append(f.srvs, c)
	}
	wait := 20*time.Second + time.Duration(sp.serverProcs)*time.Second
	if err := waitListening(ctx, f.srvs, port, wait); err != nil {
		return f, err
	}
	for _, a := range admins {
		if err := waitDial(ctx, a, wait, f.alive); err != nil {
			return f, fmt.Errorf("admin address: %w", err)
		}
	}
	f.endpoints = admins
	if server == "wsloop" {
		f.endpoints = admins[:1] // NATS carries publications to the others
	}
	return f, nil
}

// waitDial waits until a TCP connection to addr succeeds.
func waitDial(ctx context.Context, addr string, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if aerr := alive(); aerr != nil {
			return aerr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting after %v: %w", addr, timeout, err)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// runFanout runs one fanout round of one server. Every wait is bounded.
func (b *bench) runFanout(ctx context.Context, sp spec, server string, round int) (rr roundResult) {
	cfg := b.cfg
	fr := &fanoutRound{Subscribers: sp.conns, Topics: sp.topics, NATS: server == "wsloop",
		OfferedPerSec: sp.rate * float64(sp.conns)}
	rr = roundResult{Round: round, Server: server, ConnsRequested: sp.conns, ServerProcs: sp.serverProcs, Fanout: fr}
	b.takeMemMin()
	defer func() { rr.MemAvailableMin = b.takeMemMin() }()
	fail := failRound(ctx, &rr)

	port, addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	procs, err := b.startFanoutServers(ctx, sp, server, port)
	// Servers stop last: after the load processes (deferred later).
	defer procs.stop()
	if err != nil {
		return fail(err)
	}
	fr.Endpoints = len(procs.endpoints)
	if err := sleepCtx(ctx, cfg.settle); err != nil {
		return fail(err)
	}
	pids := procs.pids()
	if rr.RSSBaseBytes, err = procfs.SumRSS(pids); err != nil {
		return fail(fmt.Errorf("baseline RSS: %w", err))
	}

	// Subscribers.
	n := ceilDiv(sp.conns, cfg.perLoad)
	rr.LoadProcs = n
	connectBudget := 60*time.Second + time.Duration(sp.conns)*250*time.Microsecond +
		time.Duration(sp.conns*sp.topics)*5*time.Microsecond
	runSpan := 300*time.Millisecond + sp.warmup + sp.duration + publishCutoff + publishTimeout + sp.drain
	inuse0, _ := tcpInUse()
	start := time.Now()
	loads, err := b.startLoads(n, sp.conns, addr, func(int) []string {
		args := []string{"-mode", "fanout", "-topics", strconv.Itoa(sp.topics),
			"-hold", (connectBudget + runSpan + time.Minute).String()}
		if strings.HasPrefix(server, "wsloop") {
			args = append(args, "-subprotocol", cfg.wsloopProto)
		}
		ct := cfg.connectTimeout
		if ct == 0 {
			ct = 30 * time.Second // subscribing is part of connecting
		}
		return append(args, "-connect-timeout", ct.String())
	})
	defer stopLoads(loads)
	if err != nil {
		return fail(err)
	}
	ready, err := b.waitReady(ctx, sp, server, round, loads, procs.alive, start, connectBudget, inuse0)
	if err != nil {
		return fail(err)
	}
	rr.ConnectWallSeconds = time.Since(start).Seconds()
	for _, r := range ready {
		rr.ConnsOK += r.ok
		rr.ConnsFailed += r.failed
		rr.ConnectSeconds = max(rr.ConnectSeconds, r.secs)
	}
	if rr.ConnsOK == 0 {
		return fail(errors.New("no subscriber connected"))
	}

	// The window, to every subscriber process, then the publisher.
	pubStart := time.Now().Add(300 * time.Millisecond)
	win := loadgen.Window{MeasureStart: pubStart.Add(sp.warmup)}
	win.MeasureEnd = win.MeasureStart.Add(sp.duration)
	tell := func(line string) error {
		for _, l := range loads {
			if _, err := l.stdin.Write([]byte(line)); err != nil {
				return fmt.Errorf("%s: writing %q: %w", l.name, line, err)
			}
		}
		return nil
	}
	if err := tell(fmt.Sprintf("WINDOW %d %d\n", win.MeasureStart.UnixNano(), win.MeasureEnd.UnixNano())); err != nil {
		return fail(err)
	}
	pubEnd := win.MeasureEnd.Add(publishCutoff + publishTimeout + 5*time.Second)
	pubCtx, pubCancel := context.WithDeadline(ctx, pubEnd)
	defer pubCancel()
	type pubOut struct {
		res loadgen.PublishResult
		err error
	}
	pubDone := make(chan pubOut, 1)
	go func() {
		res, err := loadgen.Publish(pubCtx, loadgen.PublishConfig{
			Endpoints: procs.endpoints, Topics: topicNames(sp.topics), Size: sp.size, Rate: sp.rate,
			Start: pubStart, End: win.MeasureEnd, Cutoff: win.MeasureEnd.Add(publishCutoff), Timeout: publishTimeout,
		})
		pubDone <- pubOut{res, err}
	}()

	b.describe("%s r%d/%d %s: warmup", sp.tag, round, cfg.rounds, server)
	if err := sleepCtx(ctx, time.Until(win.MeasureStart)); err != nil {
		return fail(err)
	}
	cpuA, err := sumCPUSeconds(pids)
	if err != nil {
		return fail(err)
	}
	loadA, _ := sumCPUSeconds(pidsOf(loads))
	tA := time.Now()
	b.describe("%s r%d/%d %s: measuring %v", sp.tag, round, cfg.rounds, server, sp.duration)
	if err := sleepCtx(ctx, time.Until(win.MeasureEnd)); err != nil {
		return fail(err)
	}
	cpuB, err := sumCPUSeconds(pids)
	if err != nil {
		return fail(err)
	}
	if loadB, err := sumCPUSeconds(pidsOf(loads)); err == nil {
		rr.LoadCPUSeconds = loadB - loadA
	}
	rr.ServerCPUSeconds = cpuB - cpuA
	rr.WindowSeconds = time.Since(tA).Seconds()
	if rr.RSSBytes, err = procfs.SumRSS(pids); err != nil {
		return fail(err)
	}
	rr.RSSPeakBytes = rr.RSSBytes
	rr.RSSMarginal = float64(rr.RSSBytes-rr.RSSBaseBytes) / float64(rr.ConnsOK)
	if err := procs.alive(); err != nil {
		return fail(err)
	}
	var pub pubOut
	select {
	case pub = <-pubDone:
	case <-time.After(time.Until(pubEnd) + 10*time.Second):
		return fail(errors.New("publisher did not stop"))
	}
	fr.Publications, fr.PublishPosted, fr.PublishSkipped = pub.res.Publications, pub.res.Posted, pub.res.Skipped
	fr.PublishPosts, fr.PublishErrors = pub.res.Posts, pub.res.Errors
	fr.PublishMaxPostMs, fr.PublishMaxLagMs, fr.PublishFirstError = pub.res.MaxPostMillis, pub.res.MaxLagMillis, pub.res.FirstError
	if pub.err != nil {
		return fail(fmt.Errorf("publisher: %w", pub.err))
	}

	// The subscribers listen for the drain, then end by themselves.
	b.describe("%s r%d/%d %s: draining", sp.tag, round, cfg.rounds, server)
	stopAt := time.Now().Add(sp.drain)
	if err := tell(fmt.Sprintf("STOP %d\n", stopAt.UnixNano())); err != nil {
		return fail(err)
	}
	_, merged, hist, err := collectResults(loads, time.Until(stopAt)+30*time.Second+time.Duration(sp.conns/20000)*time.Second, "the publisher")
	if err != nil {
		return fail(err)
	}
	rr.Errors = merged.Errors + int64(merged.ConnsFailed) + fr.PublishErrors
	rr.MsgsSent, rr.MsgsRecv = fr.Publications, merged.MsgsRecv
	fr.DeliveriesInWindow, fr.DeliveriesTotal = merged.Deliveries, merged.MsgsRecv
	// Every publication posted (to every endpoint) reaches every
	// subscriber. A publication some endpoints refused (an error) counts
	// for the share of subscribers the others serve, assuming SO_REUSEPORT
	// spread them evenly.
	fr.DeliveriesExpected = int64(float64(fr.PublishPosts) * float64(merged.ConnsOK) / float64(max(1, len(procs.endpoints))))
	fr.Lost = fr.DeliveriesExpected - fr.DeliveriesTotal
	fr.Gaps, fr.Dups = merged.Gaps, merged.Dups
	fr.SeqChecked, fr.SeqGaps, fr.SeqDups, fr.BinaryMsgs = merged.SeqChecked, merged.SeqGaps, merged.SeqDups, merged.BinaryMsgs
	// A publication due in the window that the server's publish endpoint
	// could not take in time (skipped) reached nobody: it counts for every
	// subscriber as received at the stop, a lower bound of its latency, so
	// an overloaded server cannot show the latencies of the few
	// publications it accepted as its own.
	for _, due := range pub.res.SkippedDue {
		if due >= win.MeasureStart.UnixNano() && due < win.MeasureEnd.UnixNano() {
			us := min(max((stopAt.UnixNano()-due)/1000, loadgen.HistMinMicros), loadgen.HistMaxMicros)
			_ = hist.RecordValues(us, int64(merged.ConnsOK))
		}
	}
	win64 := win.MeasureEnd.Sub(win.MeasureStart).Seconds()
	rr.DeliveriesPerSec = float64(merged.Deliveries) / win64
	rr.MsgsPerSec = rr.DeliveriesPerSec
	rr.P50us = float64(hist.ValueAtQuantile(50))
	rr.P99us = float64(hist.ValueAtQuantile(99))
	rr.P999us = float64(hist.ValueAtQuantile(99.9))
	rr.MaxUs = float64(hist.Max())
	if d := float64(merged.Deliveries); d > 0 && rr.ServerCPUSeconds > 0 {
		rr.CPUPerMillion = rr.ServerCPUSeconds / (d / 1e6)
		rr.MsgsPerCPUSec = d / rr.ServerCPUSeconds
	}
	rr.LostMetric = float64(fr.Lost)
	if merged.Deliveries == 0 {
		return fail(errors.New("no publication received in the window"))
	}
	return rr
}

// fanoutLine is the per-run log line of a fanout round.
func fanoutLine(r roundResult) string {
	f := r.Fanout
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%.0f deliveries/s (offered %.0f), p50 %.0fµs p99 %.0fµs p999 %.0fµs, %d publications (%d posted, %d skipped, %d errors, max lag %.1f ms, longest request %.1f ms), lost %d, gaps %d dups %d, seq checked %d gaps %d dups %d, cpu %.2fs (%.2f s/M; load generator %.2fs of %.2fs), ",
		r.DeliveriesPerSec, f.OfferedPerSec, r.P50us, r.P99us, r.P999us, f.Publications, f.PublishPosted, f.PublishSkipped, f.PublishErrors,
		f.PublishMaxLagMs, f.PublishMaxPostMs, f.Lost, f.Gaps, f.Dups, f.SeqChecked, f.SeqGaps, f.SeqDups,
		r.ServerCPUSeconds, r.CPUPerMillion, r.LoadCPUSeconds, r.WindowSeconds)
}
