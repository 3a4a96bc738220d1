package hostile

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// The stall (issue class 1): a client that never reads sends bursts of
// 1-byte masked text messages while probes on the same server (one on
// the flooder's event loop) measure their echo latency; then the flooder resets the connection and the
// server's CPU must fall to idle.
const (
	stallBurst      = 2 << 20 // bytes of frames per burst
	stallBursts     = 2
	stallProbeEvery = 20 * time.Millisecond
	// StallProbeMax is the slowest echo the probe accepts.
	StallProbeMax = 100 * time.Millisecond
	// StallIdleWithin is how soon after the flooder's RST the server's CPU
	// must be idle.
	StallIdleWithin = time.Second
	// stallIdleWindow and stallIdleCPU define idle: at most 10% of one
	// core over the window (CPU time has a 10 ms resolution).
	stallIdleWindow = 500 * time.Millisecond
	stallIdleCPU    = 50 * time.Millisecond
	// stallWriteBudget bounds the flooder's bursts and the server's
	// reading of them.
	stallWriteBudget = 20 * time.Second
	// stallTail is how long the probe goes on after the server has read
	// the last burst from its socket.
	stallTail = 500 * time.Millisecond
)

// StallReport is what RunStall measured.
type StallReport struct {
	Frames     int           // 1-byte messages sent
	Wrote      time.Duration // how long until the server had read the bursts
	WriteErr   error         // the bursts did not all go out
	Probes     int           // probe echoes received (all probes)
	Late       int           // probe echoes slower than StallProbeMax
	Worst      time.Duration // the slowest probe echo
	ProbeErr   error         // a probe failed (an echo did not come)
	IdleAfter  time.Duration // RST to the start of the first idle window
	Idle       bool          // an idle window started within StallIdleWithin
	CPUWindows []time.Duration
}

func (r StallReport) String() string {
	s := fmt.Sprintf("%d 1-byte messages read by the server in %.2f s; probe: %d echoes, worst %.0f ms, %d over %v",
		r.Frames, r.Wrote.Seconds(), r.Probes, ms(r.Worst), r.Late, StallProbeMax)
	if r.WriteErr != nil {
		s += fmt.Sprintf("; bursts: %v", r.WriteErr)
	}
	if r.ProbeErr != nil {
		s += fmt.Sprintf("; probe: %v", r.ProbeErr)
	}
	if r.Idle {
		s += fmt.Sprintf("; CPU idle %.2f s after the RST", r.IdleAfter.Seconds())
	} else {
		s += fmt.Sprintf("; CPU not idle within %v of the RST (CPU per %v window: %v)", StallIdleWithin, stallIdleWindow, r.CPUWindows)
	}
	return s
}

