package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The -procs supervisor: N worker processes, each this same binary
// (os.Executable, read again at every start, so that replacing the binary
// and sending SIGHUP upgrades), serving -addr with SO_REUSEPORT. Each has
// its own descriptor budget. The supervisor
//
//   - starts generation 1 and waits until every worker listens (a worker
//     that exits first ends the supervisor with an error);
//   - restarts a worker that exits unexpectedly, after 100 ms, doubling up
//     to 10 s while it keeps dying within 10 s of its start, and gives up
//     (drains the others and exits with an error) after maxFailures such
//     deaths in a row;
//   - on SIGHUP starts generation g+1 (N new workers on the same port),
//     waits until all listen (at most rollTimeout; if one fails, the new
//     generation is stopped and the old one keeps serving), then sends
//     SIGTERM to the old workers, which drain: they leave the port's
//     SO_REUSEPORT group (so new connections reach the new generation;
//     an upgrade already accepted gets 503), send 1001 Going Away
//     "restart: reconnect" to their connections, and exit when empty or
//     after -drain-timeout (SIGKILL drainTimeout+killGrace later);
//   - on SIGTERM or SIGINT drains every worker the same way and exits;
//   - logs every worker's pid, address, admin address and connections
//     every -status-interval and on SIGUSR1.
//
// Workers report on a pipe (their descriptor 3): "ready ADDR ADMIN" once
// listening, then "conns N" every second; a worker whose pipe breaks (the
// supervisor died) drains by itself. Workers run in their own process
// group, so a terminal's Ctrl-C reaches only the supervisor, which drains
// them in order.
//
// In feed mode only one worker, slot 0, runs the synthetic feed; a new
// generation's slot 0 starts it (SIGUSR2) only once the old one reported
// "feed-stopped" on its pipe or exited (or after feedHandoff), so that no
// update is published twice.

const (
	maxFailures   = 10               // deaths in a row of one slot before giving up
	quickDeath    = 10 * time.Second // a death sooner than this after start counts
	firstBackoff  = 100 * time.Millisecond
	maxBackoff    = 10 * time.Second
	rollTimeout   = 30 * time.Second // for a new generation to listen
	killGrace     = 5 * time.Second  // past -drain-timeout before SIGKILL
	startupWindow = 30 * time.Second // for generation 1 to listen
	feedHandoff   = 5 * time.Second  // at most, from the old feed to the new one
)

// proc is one worker process.
type proc struct {
	slot, gen int
	cmd       *exec.Cmd
	start     time.Time
	addr      string // from the ready line; read only after ready is closed
	admin     string
	conns     atomic.Int64
	ready     chan struct{} // closed on the ready line
	feedOff   chan struct{} // closed on the feed-stopped line
	exited    chan struct{} // closed once the process was waited for
	err       error         // the wait's; read only after exited is closed
	draining  bool          // supervisor goroutine only
}

func (p *proc) isReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

func (p *proc) isExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

type restartReq struct{ slot, gen int }

type rollResult struct {
	gen   int
	procs []*proc
	err   error
}

type supervisor struct {
	f      *flags
	args   []string
	logger *slog.Logger
	n      int
	addr   string // host:port, port fixed

	adminHost string
	adminPort int // -1: no admin; 0: each worker a free port

	exits    chan *proc
	restarts chan restartReq
	rolled   chan rollResult
	done     chan struct{} // closed when supervise returns

	mu       sync.Mutex
	all      map[*proc]bool // not yet exited
	stopping bool

	// the supervisor goroutine's
	gen     int
	cur     []*proc
	fails   []int
	rolling bool
}

