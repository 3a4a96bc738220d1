package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wsloop/wsloop/feed"
)

// runner is one run's state; its methods run on Run's goroutine.
type runner struct {
	cfg     Config
	res     *Result
	dir     string
	bin     string // wsloop
	nats    *natsServer
	feed    *server
	smp     *sampler
	pool    *pool
	churn   *churn
	symbols []string
	start   time.Time
	log     io.Writer

	stopSampler func()
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%7.1fs  %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *runner) now() float64 { return time.Since(r.start).Seconds() }

func (r *runner) url() string { return "ws://" + r.feed.addr + "/" }

// window records a named stretch from from to now.
func (r *runner) window(name string, from float64) {
	r.res.Windows = append(r.res.Windows, Window{Name: name, From: from, To: r.now()})
}

// Run runs the suite and writes its outputs (Config.Out, Config.Report).
// It returns an error when the deployment could not be set up or the
// outputs not written; failed checks are in the Result (Failed).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Procs < 2 {
		return nil, errors.New("soak: Procs must be at least 2 (a worker is killed)")
	}
	r := &runner{cfg: cfg, start: time.Now(), log: cfg.Log}
	if r.log == nil {
		r.log = io.Discard
	}
	r.res = &Result{Started: r.start, Config: cfg}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "wssoak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	r.dir = dir
	if err := r.setup(ctx); err != nil {
		r.teardown()
		return r.res, err
	}
	r.phases(ctx)
	r.teardown()
	r.res.Elapsed = time.Since(r.start)
	r.res.samples = r.smp.all()
	r.slopeChecks()
	return r.res, r.write()
}

// setup builds the binaries and starts NATS, the feed, the sampler and
// the subscribers.
func (r *runner) setup(ctx context.Context) error {
	r.logf("building wsloop and nats-server into %s", r.dir)
	bin, natsBin, err := buildBinaries(ctx, r.dir)
	if err != nil {
		return err
	}
	r.bin = bin
	if r.nats, err = newNATS(natsBin, r.dir); err != nil {
		return err
	}
	if err := r.nats.start(ctx); err != nil {
		return err
	}
	if r.feed, err = startFeed(ctx, bin, r.dir, &r.cfg, r.nats.url()); err != nil {
		return err
	}
	r.logf("nats %s, wsloop -procs %d on %s (admin %s…)", r.nats.url(), r.cfg.Procs, r.feed.addr, r.feed.adminOf(0))
	r.smp = &sampler{start: r.start, feed: r.feed, nats: r.nats, procs: r.cfg.Procs}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.smp.run(sctx, r.cfg.Sample); close(done) }()
	r.stopSampler = func() { cancel(); <-done }
	r.symbols = feed.Symbols(r.cfg.FeedSymbols)
	r.pool = startPool("main", poolOptions{url: r.url(), n: r.cfg.Subscribers, allEvery: r.cfg.AllEvery, symbols: r.symbols, heartbeat: r.cfg.Heartbeat})
	err = waitFor(ctx, 60*time.Second, "subscribers subscribed", func() bool { return r.pool.stats().Subscribed == r.cfg.Subscribers })
	r.logf("%d subscribers subscribed", r.pool.stats().Subscribed)
	return err
}

// phases runs the timeline: baseline, churn with the faults, steady
// churn, settling and the final checks.
func (r *runner) phases(ctx context.Context) {
	t := r.now()
	r.sleep(ctx, r.cfg.Baseline)
	r.window("baseline", t)
	r.takeBaseline(t, r.now())
	r.logf("baseline: workers %d fds, %.0f goroutines", r.res.Baseline.WorkerFDs, r.res.Baseline.WorkerGoroutines)

	churnFrom := r.now()
	r.churn = startChurn(r.feed.addr, r.cfg.ChurnRate, r.cfg.Churners, r.cfg.SubscribeEvery)
	r.smp.churn.Store(r.churn)
	r.logf("churn started: target %.0f/s over %d goroutines", r.cfg.ChurnRate, r.cfg.Churners)
	begin := r.pool.stats()
	for _, f := range []struct {
		name string
		run  func(context.Context)
	}{{PhaseKill, r.faultKill}, {PhaseNATS, r.faultNATS}, {PhaseSlow, r.faultSlow}} {
		if !r.cfg.has(f.name) {
			r.res.Skipped = append(r.res.Skipped, f.name+": not selected")
			continue
		}
		r.sleep(ctx, r.cfg.FaultGap)
		if ctx.Err() != nil {
			break
		}
		f.run(ctx)
	}
	r.linkPhases(ctx)
	r.sleep(ctx, r.cfg.FaultGap)
	steadyFrom := r.now()
	r.logf("steady churn for %v", r.cfg.Steady)
	r.sleep(ctx, r.cfg.Steady)
	r.churn.stop()
	r.window("steady", steadyFrom)
	r.window("churn", churnFrom)
	r.res.steady = [2]float64{steadyFrom, r.now()}
	r.churnChecks()
	r.settle(ctx)
	if d, err := catchUp(ctx, r.pool, r.url(), r.cfg.Settle); err != nil {
		r.res.check("final", "subscribers caught up", false, err.Error(), "every subscriber reaches each topic's last position")
		if files := r.dumpWorkers(ctx); len(files) > 0 {
			r.res.Notes = append(r.res.Notes, "The final probe failed: the workers' goroutine stacks at that moment are in "+strings.Join(files, ", ")+" next to the samples.")
		}
	} else {
		r.res.check("final", "subscribers caught up", true, fmt.Sprintf("all %d within %s", r.cfg.Subscribers, secs(d)), fmt.Sprintf("within %v", r.cfg.Settle))
	}
	r.res.Subs = r.pool.stats()
	r.res.streamChecks("final", begin, r.res.Subs)
	r.res.check("final", "first answers", r.res.Subs.Subscribed == r.cfg.Subscribers, fmt.Sprintf("%d of %d", r.res.Subs.Subscribed, r.cfg.Subscribers), "all")
}

// sleep waits d or until ctx ends.
func (r *runner) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// churnChecks reports the churn's figures.
func (r *runner) churnChecks() {
	st := r.churn.stats()
	r.res.Churn = st
	r.res.info("churn", "rate reached", fmt.Sprintf("%.0f connections/s over %.0f s (target %.0f/s); %d connects, %d subscribed and read a publication, %d clean closes, %d resets",
		st.Rate, st.Seconds, r.cfg.ChurnRate, st.OK, st.ReadMsg, st.Clean, st.Abrupt))
	ratio := 0.0
	if st.Attempts > 0 {
		ratio = float64(st.Failed) / float64(st.Attempts)
	}
	v := fmt.Sprintf("%d of %d (%.3f%%)", st.Failed, st.Attempts, 100*ratio)
	if st.LastErr != "" {
		v += "; last: " + st.LastErr
	}
	r.res.check("churn", "failed connections", st.OK > 0 && ratio <= 0.01, v, "≤ 1% (faults included)")
}

// teardown stops everything that runs, in order.
func (r *runner) teardown() {
	if r.churn != nil && r.churn.stopAt.IsZero() {
		r.churn.stop()
	}
	if r.pool != nil {
		r.pool.close()
	}
	if r.stopSampler != nil {
		r.stopSampler()
	}
	r.feed.stop()
	if r.nats != nil {
		r.nats.stop()
	}
}
