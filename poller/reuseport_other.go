//go:build !linux

package poller

// leaveReusePortGroup is Linux-only (see reuseport_linux.go): elsewhere a
// draining server's listeners stay in the port's group until gnet stops.
func leaveReusePortGroup(string) (int, error) { return 0, nil }