// supervise runs the -procs supervisor until stop delivers a signal.
func supervise(f *flags, args []string, logger *slog.Logger, stop <-chan os.Signal) error {
	if err := f.check(); err != nil {
		return err
	}
	if f.pubsub() && f.nats == "" {
		return fmt.Errorf("-procs %d with -mode %s needs -nats: the workers share topics only through a NATS server (e.g. nats-server -js, then -nats nats://127.0.0.1:4222)", f.procs, f.mode)
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		return fmt.Errorf("-procs %d with -tls-cert: not supported (the TLS listener does not use SO_REUSEPORT); terminate TLS in front of wsloop", f.procs)
	}
	s := &supervisor{
		f: f, args: args, logger: logger.With("role", "supervisor"), n: f.procs,
		exits: make(chan *proc, 4*f.procs), restarts: make(chan restartReq, 4*f.procs),
		rolled: make(chan rollResult, 1), done: make(chan struct{}),
		all: make(map[*proc]bool), fails: make([]int, f.procs), adminPort: -1,
	}
	defer close(s.done)
	var err error
	if s.addr, err = fixedAddr(f.addr); err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if f.admin != "" {
		host, port, err := net.SplitHostPort(f.admin)
		if err != nil {
			return fmt.Errorf("-admin: %w", err)
		}
		if s.adminPort, err = strconv.Atoi(port); err != nil || s.adminPort < 0 || s.adminPort+2*s.n > 65536 {
			return fmt.Errorf("-admin %s: want a port from 0 to %d", f.admin, 65535-2*s.n+1)
		}
		s.adminHost = host
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	// Generation 1.
	s.gen = 1
	s.cur = make([]*proc, s.n)
	for slot := range s.n {
		p, err := s.spawn(slot, 1, s.feedFor(slot, "now"))
		if err != nil {
			s.stopAll()
			return err
		}
		s.cur[slot] = p
	}
	if err := s.awaitReady(s.cur, startupWindow, stop); err != nil {
		s.stopAll()
		return err
	}
	s.logger.Info("serving", "addr", s.addr, "procs", s.n, "mode", f.mode, "pid", os.Getpid())
	s.logStatus()

	var tick <-chan time.Time
	if f.statusInterval > 0 {
		t := time.NewTicker(f.statusInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case sig := <-stop:
			s.logger.Info("draining all workers", "signal", sig.String())
			s.stopAll()
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				s.logStatus()
				continue
			}
			if s.rolling {
				s.logger.Warn("SIGHUP ignored: a rolling restart is under way")
				continue
			}
			s.rolling = true
			s.gen++
			s.logger.Info("rolling restart", "gen", s.gen)
			go s.roll(s.gen)
		case r := <-s.rolled:
			s.rolling = false
			s.finishRoll(r)
		case <-tick:
			s.logStatus()
		case p := <-s.exits:
			if err := s.exited(p); err != nil {
				s.stopAll()
				return err
			}
		case r := <-s.restarts:
			s.restart(r)
		}
	}
}

// fixedAddr returns addr with port 0 replaced by a free port: every
// worker must bind the same one.
func fixedAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" && port != "" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port), nil
}

// feedFor is the feed setting of slot's worker.
func (s *supervisor) feedFor(slot int, how string) string {
	if s.f.mode != "feed" || slot != 0 {
		return "off"
	}
	return how
}

// adminFor is the -admin of slot's worker in generation gen: PORT+slot,
// PORT+N+slot in even generations, so that two generations never want
// one port; host:0 (a free port each) when PORT is 0.
func (s *supervisor) adminFor(slot, gen int) string {
	if s.adminPort == 0 {
		return net.JoinHostPort(s.adminHost, "0")
	}
	return net.JoinHostPort(s.adminHost, strconv.Itoa(s.adminPort+((gen-1)%2)*s.n+slot))
}

// spawn starts slot's worker of generation gen.
func (s *supervisor) spawn(slot, gen int, feed string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, errors.New("stopping")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("worker executable: %w", err)
	}
	wargs := append(slices.Clone(s.args), "-reuseport=true", "-addr", s.addr)
	if s.adminPort >= 0 {
		wargs = append(wargs, "-admin", s.adminFor(slot, gen))
	}
	cmd := exec.Command(exe, workerArgv(wargs)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d %s", workerEnv, slot, gen, feed))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("worker %d: %w", slot, err)
	}
	w.Close()
	p := &proc{slot: slot, gen: gen, cmd: cmd, start: time.Now(), ready: make(chan struct{}), feedOff: make(chan struct{}), exited: make(chan struct{})}
	s.all[p] = true
	go s.watch(p, r)
	return p, nil
}

