package poller

import (
	"sync/atomic"
	"time"
)

// clockTick is the resolution of the coarse clock: connection timers are
// 32-bit counts of ticks since the engine started, which keeps them small
// and lasts for 13 years.
const clockTick = 100 * time.Millisecond

// clock is a coarse monotonic clock read by the loops on every event. It is
// advanced by every engine's ticker (once per sweep) and when a connection
// arrives, so reading it costs one atomic load, and a reading lags the
// truth by at most one sweep interval plus a tick.
type clock struct {
	start time.Time
	ticks atomic.Uint32
}

// clk is the process's clock: ticks since the package was loaded.
var clk = clock{start: time.Now()}

// now returns the current tick count. Safe from any goroutine.
func (c *clock) now() uint32 { return c.ticks.Load() }

// advance sets the tick count from the wall clock and returns it. It
// never moves the clock back: engines' tickers and the loops advance it
// concurrently, and a timer read as later than now would look expired.
// Safe from any goroutine.
func (c *clock) advance() uint32 {
	t := uint32(time.Since(c.start) / clockTick)
	for {
		old := c.ticks.Load()
		if t <= old {
			return old
		}
		if c.ticks.CompareAndSwap(old, t) {
			return t
		}
	}
}

// ticksOf converts a duration to ticks, rounding up, at least 1.
func ticksOf(d time.Duration) uint32 {
	return uint32(max((d+clockTick-1)/clockTick, 1))
}

// timerTicks is how many ticks must separate a timer's start, as read from
// the clock, and the sweep's now before a timeout of d has surely passed:
// d in ticks, plus one for the tick the start was rounded down in, plus
// lag, how many ticks the clock may have lagged the truth when the start
// was read (0 when it was advanced just before). So a timeout never fires
// early; it fires at most one sweep interval plus lag and two ticks late.
func timerTicks(d time.Duration, lag uint32) uint32 {
	return ticksOf(d) + 1 + lag
}
