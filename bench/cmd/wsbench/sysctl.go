//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// sysctlSetting is one kernel parameter the million scenario needs.
type sysctlSetting struct {
	key string // dotted name, e.g. fs.file-max
	// want returns the value to write given the current one, or "" to leave
	// the current value alone (it is already enough).
	want func(cur string) string
}

// atLeast raises a single-number sysctl to v, never lowers it.
func atLeast(v int64) func(string) string {
	return func(cur string) string {
		n, err := strconv.ParseInt(strings.TrimSpace(cur), 10, 64)
		if err == nil && n >= v {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
}

// millionSysctls are the settings for ~1M loopback connection pairs: 2M
// file descriptors system-wide, deep accept queues, a wide ephemeral range
// and accept-queue migration between SO_REUSEPORT listeners.
var millionSysctls = []sysctlSetting{
	{"fs.file-max", atLeast(4000000)},
	{"fs.nr_open", atLeast(1048576)},
	{"net.core.somaxconn", atLeast(65535)},
	{"net.ipv4.tcp_max_syn_backlog", atLeast(65535)},
	{"net.ipv4.ip_local_port_range", func(cur string) string {
		f := strings.Fields(cur)
		if len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && lo <= 1024 && hi >= 65535 {
				return ""
			}
		}
		return "1024 65535"
	}},
	{"net.ipv4.tcp_migrate_req", atLeast(1)},
}

// sysctlRoot is where the sysctls live; tests point it at a directory.
var sysctlRoot = "/proc/sys"

func sysctlPath(key string) string {
	return filepath.Join(sysctlRoot, strings.ReplaceAll(key, ".", "/"))
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

func writeSysctl(key, v string) error {
	return os.WriteFile(sysctlPath(key), []byte(v+"\n"), 0o644)
}

// sysctlGuard remembers the values it changed and puts them back exactly
// once, whoever calls restore first (the deferred cleanup or the signal
// handler).
type sysctlGuard struct {
	mu    sync.Mutex
	saved []savedSysctl
	logf  func(string, ...any)
}

type savedSysctl struct{ key, old, new string }

// apply saves and then sets every setting that needs changing. On an error
// it restores what it already changed before returning.
func (g *sysctlGuard) apply(settings []sysctlSetting) error {
	for _, s := range settings {
		cur, err := readSysctl(s.key)
		if err != nil {
			if os.IsNotExist(err) {
				g.logf("sysctl %s: not present on this kernel, skipped", s.key)
				continue
			}
			g.restoreAll()
			return fmt.Errorf("read sysctl %s: %w", s.key, err)
		}
		v := s.want(cur)
		if v == "" {
			g.logf("sysctl %s = %s (already enough)", s.key, cur)
			continue
		}
		g.mu.Lock()
		g.saved = append(g.saved, savedSysctl{s.key, cur, v})
		g.mu.Unlock()
		if err := writeSysctl(s.key, v); err != nil {
			g.restoreAll()
			return fmt.Errorf("set sysctl %s=%s (was %s): %w", s.key, v, cur, err)
		}
		g.logf("sysctl %s = %s (was %s; restored afterwards)", s.key, v, cur)
	}
	return nil
}

// restoreAll writes back every saved value, newest first, and forgets them.
// Safe to call any number of times from any goroutine.
func (g *sysctlGuard) restoreAll() {
	g.mu.Lock()
	saved := g.saved
	g.saved = nil
	g.mu.Unlock()
	for i := len(saved) - 1; i >= 0; i-- {
		s := saved[i]
		if err := writeSysctl(s.key, s.old); err != nil {
			fmt.Fprintf(os.Stderr, "wsbench: RESTORE FAILED: sysctl %s=%s: %v (set it back by hand)\n", s.key, s.old, err)
			continue
		}
		g.logf("sysctl %s restored to %s", s.key, s.old)
	}
}
