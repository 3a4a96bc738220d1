package poller

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestStartAdvancesClock guards against a stale shared clock: a server
// started long after the last one stopped must not see its first
// connections as opened in the past (the first sweep would then take a
// fresh handshake for a timed-out one).
func TestStartAdvancesClock(t *testing.T) {
	clk.ticks.Store(0) // as if no engine had ticked for the process's life
	if time.Since(clk.start) < 2*clockTick {
		clk.start = clk.start.Add(-2 * clockTick) // the process has lived two ticks
	}
	e := New(nil, Config{EventLoops: 1, Workers: 1, InlineHandlers: true})
	defer e.pool.Close()
	e.boot()
	if got := clk.now(); got == 0 {
		t.Fatalf("clock still at %d after Start", got)
	}
}

// TestTimerNeverEarly checks timerTicks against a model of the clock: a
// timer started at real time s reads the clock, which may lag the truth by
// up to lag ticks' worth and is rounded down to a tick; the sweep at real
// time r reads at most floor(r/tick). Whenever the sweep's condition
// holds, at least d has really passed.
func TestTimerNeverEarly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []time.Duration{50 * time.Millisecond, time.Second, 10 * time.Second, 30 * time.Second} {
		for _, lag := range []uint32{0, 1, 10} {
			need := timerTicks(d, lag)
			for range 100000 {
				s := time.Duration(rng.Int64N(int64(time.Hour)))
				seen := s - time.Duration(rng.Int64N(int64(lag)*int64(clockTick)+1))
				start := uint32(max(seen, 0) / clockTick)
				r := s + time.Duration(rng.Int64N(int64(d)+int64(need)*int64(clockTick)))
				now := uint32(r / clockTick)
				if now-start >= need && r-s < d {
					t.Fatalf("d=%v lag=%d: fired after %v", d, lag, r-s)
				}
			}
		}
	}
}

// TestClockMonotonic: advance never moves a clock back, whatever the
// order in which concurrent advances store.
func TestClockMonotonic(t *testing.T) {
	c := clock{start: time.Now()}
	c.ticks.Store(50) // another advance got 5 s further
	if got := c.advance(); got != 50 || c.now() != 50 {
		t.Fatalf("advance moved the clock back from 50 to %d (now %d)", got, c.now())
	}
	c.start = c.start.Add(-time.Minute)
	if got := c.advance(); got < 600 {
		t.Fatalf("advance after a minute: %d", got)
	}
}
