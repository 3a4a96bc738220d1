//go:build linux

package soak

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

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
		if procfs.PPid(pid) == parent {
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
