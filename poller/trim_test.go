package poller

import (
	"runtime/debug"
	"testing"
)

// TestTrimmerStormGCTarget: the GC target drops to stormGOGC once stormStep
// connections have arrived since the count last settled, stays there while
// they keep coming, and is restored when the count has held still for
// trimSettle ticks.
func TestTrimmerStormGCTarget(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	gcPercent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}

	var tr trimmer
	now := uint32(1000)
	tr.tick(0, now) // settled at zero connections
	for n := int64(1); n < stormStep; n++ {
		tr.opened(n)
	}
	if p := gcPercent(); p != 100 {
		t.Fatalf("GC target %d after %d connections, want 100 (no storm yet)", p, stormStep-1)
	}
	for n := int64(stormStep); n <= 3*stormStep; n++ {
		tr.opened(n)
	}
	if p := gcPercent(); p != stormGOGC {
		t.Fatalf("GC target %d during a storm, want %d", p, stormGOGC)
	}
	tr.tick(3*stormStep, now+1) // still moving: stays low
	if p := gcPercent(); p != stormGOGC {
		t.Fatalf("GC target %d right after the storm, want %d", p, stormGOGC)
	}
	tr.tick(3*stormStep, now+1+trimSettle)
	if p := gcPercent(); p != 100 {
		t.Fatalf("GC target %d once settled, want 100 restored", p)
	}
	// A target already below stormGOGC (or GC off) is left alone.
	debug.SetGCPercent(5)
	for n := int64(3*stormStep + 1); n <= 5*stormStep; n++ {
		tr.opened(n)
	}
	tr.tick(5*stormStep, now+2+2*trimSettle)
	if p := gcPercent(); p != 5 {
		t.Fatalf("GC target %d, want the operator's 5 kept", p)
	}
}
