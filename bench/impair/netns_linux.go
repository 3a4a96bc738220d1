//go:build linux

package impair

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// nsPrefix starts the name of every namespace this package creates:
// nsPrefix + "<pid>-<n>".
const nsPrefix = "wsimpair-"

// netnsDir is where ip netns keeps its named namespaces (bind mounts).
const netnsDir = "/run/netns"

// ip runs the ip command and returns its error with its output.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("impair: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// createNS creates the named network namespace and returns an open
// handle to it (for setns).
func createNS(name string) (*os.File, error) {
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	f, err := os.Open(netnsDir + "/" + name)
	if err != nil {
		_ = ip("netns", "del", name)
		return nil, fmt.Errorf("impair: open namespace: %w", err)
	}
	return f, nil
}

var staleOnce sync.Once

// removeStale deletes, once per process, the namespaces of this package
// left by processes that died without Close, and those named after this
// process's pid, which can only be left by an earlier process that had the
// same pid (this one has created none yet).
func removeStale() { staleOnce.Do(func() { removeStaleNS(os.Getpid()) }) }

// removeStaleNS deletes this package's namespaces whose pid is gone or is
// self.
func removeStaleNS(self int) {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 {
			continue
		}
		if pid == self || errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			_ = ip("netns", "del", e.Name())
		}
	}
}

// inNS runs fn on an OS thread switched into the namespace ns, and waits
// for it. The thread is switched back before it runs other goroutines; if
// that fails, the thread is left locked, so the runtime discards it.
// Sockets and devices created by fn belong to ns; fn must not hand work
// that creates them to other goroutines.
func inNS(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("impair: open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("impair: setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("impair: setns back: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// disableIPv6 turns IPv6 off on dev in the calling thread's namespace
// (best effort: it only silences router solicitations and the like).
func disableIPv6(dev string) {
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1"), 0)
}
