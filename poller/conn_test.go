package poller

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestConnSize guards the per-connection budget: a million idle
// connections pay for every byte of Conn (see the doc comment on Conn).
func TestConnSize(t *testing.T) {
	if got := unsafe.Sizeof(Conn{}); got > 64 {
		t.Fatalf("Conn is %d bytes; idle connections are budgeted 64", got)
	}
}

// TestBits checks that the loop's state and flags and the workers' pause
// and closing bits share one word without clobbering each other.
func TestBits(t *testing.T) {
	var c Conn
	c.setState(stateOpen)
	c.set(flagOpened | pauseMailbox)
	if !c.startClosing() || c.startClosing() {
		t.Fatal("startClosing must succeed exactly once")
	}
	c.setState(stateLinger)
	if c.state() != stateLinger || !c.has(flagOpened) || !c.closing() || !c.paused() {
		t.Fatalf("bits = %#x", c.bits.Load())
	}
	if !c.unpause(pauseMailbox) || c.paused() {
		t.Fatal("unpause of the only reason must report the connection free")
	}
	c.set(pauseMailbox | pauseQueue)
	if c.unpause(pauseMailbox) {
		t.Fatal("still paused by the queue bound")
	}
}

// TestTrimmer checks when the heap is trimmed: only after the connection
// count moved by 10% (at least 1000) and then held still.
func TestTrimmer(t *testing.T) {
	var tr trimmer
	var now uint32
	step := func(conns int64, ticks int) {
		for range ticks {
			now++
			tr.tick(conns, now)
			for tr.running.Load() {
				runtime.Gosched()
			}
		}
	}
	step(500, 2*trimSettle) // too small a change
	if tr.base != 0 {
		t.Fatalf("trimmed after a change of 500: base %d", tr.base)
	}
	step(20000, trimSettle-1) // not settled yet
	if tr.base != 0 {
		t.Fatal("trimmed before the count settled")
	}
	step(20000, 2)
	if tr.base != 20000 {
		t.Fatalf("no trim once settled: base %d", tr.base)
	}
	step(20500, 2*trimSettle) // under 10% of 20000
	if tr.base != 20000 {
		t.Fatalf("trimmed again after a small change: base %d", tr.base)
	}
	step(0, 2*trimSettle) // everyone left
	if tr.base != 0 {
		t.Fatalf("no trim after a disconnect storm: base %d", tr.base)
	}
}
