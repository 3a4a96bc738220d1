package hostile

import (
	"syscall"
	"testing"
	"time"
)

// stallDrain is the -drain-timeout of the stall test's server, and
// stallExitSlack what the process may take past it to exit: after the
// drain deadline wsloop stops gnet, whose engine stop polls every 500 ms
// (a healthy wsloop with a peer that ignores the 1001 exits 3.50 s after
// SIGTERM with -drain-timeout 3s), then the process exits. A stalled loop
// holds the exit for many seconds more.
const (
	stallDrain     = 3 * time.Second
	stallExitSlack = time.Second
)

// TestStall is the regression test of issue class 1: wsloop with one event
// loop (so every connection shares it), otherwise its defaults. A client
// that never reads sends two bursts of 2 MiB of 1-byte masked text
// messages; meanwhile a probe on the same server sends a small message
// every 20 ms and must get each echo within 100 ms. Then the flooder
// resets its connection and the server's CPU must be idle within 1 s;
// then, with a client that never reads still connected, SIGTERM must end
// the process within -drain-timeout.
func TestStall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv, err := StartWsloop(wsloopBin(t), "-loops", "1", "-drain-timeout", stallDrain.String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(time.Second)

	rep := RunStall(srv, 1)
	t.Logf("stall: %v", rep)
	if rep.WriteErr != nil {
		t.Errorf("flooder: %v", rep.WriteErr)
	}
	if rep.ProbeErr != nil {
		t.Errorf("probe on the same loop failed: %v (worst echo before that %.0f ms)", rep.ProbeErr, ms(rep.Worst))
	}
	if rep.Late > 0 {
		t.Errorf("%d of %d probe echoes took over %v; the worst %.0f ms", rep.Late, rep.Probes, StallProbeMax, ms(rep.Worst))
	}
	if rep.Probes == 0 && rep.ProbeErr == nil {
		t.Errorf("no probe echo during the flood")
	}
	if !rep.Idle {
		t.Errorf("the server's CPU was not idle within %v of the flooder's RST: CPU used per %v window from the RST on: %v",
			StallIdleWithin, stallIdleWindow, rep.CPUWindows)
	}

	// Shutdown with a peer that ignores the 1001.
	idle, _, err := Upgrade(srv.Addr)
	if err != nil {
		t.Errorf("a client after the flood: %v", err)
	} else {
		defer idle.Close()
	}
	start := time.Now()
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	limit := stallDrain + stallExitSlack
	select {
	case <-srv.Exited():
		took := time.Since(start)
		t.Logf("SIGTERM: exited after %.2f s (-drain-timeout %v)", took.Seconds(), stallDrain)
		if took > limit {
			t.Errorf("SIGTERM: exited only after %.2f s, over -drain-timeout %v + %v", took.Seconds(), stallDrain, stallExitSlack)
		}
	case <-time.After(4 * limit):
		t.Errorf("SIGTERM: still running %v later (-drain-timeout %v)", 4*limit, stallDrain)
	}
}
