package hostile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// Baseline is a server's resting state: what must come back after every
// case.
type Baseline struct {
	RSS int64
	FDs int
	// wsloop's gauges (references have no /metrics).
	Open, TCP, Goroutines float64
}

func (b Baseline) String() string {
	s := fmt.Sprintf("RSS %s, %d fds", mib(b.RSS), b.FDs)
	if b.Goroutines > 0 {
		s += fmt.Sprintf(", %v open, %v tcp, %v goroutines", b.Open, b.TCP, b.Goroutines)
	}
	return s
}

// Measure reads t's state now.
func Measure(t *Target) (Baseline, error) {
	var b Baseline
	var err error
	if b.RSS, err = procfs.RSS(t.PID()); err != nil {
		return b, err
	}
	if t.Admin != "" {
		m, err := scrape.Get(context.Background(), t.Admin)
		if err != nil {
			return b, err
		}
		b.Open, b.TCP, b.Goroutines = m[gaugeOpen], m[gaugeTCP], m[gaugeGoroutines]
	}
	// After the scrape: its connection is closed by then (no keep-alive)
	// or about to be, which the polls that compare absorb.
	b.FDs, err = procfs.FDs(t.PID())
	return b, err
}

// differs lists how now is not back at b: no more fds, connections (the
// gauges) or goroutines than at the baseline. (The first baseline is a
// server at rest, so this means equal; a baseline moved after a failing
// case may have caught connections still closing.)
func (b Baseline) differs(now Baseline) []string {
	var out []string
	if now.FDs > b.FDs {
		out = append(out, fmt.Sprintf("fds %d (baseline %d)", now.FDs, b.FDs))
	}
	if b.Goroutines > 0 {
		if now.Open > b.Open {
			out = append(out, fmt.Sprintf("%s %v (baseline %v)", gaugeOpen, now.Open, b.Open))
		}
		if now.TCP > b.TCP {
			out = append(out, fmt.Sprintf("%s %v (baseline %v)", gaugeTCP, now.TCP, b.TCP))
		}
		if now.Goroutines > b.Goroutines {
			out = append(out, fmt.Sprintf("%s %v (baseline %v)", gaugeGoroutines, now.Goroutines, b.Goroutines))
		}
	}
	return out
}

// connsDiffer is differs restricted to connections (fds and the
// connection gauges).
func (b Baseline) connsDiffer(now Baseline) []string {
	now.Goroutines = 0
	return b.differs(now)
}

// WaitBack polls t every 50 ms until it is back at b (all of it, or only
// its connections), for at most d. It returns how long that took, or an
// error naming what did not come back.
func WaitBack(t *Target, b Baseline, d time.Duration, connsOnly bool) (time.Duration, error) {
	start := time.Now()
	var last []string
	for {
		now, err := Measure(t)
		switch {
		case err != nil:
			last = []string{fmt.Sprintf("measuring %s: %v", t.Name, err)}
		case connsOnly:
			last = b.connsDiffer(now)
		default:
			last = b.differs(now)
		}
		if len(last) == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			return d, fmt.Errorf("not back within %v: %s", d, strings.Join(last, ", "))
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a bounded wait
	}
}
