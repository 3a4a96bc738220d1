package soak

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// baseline is the resources before churn (medians over the baseline).
type baseline struct {
	WorkerFDs        int64   `json:"worker_fds"`
	WorkerGoroutines float64 `json:"worker_goroutines"`
	WorkerRSS        int64   `json:"worker_rss"`
	HarnessGoroutine float64 `json:"harness_goroutines"`
	NATSConsumers    int     `json:"nats_consumers"` // -1: unknown
}

func (r *runner) takeBaseline(from, to float64) {
	s := r.smp.all()
	med := func(proc string, m metric) float64 {
		ts, ys := series(s, proc, m, r.cfg.Procs)
		_, ys = within(ts, ys, from, to)
		if len(ys) == 0 {
			return 0
		}
		return median(ys)
	}
	r.res.Baseline = baseline{
		WorkerFDs:        int64(med("workers", metricFDs)),
		WorkerGoroutines: med("workers", metricGoroutines),
		WorkerRSS:        int64(med("workers", metricRSS)),
		HarnessGoroutine: med("harness", metricGoroutines),
	}
	r.res.Baseline.NATSConsumers = -1
	if n, err := r.nats.consumers(context.Background()); err == nil {
		r.res.Baseline.NATSConsumers = n
	}
	if r.res.Baseline.WorkerFDs == 0 {
		r.res.check("baseline", "workers sampled", false, "no sample of every worker in the baseline", "")
	}
}

// settleMargin is how far above its baseline a count may stay once churn
// stopped: 2% of it, at least 8 (a few descriptors and goroutines come and
// go with NATS and timers).
func settleMargin(base float64) float64 { return math.Max(8, math.Ceil(0.02*base)) }

// workerTotals reads the workers' descriptors and goroutines now.
func (r *runner) workerTotals(ctx context.Context) (fds int64, gor float64, ok bool) {
	w := r.feed.workers()
	if len(w) != r.cfg.Procs {
		return 0, 0, false
	}
	for slot, pid := range w {
		n, err := procfs.FDs(pid)
		if err != nil {
			return 0, 0, false
		}
		m, err := scrape.Get(ctx, r.feed.adminOf(slot))
		if err != nil {
			return 0, 0, false
		}
		fds += int64(n)
		gor += m["wsloop_go_goroutines"]
	}
	return fds, gor, true
}

// settle waits, after churn, for the workers' descriptors and goroutines
// to return to within settleMargin of the baseline.
func (r *runner) settle(ctx context.Context) {
	b := r.res.Baseline
	fdMax := float64(b.WorkerFDs) + settleMargin(float64(b.WorkerFDs))
	gMax := b.WorkerGoroutines + settleMargin(b.WorkerGoroutines)
	from := r.now()
	var fds int64
	var gor float64
	err := waitFor(ctx, r.cfg.Settle, "back to baseline", func() bool {
		var ok bool
		fds, gor, ok = r.workerTotals(ctx)
		return ok && float64(fds) <= fdMax && gor <= gMax
	})
	r.window("settle", from)
	took := fmt.Sprintf(" after %s", secs(time.Duration((r.now()-from)*float64(time.Second))))
	r.res.check("settle", "worker descriptors back to baseline", err == nil && float64(fds) <= fdMax,
		fmt.Sprintf("%d (baseline %d)%s", fds, b.WorkerFDs, took), fmt.Sprintf("≤ %.0f (baseline + max(8, 2%%)) within %v", fdMax, r.cfg.Settle))
	r.res.check("settle", "worker goroutines back to baseline", err == nil && gor <= gMax,
		fmt.Sprintf("%.0f (baseline %.0f)%s", gor, b.WorkerGoroutines, took), fmt.Sprintf("≤ %.0f (baseline + max(8, 2%%)) within %v", gMax, r.cfg.Settle))
	r.logf("settled: workers %d fds, %.0f goroutines (%v)", fds, gor, err)
	r.consumersCheck(ctx)
}

