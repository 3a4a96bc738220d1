package hostile

import (
	"fmt"
	"time"
)

// The stall (issue class 1): a client that never reads sends bursts of
// 1-byte masked text messages while a probe on the same server measures
// its echo latency; then the flooder resets the connection and the
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
	Probes     int           // probe echoes received
	Late       int           // probe echoes slower than StallProbeMax
	Worst      time.Duration // the slowest probe echo
	ProbeErr   error         // the probe failed (no echo at all)
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

// RunStall floods t from a non-reading client and measures a probe and
// the CPU after the flooder's RST.
func RunStall(t *Target) StallReport {
	var rep StallReport
	probe, _, err := Upgrade(t.Addr)
	if err != nil {
		rep.ProbeErr = fmt.Errorf("probe handshake: %w", err)
		return rep
	}
	defer probe.Close()
	flooder, _, err := Upgrade(t.Addr)
	if err != nil {
		rep.WriteErr = fmt.Errorf("flooder handshake: %w", err)
		return rep
	}
	defer flooder.Close()
	// Make sure the probe works before the flood.
	if err := probe.Echo(OpText, []byte("before")); err != nil {
		rep.ProbeErr = fmt.Errorf("before the flood: %w", err)
		return rep
	}

	frame := Text("x")
	burst := Repeat(frame, stallBurst/len(frame))
	stop := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		rep.Probes, rep.Late, rep.Worst, rep.ProbeErr = probeLoop(probe, stop)
	}()

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
	<-probed

	flooder.Reset()
	rep.IdleAfter, rep.Idle, rep.CPUWindows = waitIdle(t.PID(), time.Now())
	return rep
}

// probeLoop sends a small text every stallProbeEvery and times its echo,
// until stop.
func probeLoop(c *Client, stop <-chan struct{}) (n, late int, worst time.Duration, err error) {
	tick := time.NewTicker(stallProbeEvery)
	defer tick.Stop()
	payload := []byte("probe")
	for {
		select {
		case <-stop:
			return n, late, worst, nil
		case <-tick.C:
		}
		sent := time.Now()
		if err := c.Echo(OpText, payload); err != nil {
			return n, late, max(worst, time.Since(sent)), fmt.Errorf("after %d echoes: %w", n, err)
		}
		d := time.Since(sent)
		n++
		worst = max(worst, d)
		if d > StallProbeMax {
			late++
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
		cpu, err := CPU(pid)
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
