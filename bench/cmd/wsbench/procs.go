//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one process wsbench started: a server or a load generator.
type child struct {
	name   string
	cmd    *exec.Cmd
	pid    int
	stdin  io.WriteCloser
	tail   *tailBuffer   // last bytes of stderr, for error messages
	done   chan struct{} // closed once the process has been reaped
	exitMu sync.Mutex
	exit   error

	lineMu sync.Mutex
	lines  []string      // stdout lines seen so far (bounded)
	notify chan struct{} // gets a token after every stdout line
}

const maxKeptLines = 64

// registry tracks every live child so that an interrupt or a failure can stop
// them all, whatever the scenario code was doing.
type registry struct {
	mu   sync.Mutex
	live map[*child]struct{}
}

var children = &registry{live: map[*child]struct{}{}}

func (r *registry) add(c *child) {
	r.mu.Lock()
	r.live[c] = struct{}{}
	r.mu.Unlock()
}

func (r *registry) remove(c *child) {
	r.mu.Lock()
	delete(r.live, c)
	r.mu.Unlock()
}

// killAll stops every child still running: SIGTERM, then SIGKILL after grace.
func (r *registry) killAll(grace time.Duration) {
	r.mu.Lock()
	var cs []*child
	for c := range r.live {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	stopAll(cs, grace)
}

// startChild starts bin with args. cpu >= 0 pins it to that CPU with taskset
// (taskset execs the program, so the pid is the program's own).
func startChild(name, bin string, args []string, cpu int, env []string, wantStdin bool) (*child, error) {
	argv := append([]string{bin}, args...)
	if cpu >= 0 {
		argv = append([]string{tasksetPath, "-c", strconv.Itoa(cpu)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// Own process group: a terminal's ^C reaches only wsbench, which then
	// stops the load before the servers and restores what it changed.
	// Pdeathsig: children die with wsbench if it is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, tail: &tailBuffer{max: 4096}, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	cmd.Stderr = c.tail
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if wantStdin {
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.pid = cmd.Process.Pid
	children.add(c)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20) // the final JSON line carries a histogram
		for sc.Scan() {
			c.lineMu.Lock()
			c.lines = append(c.lines, sc.Text())
			if len(c.lines) > maxKeptLines {
				// Keep the first lines (READY, listening) and the newest.
				c.lines = append(c.lines[:8], c.lines[len(c.lines)-maxKeptLines+8:]...)
			}
			c.lineMu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		<-readDone // Wait closes the pipe; read it to the end first
		err := cmd.Wait()
		c.exitMu.Lock()
		c.exit = err
		c.exitMu.Unlock()
		children.remove(c)
		close(c.done)
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) exitErr() error {
	c.exitMu.Lock()
	defer c.exitMu.Unlock()
	return c.exit
}

// describeExit explains why c stopped, with the end of its stderr.
func (c *child) describeExit() string {
	msg := fmt.Sprintf("%s (pid %d) exited", c.name, c.pid)
	if err := c.exitErr(); err != nil {
		msg += ": " + err.Error()
	}
	if t := strings.TrimSpace(c.tail.String()); t != "" {
		msg += "; stderr: " + t
	}
	return msg
}

// findLine returns the first stdout line for which match is true.
func (c *child) findLine(match func(string) bool) (string, bool) {
	c.lineMu.Lock()
	defer c.lineMu.Unlock()
	for _, l := range c.lines {
		if match(l) {
			return l, true
		}
	}
	return "", false
}

// lastLine returns the newest stdout line for which match is true.
func (c *child) lastLine(match func(string) bool) (string, bool) {
	c.lineMu.Lock()
	defer c.lineMu.Unlock()
	for i := len(c.lines) - 1; i >= 0; i-- {
		if match(c.lines[i]) {
			return c.lines[i], true
		}
	}
	return "", false
}

// signal sends sig to c's process group.
func (c *child) signal(sig syscall.Signal) {
	if c.exited() {
		return
	}
	_ = syscall.Kill(-c.pid, sig)
}

// wait waits up to d for c to exit.
func (c *child) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}

// stopAll sends SIGTERM to every child, waits up to grace for all of them,
// then kills what is left and waits for it to be reaped.
func stopAll(cs []*child, grace time.Duration) {
	for _, c := range cs {
		c.signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, c := range cs {
		if !c.wait(time.Until(deadline)) {
			c.signal(syscall.SIGKILL)
			c.wait(5 * time.Second)
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var tasksetPath, _ = exec.LookPath("taskset")

// buildBinaries builds every program the run needs into dir with one
// `go build` (which builds them in parallel) and returns name → path; with
// nats, also nats-server (a tool of the bench module).
func buildBinaries(ctx context.Context, moduleDir, dir string, servers []string, nats bool) (map[string]string, error) {
	pkgs := []string{"./cmd/wsload"}
	out := map[string]string{"wsload": filepath.Join(dir, "wsload")}
	if nats {
		pkgs = append(pkgs, "github.com/nats-io/nats-server/v2")
		out["nats-server"] = filepath.Join(dir, "nats-server")
	}
	for _, s := range servers {
		switch s {
		case "wsloop", "wsloop-edge", "wsloop-local", "wsloop-pool":
			if _, ok := out["wsloop"]; !ok {
				pkgs = append(pkgs, "github.com/wsloop/wsloop/cmd/wsloop")
				out["wsloop"] = filepath.Join(dir, "wsloop")
			}
			// The same binary; wsloop-edge, wsloop-local and wsloop-pool only
			// differ in their flags.
			out[s] = filepath.Join(dir, "wsloop")
		case "wsclients": // the clients scenario's client processes
			pkgs = append(pkgs, "./cmd/wsclients")
			out[s] = filepath.Join(dir, s)
		default:
			pkgs = append(pkgs, "./peers/"+s)
			out[s] = filepath.Join(dir, s)
		}
	}
	args := append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, buf.String())
	}
	for name, p := range out {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("built %s but %s is missing: %w", name, p, err)
		}
	}
	return out, nil
}

// findModuleDir walks up from the working directory to the bench module.
func findModuleDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for i := 0; i < 16; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/wsloop/wsloop/bench\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("no go.mod of github.com/wsloop/wsloop/bench at or above %s (use -bench-dir)", start)
}

// freePort returns a loopback TCP port below the default ephemeral range
// that is free right now.
func freePort() (int, error) {
	for i := 0; i < 200; i++ {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, errors.New("no free port in 20000-31999")
}

// srcBlocks hands out source-address blocks: every load process gets its
// own 127.A.B.0/24 (addresses .1 to .srcCount), never reused within one
// wsbench run, starting at a random block so that back-to-back runs do not
// meet each other's TIME_WAIT sockets.
type srcBlocks struct {
	mu   sync.Mutex
	next int // index of the next /24: A = 1 + next/256, B = next%256
}

func newSrcBlocks() *srcBlocks { return &srcBlocks{next: rand.IntN(253 * 256)} }

func (s *srcBlocks) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.next % (253 * 256)
	s.next++
	return fmt.Sprintf("127.%d.%d.1", 1+i/256, i%256)
}
