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
// advanced by every engine's ticker, so reading it costs one atomic load.
type clock struct {
	start time.Time
	ticks atomic.Uint32
}

// clk is the process's clock: ticks since the package was loaded.
var clk = clock{start: time.Now()}

// now returns the current tick count. Safe from any goroutine.
func (c *clock) now() uint32 { return c.ticks.Load() }

// advance sets the tick count from the wall clock.
func (c *clock) advance() {
	c.ticks.Store(uint32(time.Since(c.start) / clockTick))
}

// ticksOf converts a duration to ticks, rounding up, at least 1.
func ticksOf(d time.Duration) uint32 {
	return uint32(max((d+clockTick-1)/clockTick, 1))
}