// consumersCheck compares NATS's consumers after churn with the
// baseline's: wsloop opens one per topic per process and must delete the
// ones of topics its clients left (a killed worker's expire after
// natsbroker's one-minute inactivity threshold, so the wait is bounded by
// Settle plus that).
func (r *runner) consumersCheck(ctx context.Context) {
	base := r.res.Baseline.NATSConsumers
	if base < 0 {
		return
	}
	var n int
	err := waitFor(ctx, r.cfg.Settle+time.Minute, "NATS consumers back to baseline", func() bool {
		var err error
		n, err = r.nats.consumers(ctx)
		return err == nil && n <= base
	})
	r.res.check("settle", "NATS consumers back to baseline", err == nil, fmt.Sprintf("%d (baseline %d)", n, base), "≤ baseline (one per topic per process)")
}

// slopeRow is one series' least-squares slope over the steady churn.
type slopeRow struct {
	Proc      string  `json:"proc"`
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	PerMin    float64 `json:"per_min"`
	Mean      float64 `json:"mean"`
	Tolerance float64 `json:"tolerance_per_min"`
	Points    int     `json:"points"`
	Pass      bool    `json:"pass"`
	Info      bool    `json:"info,omitempty"` // reported, never fails the run
}

// slopeTolerance is the largest growth per minute accepted for a series
// of mean mean: memory 1 MiB/min or 1%/min of its mean, whichever is
// larger; counts (descriptors, goroutines) 2/min or 0.5%/min.
func slopeTolerance(m metric, mean float64) float64 {
	if m.unit == "MiB" {
		return math.Max(1<<20, 0.01*mean)
	}
	return math.Max(2, 0.005*mean)
}

// slopeChecks measures the slopes over the second half of the steady
// churn: the first half lets the faults' after-effects pass and the
// processes' memory reach its working size (Go's heap grows to its GC
// goal under the churn's allocation rate, NATS's stream caches fill up to
// the streams' limits).
func (r *runner) slopeChecks() {
	from, to := r.res.steady[0], r.res.steady[1]
	if to <= from {
		return
	}
	from += (to - from) / 2
	for _, s := range []struct {
		proc string
		ms   []metric
		info bool
	}{
		{"workers", []metric{metricFDs, metricGoroutines, metricRSS, metricHeap}, false},
		{"supervisor", []metric{metricFDs, metricRSS}, false},
		// NATS is the broker wsloop uses, not the system under test: its
		// memory follows JetStream's stream caches; what wsloop could leak
		// there (consumers) is counted by consumersCheck.
		{"nats", []metric{metricFDs, metricRSS}, true},
		{"harness", []metric{metricFDs, metricGoroutines, metricHeap}, false},
	} {
		for _, m := range s.ms {
			ts, ys := series(r.res.samples, s.proc, m, r.cfg.Procs)
			ts, ys = within(ts, ys, from, to)
			if len(ts) < 3 {
				continue
			}
			mu := mean(ys)
			row := slopeRow{Proc: s.proc, Metric: m.key, Unit: m.unit, PerMin: 60 * slope(ts, ys), Mean: mu, Tolerance: slopeTolerance(m, mu), Points: len(ts), Info: r.cfg.Short || s.info}
			row.Pass = row.PerMin <= row.Tolerance
			r.res.Slopes = append(r.res.Slopes, row)
			c := Check{Phase: "slopes", Name: s.proc + " " + m.title, Pass: row.Pass, Info: r.cfg.Short || s.info,
				Value: fmtSlope(row, m), Tolerance: "≤ " + fmtAmount(row.Tolerance, m) + "/min"}
			r.res.Checks = append(r.res.Checks, c)
		}
	}
}

func fmtAmount(v float64, m metric) string {
	if m.unit == "MiB" {
		return fmt.Sprintf("%.2f MiB", v/m.scale)
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtSlope(row slopeRow, m metric) string {
	sign := "+"
	if row.PerMin < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%s/min (mean %s, %d samples)", sign, fmtAmount(math.Abs(row.PerMin), m), fmtAmount(row.Mean, m), row.Points)
}
