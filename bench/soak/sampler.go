package soak

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// sample is one process's figures at one sampling tick. Goroutines and
// Conns are -1 where the process has no metrics endpoint.
type sample struct {
	Tick       int     `json:"tick"`
	T          float64 `json:"t"` // seconds since the run started
	Proc       string  `json:"proc"`
	PID        int     `json:"pid"`
	FDs        int64   `json:"fds"`
	RSS        int64   `json:"rss"`
	Goroutines float64 `json:"goroutines"`
	Conns      float64 `json:"conns"`
	Heap       int64   `json:"heap,omitempty"` // Go heap in use (workers, edge, harness)
	// Proc "churn": the churn's counters so far.
	ChurnOK     uint64 `json:"churn_ok,omitempty"`
	ChurnFailed uint64 `json:"churn_failed,omitempty"`
}

// sampler samples the suite's processes every interval on its own
// goroutine; samples and its setters are safe from any goroutine.
type sampler struct {
	start time.Time
	feed  *server
	nats  *natsServer
	edge  atomic.Pointer[server]
	churn atomic.Pointer[churn]
	procs int

	mu      sync.Mutex
	samples []sample
	tick    int
}

func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// once takes one sample of every process.
func (s *sampler) once(ctx context.Context) {
	now := time.Since(s.start).Seconds()
	var out []sample
	add := func(name string, pid int, admin string) {
		if pid <= 0 {
			return
		}
		fds, err1 := procfs.FDs(pid)
		rss, err2 := procfs.RSS(pid)
		if err1 != nil || err2 != nil {
			return
		}
		sm := sample{T: now, Proc: name, PID: pid, FDs: int64(fds), RSS: rss, Goroutines: -1, Conns: -1}
		if admin != "" {
			if m, err := scrape.Get(ctx, admin); err == nil {
				sm.Goroutines, sm.Conns = m["wsloop_go_goroutines"], m["wsloop_connections_open"]
				sm.Heap = int64(m["wsloop_go_memstats_heap_inuse_bytes"])
			} else {
				return // a worker not serving yet (or dying) is left out
			}
		}
		out = append(out, sm)
	}
	if s.feed.p.Running() {
		add("supervisor", s.feed.p.PID(), "")
	}
	for slot, pid := range s.feed.workers() {
		add(workerName(slot), pid, s.feed.adminOf(slot))
	}
	add("nats", s.nats.pid(), "")
	if e := s.edge.Load(); e != nil && e.p.Running() {
		add("edge", e.p.PID(), e.adminOf(0))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, _ := procfs.FDs(os.Getpid())
	rss, _ := procfs.RSS(os.Getpid())
	out = append(out, sample{T: now, Proc: "harness", PID: os.Getpid(), FDs: int64(fds), RSS: rss, Goroutines: float64(runtime.NumGoroutine()), Conns: -1, Heap: int64(ms.HeapInuse)})
	if c := s.churn.Load(); c != nil {
		out = append(out, sample{T: now, Proc: "churn", Goroutines: -1, Conns: -1, ChurnOK: c.ok.Load(), ChurnFailed: c.failed.Load()})
	}
	s.mu.Lock()
	for i := range out {
		out[i].Tick = s.tick
	}
	s.tick++
	s.samples = append(s.samples, out...)
	s.mu.Unlock()
}

func workerName(slot int) string { return fmt.Sprintf("worker%d", slot) }

func (s *sampler) all() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.samples...)
}

// metric selects a figure of a sample.
type metric struct {
	key, title, unit string
	scale            float64 // divide by
	get              func(sample) float64
}

var (
	metricFDs        = metric{"fds", "open file descriptors", "", 1, func(s sample) float64 { return float64(s.FDs) }}
	metricGoroutines = metric{"goroutines", "goroutines", "", 1, func(s sample) float64 { return s.Goroutines }}
	metricRSS        = metric{"rss", "RSS", "MiB", 1 << 20, func(s sample) float64 { return float64(s.RSS) }}
	metricConns      = metric{"conns", "WebSocket connections open", "", 1, func(s sample) float64 { return s.Conns }}
	metricHeap       = metric{"heap", "Go heap in use", "MiB", 1 << 20, func(s sample) float64 { return float64(s.Heap) }}
)

// series is one process's metric over time, or (proc "workers") the sum
// over the worker slots at the ticks where all procs slots were sampled.
func series(samples []sample, proc string, m metric, procs int) (ts, ys []float64) {
	if proc != "workers" {
		for _, s := range samples {
			if s.Proc == proc {
				ts, ys = append(ts, s.T), append(ys, m.get(s))
			}
		}
		return ts, ys
	}
	type acc struct {
		t   float64
		n   int
		sum float64
	}
	var order []int
	byTick := map[int]*acc{}
	for _, s := range samples {
		if len(s.Proc) < 6 || s.Proc[:6] != "worker" {
			continue
		}
		a, ok := byTick[s.Tick]
		if !ok {
			a = &acc{t: s.T}
			byTick[s.Tick] = a
			order = append(order, s.Tick)
		}
		a.n++
		a.sum += m.get(s)
	}
	for _, tk := range order {
		if a := byTick[tk]; a.n == procs {
			ts, ys = append(ts, a.t), append(ys, a.sum)
		}
	}
	return ts, ys
}

// within keeps the points with from <= t <= to.
func within(ts, ys []float64, from, to float64) (wt, wy []float64) {
	for i, t := range ts {
		if t >= from && t <= to {
			wt, wy = append(wt, t), append(wy, ys[i])
		}
	}
	return wt, wy
}
