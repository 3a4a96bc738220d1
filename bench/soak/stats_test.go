package soak

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestSlope(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4}
	if s := slope(xs, []float64{1, 3, 5, 7, 9}); s != 2 {
		t.Errorf("slope of 2x+1: %v", s)
	}
	if s := slope(xs, []float64{5, 5, 5, 5, 5}); s != 0 {
		t.Errorf("flat: %v", s)
	}
	if s := slope([]float64{1}, []float64{1}); s != 0 {
		t.Errorf("one point: %v", s)
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median: %v", m)
	}
	if q := quantile([]float64{1, 2, 3, 4}, 0.5); q != 2 {
		t.Errorf("p50: %v", q)
	}
	if !math.IsNaN(quantile(nil, 0.5)) {
		t.Error("quantile of nothing is not NaN")
	}
}

func TestSlopeTolerance(t *testing.T) {
	if tol := slopeTolerance(metricRSS, 50<<20); tol != 1<<20 {
		t.Errorf("RSS of 50 MiB: %v", tol)
	}
	if tol := slopeTolerance(metricRSS, 500<<20); tol != 5<<20 {
		t.Errorf("RSS of 500 MiB: %v", tol)
	}
	if tol := slopeTolerance(metricFDs, 100); tol != 2 {
		t.Errorf("100 fds: %v", tol)
	}
}

func TestWorkersSeries(t *testing.T) {
	s := []sample{
		{Tick: 0, T: 0, Proc: "worker0", FDs: 10}, {Tick: 0, T: 0, Proc: "worker1", FDs: 20}, {Tick: 0, T: 0, Proc: "nats", FDs: 5},
		{Tick: 1, T: 2, Proc: "worker0", FDs: 11}, // worker1 restarting: tick left out
		{Tick: 2, T: 4, Proc: "worker0", FDs: 12}, {Tick: 2, T: 4, Proc: "worker1", FDs: 21},
	}
	ts, ys := series(s, "workers", metricFDs, 2)
	if len(ts) != 2 || ys[0] != 30 || ys[1] != 33 || ts[1] != 4 {
		t.Errorf("workers: %v %v", ts, ys)
	}
	ts, ys = series(s, "nats", metricFDs, 2)
	if len(ts) != 1 || ys[0] != 5 {
		t.Errorf("nats: %v %v", ts, ys)
	}
}

func TestFeedFailures(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	head := "level=WARN msg=\"feed: publish failed\" topic=md.all failures=3\n"
	tail := "level=WARN msg=\"feed: publish failed\" topic=md.all failures=5\nlevel=WARN msg=\"feed: publish failed\" topic=md.x failures=9\n"
	if err := os.WriteFile(p, []byte(head+tail), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := feedFailures(p, int64(len(head))); n != 6 {
		t.Errorf("failures after the offset: %d, want 6", n)
	}
}

func TestProcArgLast(t *testing.T) {
	v, ok := procArg(os.Getpid(), "-test.nonexistent-flag")
	if ok || v != "" {
		t.Errorf("absent flag: %q %v", v, ok)
	}
}
