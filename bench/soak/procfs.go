//go:build linux

package soak

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procFDs counts pid's open file descriptors (/proc/PID/fd).
func procFDs(pid int) (int64, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return int64(len(ents)), nil
}

// procRSS returns pid's resident set size in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// procPPid returns pid's parent, or -1 when pid is gone or a zombie.
func procPPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || f[0] == "Z" {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}

// procChildren lists the live children of parent (a scan of /proc).
func procChildren(parent int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if procPPid(pid) == parent {
			out = append(out, pid)
		}
	}
	return out
}

// procArg returns the value of flag in pid's command line: the last one
// when it is given several times (as the flag package takes it).
func procArg(pid int, flag string) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", false
	}
	args := strings.Split(string(b), "\x00")
	val, found := "", false
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			val, found = args[i+1], true
		} else if v, ok := strings.CutPrefix(a, flag+"="); ok {
			val, found = v, true
		}
	}
	return val, found
}
