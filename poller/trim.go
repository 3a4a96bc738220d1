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
//
// While connections pour in, it also lowers the GC target to stormGOGC (from
// the first stormStep new connections until the count settles): the
// handshakes' garbage (request heads, accept keys, socket addresses) is then
// collected every few hundred connections, and the next connections'
// long-lived state fills its holes instead of new spans. Left to the usual
// target, that garbage accumulates between collections and the
// connections' state ends up scattered over half-empty spans that no trim
// can return: measured with 18,000 idle connections, 20-40 B more RSS per
// connection, more the bigger the binary's globals (they count toward the
// heap goal).
type trimmer struct {
	base    int64  // connection count at the last trim
	last    int64  // count at the previous tick
	since   uint32 // clock ticks: when the count last moved by more than 1%
	running atomic.Bool

	nextStorm atomic.Int64 // connection count that means a storm
	lowered   atomic.Bool  // the GC target is at stormGOGC
	saved     atomic.Int64 // the GC target to restore
}

// stormStep is how many new connections since the last settle make a storm.
const stormStep = 1024

// stormGOGC is the GC target percentage during a storm.
const stormGOGC = 10

// opened runs on an event loop for each new TCP connection, with the new
// count; past stormStep new connections it lowers the GC target.
func (t *trimmer) opened(conns int64) {
	next := t.nextStorm.Load()
	if next == 0 {
		t.nextStorm.CompareAndSwap(0, conns+stormStep)
		return
	}
	if conns < next || t.lowered.Load() || !t.lowered.CompareAndSwap(false, true) {
		return
	}
	old := debug.SetGCPercent(stormGOGC)
	if old >= 0 && old <= stormGOGC {
		debug.SetGCPercent(old) // already as low (or GC off): leave it
	}
	t.saved.Store(int64(old))
}

// settled restores the GC target after a storm; ticker goroutine.
func (t *trimmer) settled(conns int64) {
	t.nextStorm.Store(conns + stormStep)
	if t.lowered.Load() {
		if old := int(t.saved.Load()); old < 0 || old > stormGOGC {
			debug.SetGCPercent(old)
		}
		t.lowered.Store(false)
	}
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
	if now-t.since < trimSettle {
		return
	}
	if t.lowered.Load() || t.nextStorm.Load() != conns+stormStep {
		t.settled(conns)
	}
	moved := conns - t.base
	if moved < 0 {
		moved = -moved
	}
	if moved < max(1000, t.base/10) {
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
