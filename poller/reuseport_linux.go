//go:build linux

package poller

import (
	"os"

	"golang.org/x/sys/unix"
)

// leaveReusePortGroup takes this process's SO_REUSEPORT listeners bound to
// addr out of the port's group, so that the kernel hands new connections
// to the other processes sharing the port (a new generation during a
// rolling restart) instead of to a server that can only answer 503. gnet
// has no call for it and keeps polling and accepting on the descriptor
// numbers it opened, so each listener's descriptor is replaced (dup3) by
// a listening, non-blocking Unix socket nobody can reach (an autobound
// abstract name): an accept gnet may still attempt there returns EAGAIN,
// which gnet ignores, and gnet's own close at Stop closes it. With its
// last descriptor gone the TCP listener is closed: the kernel removes it
// from the group and from gnet's epoll set and resets the connections
// still in its accept queue (net.ipv4.tcp_migrate_req=1 hands those to
// another listener of the group instead). It returns how many listeners
// were replaced. Safe from any goroutine: a concurrent accept works on
// either socket.
func leaveReusePortGroup(addr string) (int, error) {
	fds, err := listenerFDs(addr, true)
	if err != nil {
		return 0, err
	}
	if len(fds) == 0 {
		return 0, nil
	}
	dummy, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(dummy)
	if err := unix.Bind(dummy, &unix.SockaddrUnix{}); err != nil {
		return 0, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(dummy, 1); err != nil {
		return 0, os.NewSyscallError("listen", err)
	}
	n := 0
	for _, fd := range fds {
		if err := unix.Dup3(dummy, fd, unix.O_CLOEXEC); err != nil {
			return n, os.NewSyscallError("dup3", err)
		}
		n++
	}
	return n, nil
}
