// Package child runs the processes the bench harnesses start and measure:
// servers, brokers, load generators.
package child

import (
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Process is a started child process. Start and stop it from one
// goroutine; the other methods are safe from any.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once waited for
	err  error         // Wait's result, read after done
}

// Start runs bin with args, its stdout and stderr going to out (nil:
// discarded).
func Start(bin string, out io.Writer, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is how the process ended (exec.Cmd.Wait's error); valid once Exited
// is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends sig and waits up to grace for the exit, then kills the
// process and waits for it.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
