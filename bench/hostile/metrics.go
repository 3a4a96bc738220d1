package hostile

// The wsloop gauges the suite watches on -admin's /metrics.
const (
	gaugeOpen       = "wsloop_connections_open"
	gaugeTCP        = "wsloop_tcp_connections"
	gaugeGoroutines = "wsloop_go_goroutines"
)
