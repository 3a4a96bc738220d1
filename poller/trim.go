package poller

import (
	"runtime/debug"
	"sync/atomic"
)

// trimmer returns the heap's free pages to the operating system after the
// connection count has moved a lot and then settled. A storm of upgrades
// leaves garbage (request heads, handshake buffers) that the Go runtime
// keeps resident up to its next heap goal, about as much again as the live
// state of the connections; holding a million idle connections is exactly
// when that matters. The trim runs on its own goroutine, at most one at a
// time, and never on an event loop.
type trimmer struct {
	base    int64  // connection count at the last trim
	last    int64  // count at the previous tick
	since   uint32 // clock ticks: when the count last moved by more than 1%
	running atomic.Bool
}

// trimSettle is how long, in clock ticks, the count must stay put before a
// trim.
const trimSettle = 20

// tick runs on the ticker goroutine with the connection count and the clock.
func (t *trimmer) tick(conns int64, now uint32) {
	if d := conns - t.last; d > conns/100+10 || -d > conns/100+10 {
		t.since = now
	}
	t.last = conns
	moved := conns - t.base
	if moved < 0 {
		moved = -moved
	}
	if now-t.since < trimSettle || moved < max(1000, t.base/10) {
		return
	}
	if !t.running.CompareAndSwap(false, true) {
		return
	}
	t.base = conns
	go func() {
		defer t.running.Store(false)
		debug.FreeOSMemory()
	}()
}
