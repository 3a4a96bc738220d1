package poller

import (
	"testing"
	"time"
)

// TestStartAdvancesClock guards against a stale shared clock: a server
// started long after the last one stopped must not see its first
// connections as opened in the past (the first sweep would then take a
// fresh handshake for a timed-out one).
func TestStartAdvancesClock(t *testing.T) {
	clk.ticks.Store(0) // as if no engine had ticked for the process's life
	time.Sleep(2 * clockTick)
	e := New(nil, Config{EventLoops: 1, Workers: 1})
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Shutdown(t.Context()) }()
	if got := clk.now(); got == 0 {
		t.Fatalf("clock still at %d after Start", got)
	}
}
