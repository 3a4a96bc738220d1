package poller

import (
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// listenerFDs returns this process's listening TCP sockets bound to addr
// (with SO_REUSEPORT set, when reusePort): gnet does not hand them out when
// there are several (one per event loop with ReusePort), so they are found
// among the process's descriptors.
func listenerFDs(addr string, reusePort bool) ([]int, error) {
	want, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, ent := range entries {
		fd, err := strconv.Atoi(ent.Name())
		if err == nil && isListener(fd, want, reusePort) {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// isListener reports whether fd is a listening TCP socket bound to want
// (with SO_REUSEPORT, when reusePort).
func isListener(fd int, want netip.AddrPort, reusePort bool) bool {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT); reusePort && (err != nil || v != 1) {
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
	return got.Port() == want.Port() && got.Addr().Unmap() == want.Addr().Unmap()
}
