//go:build linux

package poller

import (
	"net/netip"
	"os"
	"strconv"

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
	want, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	var fds []int
	for _, ent := range entries {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil || !isReusePortListener(fd, want) {
			continue
		}
		fds = append(fds, fd)
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

// isReusePortListener reports whether fd is a listening TCP socket with
// SO_REUSEPORT bound to want.
func isReusePortListener(fd int, want netip.AddrPort) bool {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT); err != nil || v != 1 {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	var got netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		got = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		got = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	default:
		return false
	}
	return got == want
}
