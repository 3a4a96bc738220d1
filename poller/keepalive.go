package poller

import "time"

// keepAliveProbes is how many unanswered TCP keepalive probes end a
// connection (TCP_KEEPCNT), with Config.KeepAlive.
const keepAliveProbes = 4

// keepAliveInterval is the time between probes after the first.
func keepAliveInterval(d time.Duration) time.Duration {
	return max(d/keepAliveProbes, time.Second)
}
