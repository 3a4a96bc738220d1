package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// workerEnv marks a process started by the -procs supervisor. Its value
// is "SLOT GEN FEED": the worker's slot (0 to N-1), its generation (1, then
// one more at every SIGHUP) and, in feed mode, whether this worker runs
// the synthetic feed: "now", "gate" (after SIGUSR2, which the supervisor
// sends once the previous generation's feed worker is draining) or "off".
// A worker never supervises: -procs is ignored when this is set.
const workerEnv = "WSLOOP_SUPERVISED_WORKER"

// statusFD is the worker's end of the status pipe to the supervisor
// (exec.Cmd.ExtraFiles[0]). The worker writes lines to it:
//
//	ready ADDR ADMIN      once listening (ADMIN "-" without -admin)
//	conns N               every second: upgraded connections held
//	feed-stopped          the feed worker's feed stopped (draining)
//
// A failed write means the supervisor is gone: the worker drains.
const statusFD = 3

// supervisedGoingAway is a worker's 1001 reason: it drains because a new
// generation took over (SIGHUP) or the service stops, and a client should
// reconnect either way.
const supervisedGoingAway = "restart: reconnect"

// statusEvery is how often a worker reports its connections.
const statusEvery = time.Second

// workerArgv turns a worker's flags into the arguments after the
// executable's name. Tests that re-execute their own binary replace it.
var workerArgv = func(args []string) []string { return args }

// worker is what a supervised process knows of itself.
type worker struct {
	slot, gen int
	feed      string // "now", "gate" or "off"

	mu     sync.Mutex
	status *os.File
	lost   chan struct{} // closed when a status write fails
	once   sync.Once
}

// workerFromEnv returns the worker description of workerEnv, nil when the
// process is not supervised.
func workerFromEnv(lookupEnv func(string) (string, bool)) (*worker, error) {
	v, ok := lookupEnv(workerEnv)
	if !ok {
		return nil, nil
	}
	f := strings.Fields(v)
	if len(f) != 3 {
		return nil, fmt.Errorf("%s=%q: want \"SLOT GEN FEED\"", workerEnv, v)
	}
	slot, err1 := strconv.Atoi(f[0])
	gen, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || (f[2] != "now" && f[2] != "gate" && f[2] != "off") {
		return nil, fmt.Errorf("%s=%q: want \"SLOT GEN FEED\"", workerEnv, v)
	}
	w := &worker{slot: slot, gen: gen, feed: f[2], lost: make(chan struct{})}
	w.status = os.NewFile(statusFD, "wsloop-status")
	// The terminal's signals are the supervisor's to handle.
	signal.Ignore(syscall.SIGHUP)
	return w, nil
}

// report writes one status line; a failure closes w.lost.
func (w *worker) report(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := fmt.Fprintf(w.status, format+"\n", a...); err != nil {
		w.once.Do(func() { close(w.lost) })
	}
}

// reportConns reports n() every statusEvery until done is closed.
func (w *worker) reportConns(n func() int64, done <-chan struct{}) {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		w.report("conns %d", n())
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// feedGate returns a channel closed when this worker may start the feed.
func (w *worker) feedGate() <-chan struct{} {
	ch := make(chan struct{})
	if w.feed != "gate" {
		close(ch)
		return ch
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	go func() {
		<-sig
		signal.Stop(sig)
		close(ch)
	}()
	return ch
}
