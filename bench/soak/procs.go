package soak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wsloop/wsloop/bench/internal/child"
)

// buildBinaries builds wsloop and nats-server into dir (the bench module's
// tool dependencies, so the versions are go.mod's); the current directory
// must be inside the bench module.
func buildBinaries(ctx context.Context, dir string) (wsloop, nats string, err error) {
	wsloop, nats = filepath.Join(dir, "wsloop"), filepath.Join(dir, "nats-server")
	for _, b := range [][2]string{{wsloop, "github.com/wsloop/wsloop/cmd/wsloop"}, {nats, "github.com/nats-io/nats-server/v2"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b[0], b[1])
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return wsloop, nats, nil
}

// process is a child process whose output goes to a log file. Start and
// stop it from one goroutine; PID and Running are safe from any.
type process struct {
	name string
	*child.Process
}

// startProcess runs bin with args, appending its stdout and stderr to
// logPath.
func startProcess(name, bin, logPath string, args ...string) (*process, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	c, err := child.Start(bin, lf, args...)
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		<-c.Exited()
		lf.Close()
	}()
	return &process{name: name, Process: c}, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortRun returns a port p such that p..p+n-1 were all free.
func freePortRun(host string, n int) (int, error) {
	for range 50 {
		p, err := freePort(host)
		if err != nil {
			return 0, err
		}
		if p+n > 65535 {
			continue
		}
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p+i)))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("no run of free ports found")
}

// waitFor polls cond every 100 ms until it is true (nil) or ctx or the
// deadline d ends (an error naming what).
func waitFor(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
