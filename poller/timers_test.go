package poller

import (
	"testing"
	"time"
)

// TestWheelVisitsOnlyDue checks the timing wheel: connections read at the
// same moment are pinged exactly when their interval has passed, never
// earlier, and sweeps before that look at none of them (their slots are
// the only non-empty ones).
func TestWheelVisitsOnlyDue(t *testing.T) {
	const n = 1000
	e := New(&countHandler{}, Config{Workers: 1, PingInterval: 30 * time.Second})
	t.Cleanup(e.pool.Close)
	l := e.loopOf(nil)
	start := clk.advance()
	fakes := make([]*fakeConn, n)
	for i := range fakes {
		f := new(fakeConn)
		c := &Conn{gc: f, loop: l, lastRead: start}
		f.SetContext(c)
		c.setState(stateOpen)
		l.schedule(c)
		fakes[i] = f
	}
	occupied := func() (slots, conns int) {
		for i := range l.timers.slots {
			if k := len(l.timers.slots[i]); k > 0 {
				slots++
				conns += k
			}
		}
		return
	}
	if s, c := occupied(); s != 1 || c != n {
		t.Fatalf("after scheduling: %d connections in %d slots, want %d in 1", c, s, n)
	}
	due := start + e.pingTicks
	pinged := func() (k int) {
		for _, f := range fakes {
			if len(f.out) > 0 {
				k++
			}
		}
		return
	}
	for now := start + 1; now < due; now++ {
		clk.ticks.Store(now)
		l.sweep(e)
		if k := pinged(); k != 0 {
			t.Fatalf("tick %d (due %d): %d connections pinged early", now-start, due-start, k)
		}
	}
	clk.ticks.Store(due)
	l.sweep(e)
	if k := pinged(); k != n {
		t.Fatalf("at the deadline: %d of %d pinged", k, n)
	}
	// Now all wait for their pongs, in the pong deadline's slot.
	if s, c := occupied(); s != 1 || c != n {
		t.Fatalf("after the pings: %d connections in %d slots, want %d in 1", c, s, n)
	}
}

// TestWheelSoonList checks that a connection whose deadline an event
// brought forward (its close frame went out) is looked at by every sweep
// until its close deadline, although its wheel slot lies far ahead.
func TestWheelSoonList(t *testing.T) {
	e := New(&countHandler{}, Config{Workers: 1, PingInterval: -1, CloseTimeout: time.Second})
	t.Cleanup(e.pool.Close)
	l := e.loopOf(nil)
	now := clk.advance()
	f := new(fakeConn)
	c := &Conn{gc: f, loop: l, lastRead: now}
	f.SetContext(c)
	c.setState(stateOpen)
	l.schedule(c) // no timers: parked at the end of the span
	c.set(flagCloseSent)
	c.timer = now
	l.soon(c)
	for i := uint32(1); i < e.closeTicks; i++ {
		clk.ticks.Store(now + i)
		l.sweep(e)
		if len(l.timers.soon) != 1 {
			t.Fatalf("tick %d: soon list has %d, want 1", i, len(l.timers.soon))
		}
	}
}
