//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// rssBytes returns VmRSS of pid.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return parseKB(v)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

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

// cpuTicks returns utime+stime of pid in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime in /proc/%d/stat", pid)
	}
	return u + s, nil
}

// sumRSS adds VmRSS over all pids.
func sumRSS(pids []int) (int64, error) {
	var t int64
	for _, p := range pids {
		v, err := rssBytes(p)
		if err != nil {
			return 0, err
		}
		t += v
	}
	return t, nil
}

// sumCPUSeconds adds utime+stime over all pids, in seconds.
func sumCPUSeconds(pids []int) (float64, error) {
	var t int64
	for _, p := range pids {
		v, err := cpuTicks(p)
		if err != nil {
			return 0, err
		}
		t += v
	}
	return float64(t) / clockTicks, nil
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
