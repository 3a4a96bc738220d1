package poller

import (
	"os"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// keepAliveOptions: none on Linux, where setListenerKeepAlive sets the
// listeners once.
func keepAliveOptions(time.Duration) []gnet.Option { return nil }

// setListenerKeepAlive sets TCP keepalive (SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT) and TCP_USER_TIMEOUT on every listening socket
// of this process bound to addr: Linux copies them to each accepted socket,
// so connections get them without a system call of their own. It returns
// how many listeners it set.
func setListenerKeepAlive(addr string, d time.Duration) (int, error) {
	fds, err := listenerFDs(addr, false)
	if err != nil {
		return 0, err
	}
	idle := int(max(d/time.Second, 1))
	intvl := int(keepAliveInterval(d) / time.Second)
	user := int((2 * d) / time.Millisecond)
	n := 0
	for _, fd := range fds {
		for _, o := range [...]struct{ level, opt, v int }{
			{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, idle},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, intvl},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveProbes},
			{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, user},
		} {
			if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
				return n, os.NewSyscallError("setsockopt", err)
			}
		}
		n++
	}
	return n, nil
}
