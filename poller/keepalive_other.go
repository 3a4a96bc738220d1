//go:build !linux

package poller

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// keepAliveOptions has gnet set TCP keepalive on each accepted connection:
// elsewhere than on Linux, accepted sockets are not known to inherit the
// listener's settings, and there is no TCP_USER_TIMEOUT.
func keepAliveOptions(d time.Duration) []gnet.Option {
	return []gnet.Option{
		gnet.WithTCPKeepAlive(d),
		gnet.WithTCPKeepInterval(keepAliveInterval(d)),
		gnet.WithTCPKeepCount(keepAliveProbes),
	}
}

// setListenerKeepAlive does nothing here (see keepAliveOptions).
func setListenerKeepAlive(string, time.Duration) (int, error) { return 0, nil }