// watch reads p's status pipe until p exits, then reports the exit.
func (s *supervisor) watch(p *proc, r *os.File) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ready" && !p.isReady():
			p.addr, p.admin = f[1], f[2]
			s.logger.Info("worker ready", "slot", p.slot, "gen", p.gen, "pid", p.cmd.Process.Pid, "addr", p.addr, "admin", p.admin)
			close(p.ready)
		case len(f) == 1 && f[0] == "feed-stopped":
			close(p.feedOff)
		case len(f) == 2 && f[0] == "conns":
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				p.conns.Store(n)
			}
		}
	}
	r.Close()
	p.err = p.cmd.Wait()
	p.conns.Store(0)
	close(p.exited)
	select {
	case s.exits <- p:
	case <-s.done:
	}
}

// awaitReady waits until every proc listens, one exits, the timeout
// passes or (stop not nil) a stop signal arrives.
func (s *supervisor) awaitReady(procs []*proc, timeout time.Duration, stop <-chan os.Signal) error {
	deadline := time.After(timeout)
	for _, p := range procs {
		select {
		case <-p.ready:
		case <-p.exited:
			return fmt.Errorf("worker %d (gen %d, pid %d) exited before listening: %v", p.slot, p.gen, p.cmd.Process.Pid, p.err)
		case <-deadline:
			return fmt.Errorf("worker %d (gen %d) did not listen within %v", p.slot, p.gen, timeout)
		case sig := <-stop:
			return fmt.Errorf("%v while starting", sig)
		}
	}
	return nil
}

// drain sends p SIGTERM, and SIGKILL if it outlives the drain timeout.
func (s *supervisor) drain(p *proc) {
	p.draining = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	time.AfterFunc(s.f.drainTimeout+killGrace, func() {
		if !p.isExited() {
			_ = p.cmd.Process.Kill()
		}
	})
}

// exited handles the exit of p; an error means giving up.
func (s *supervisor) exited(p *proc) error {
	s.mu.Lock()
	delete(s.all, p)
	s.mu.Unlock()
	if p.draining || s.cur[p.slot] != p {
		s.logger.Info("worker exited", "slot", p.slot, "gen", p.gen, "pid", p.cmd.Process.Pid, "status", exitStatus(p.err))
		return nil
	}
	if time.Since(p.start) >= quickDeath {
		s.fails[p.slot] = 0
	}
	s.fails[p.slot]++
	n := s.fails[p.slot]
	if n > maxFailures {
		return fmt.Errorf("worker %d died %d times in a row, last: %s", p.slot, n, exitStatus(p.err))
	}
	backoff := min(firstBackoff<<(n-1), maxBackoff)
	s.logger.Warn("worker died: restarting", "slot", p.slot, "gen", p.gen, "pid", p.cmd.Process.Pid,
		"status", exitStatus(p.err), "in", backoff, "deaths_in_a_row", n)
	req := restartReq{slot: p.slot, gen: p.gen}
	time.AfterFunc(backoff, func() {
		select {
		case s.restarts <- req:
		case <-s.done:
		}
	})
	return nil
}

// stopAll drains every worker and waits for all to exit (SIGKILL past the
// drain timeout).
func (s *supervisor) stopAll() {
	s.mu.Lock()
	s.stopping = true
	var live []*proc
	for p := range s.all {
		live = append(live, p)
	}
	s.mu.Unlock()
	for _, p := range live {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	kill := time.After(s.f.drainTimeout + killGrace)
	for _, p := range live {
		select {
		case <-p.exited:
		case <-kill:
			for _, q := range live {
				if !q.isExited() {
					_ = q.cmd.Process.Kill()
				}
			}
			<-p.exited
		}
	}
	s.logger.Info("stopped")
}
