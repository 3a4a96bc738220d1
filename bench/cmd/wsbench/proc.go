//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// parseKB parses "   1234 kB" into bytes.
func parseKB(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty value")
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	return n * 1024, nil
}

// sumCPUSeconds adds utime+stime over all pids, in seconds.
func sumCPUSeconds(pids []int) (float64, error) {
	var t time.Duration
	for _, p := range pids {
		v, err := procfs.CPU(p)
		if err != nil {
			return 0, err
		}
		t += v
	}
	return t.Seconds(), nil
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes.
func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			return parseKB(v)
		}
	}
	return 0, fmt.Errorf("no MemAvailable in /proc/meminfo")
}

// tcpInUse returns the "TCP: inuse" count of /proc/net/sockstat: every TCP
// socket of the network namespace, so a loopback connection counts twice.
func tcpInUse() (int64, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "TCP: inuse "); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no TCP line in /proc/net/sockstat")
}

// listeners counts the sockets in LISTEN state on the given local port in
// /proc/net/tcp and tcp6. With SO_REUSEPORT every server process has its own
// listening socket, so this tells how many of them are ready.
func listeners(port int) int {
	suffix := fmt.Sprintf(":%04X", port)
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			// sl local_address rem_address st ...
			if len(fs) > 3 && fs[3] == "0A" && strings.HasSuffix(fs[1], suffix) {
				n++
			}
		}
		f.Close()
	}
	return n
}