// OK reports whether the server met every bound.
func (r StallReport) OK() bool {
	return r.WriteErr == nil && r.ProbeErr == nil && r.Late == 0 && r.Probes > 0 && r.Idle
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// RunStall floods t from a non-reading client and measures probes and
// the CPU after the flooder's RST. probes clients are connected first
// (one per event loop of the server: connections are spread over the
// loops, so one of them shares the flooder's loop); each sends a message
// every stallProbeEvery and times its echo.
func RunStall(t *Target, probes int) StallReport {
	var rep StallReport
	// Collect the suite's own garbage first (earlier cases allocate tens
	// of MiB): a collection of this process during the flood would delay
	// the probes, and be blamed on the server.
	runtime.GC()
	clients := make([]*Client, 0, probes)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range probes {
		c, _, err := Upgrade(t.Addr)
		if err != nil {
			rep.ProbeErr = fmt.Errorf("probe %d handshake: %w", i, err)
			return rep
		}
		clients = append(clients, c)
		// Make sure the probe works before the flood.
		if err := c.Echo(OpText, []byte("before")); err != nil {
			rep.ProbeErr = fmt.Errorf("probe %d before the flood: %w", i, err)
			return rep
		}
	}
	flooder, _, err := Upgrade(t.Addr)
	if err != nil {
		rep.WriteErr = fmt.Errorf("flooder handshake: %w", err)
		return rep
	}
	defer flooder.Close()

	frame := Text("x")
	burst := Repeat(frame, stallBurst/len(frame))
	stop := make(chan struct{})
	probed := make(chan struct{}) // closed when a probe fails or all stopped
	results := make(chan probeResult, len(clients))
	var failOnce sync.Once
	for _, c := range clients {
		go func() {
			r := probeLoop(c, stop)
			if r.err != nil {
				failOnce.Do(func() { close(probed) })
			}
			results <- r
		}()
	}

	// Each burst, then until the server has read it from the socket (or
	// the probe failed, or the budget is spent).
	start := time.Now()
	deadline := start.Add(stallWriteBudget)
	_ = flooder.SetWriteDeadline(deadline)
bursts:
	for range stallBursts {
		n, err := flooder.Write(burst)
		rep.Frames += n / len(frame)
		if err != nil {
			rep.WriteErr = fmt.Errorf("after %d of %d messages: %s", rep.Frames, stallBursts*len(burst)/len(frame), endOf(err, stallWriteBudget))
			break
		}
		for {
			unread, err := RecvQueue(flooder)
			if err != nil {
				rep.WriteErr = err
				break bursts
			}
			if unread == 0 {
				break
			}
			if time.Now().After(deadline) {
				rep.WriteErr = fmt.Errorf("the server left %d bytes unread %v after the burst", unread, stallWriteBudget)
				break bursts
			}
			select {
			case <-probed:
				break bursts
			case <-time.After(20 * time.Millisecond): // poll interval of a bounded wait
			}
		}
	}
	rep.Wrote = time.Since(start)
	// The server has read the bursts; the probe goes on a little while
	// it decodes them (an observation window, bounded).
	select {
	case <-probed:
	case <-time.After(stallTail):
	}
	close(stop)
	for range clients {
		r := <-results
		rep.Probes += r.n
		rep.Late += r.late
		rep.Worst = max(rep.Worst, r.worst)
		if r.err != nil && rep.ProbeErr == nil {
			rep.ProbeErr = r.err
		}
	}

	flooder.Reset()
	rep.IdleAfter, rep.Idle, rep.CPUWindows = waitIdle(t.PID(), time.Now())
	return rep
}

// probeResult is one probe's account.
type probeResult struct {
	n, late int
	worst   time.Duration
	err     error
}

// probeLoop sends a small text every stallProbeEvery and times its echo,
// until stop or a failure.
func probeLoop(c *Client, stop <-chan struct{}) (r probeResult) {
	tick := time.NewTicker(stallProbeEvery)
	defer tick.Stop()
	payload := []byte("probe")
	for {
		select {
		case <-stop:
			return r
		case <-tick.C:
		}
		sent := time.Now()
		if err := c.Echo(OpText, payload); err != nil {
			r.worst = max(r.worst, time.Since(sent))
			r.err = fmt.Errorf("after %d echoes: %w", r.n, err)
			return r
		}
		d := time.Since(sent)
		r.n++
		r.worst = max(r.worst, d)
		if d > StallProbeMax {
			r.late++
		}
	}
}

// waitIdle samples pid's CPU from rst on, in windows of stallIdleWindow
// starting every 100 ms, until a window used at most stallIdleCPU (idle)
// or the windows starting within StallIdleWithin are all busy.
func waitIdle(pid int, rst time.Time) (after time.Duration, idle bool, windows []time.Duration) {
	type sample struct {
		at  time.Time
		cpu time.Duration
	}
	var samples []sample
	step := 100 * time.Millisecond
	for {
		cpu, err := procfs.CPU(pid)
		if err != nil {
			return time.Since(rst), false, windows // the process is gone
		}
		now := time.Now()
		samples = append(samples, sample{now, cpu})
		// The earliest window that is complete now.
		for len(samples) > 1 && now.Sub(samples[0].at) >= stallIdleWindow {
			used := cpu - samples[0].cpu
			windows = append(windows, used)
			if used <= stallIdleCPU {
				return samples[0].at.Sub(rst), true, windows
			}
			samples = samples[1:]
			if samples[0].at.Sub(rst) > StallIdleWithin {
				return samples[0].at.Sub(rst), false, windows
			}
		}
		time.Sleep(step) // the sampling period
	}
}
