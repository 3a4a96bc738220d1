package admin

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsloop/wsloop/server"
)

// Source is what the collector reads on each scrape. *server.Server
// satisfies it. Both methods must be safe to call from any goroutine.
type Source interface {
	// Stats returns a snapshot of the server's counters and gauges.
	Stats() server.Stats
	// Draining reports whether Shutdown has begun.
	Draining() bool
}

// closeCodes are the wsloop_closes_total labels always exported, zeros
// included, in the order Stats.Closes documents them.
var closeCodes = func() []string {
	codes := make([]string, 0, 17)
	for c := 1000; c <= 1015; c++ {
		codes = append(codes, strconv.Itoa(c))
	}
	return append(codes, "other")
}()

var (
	descConnectionsOpen = prometheus.NewDesc("wsloop_connections_open",
		"WebSocket connections that completed the upgrade and have not closed yet.", nil, nil)
	descTCPConnections = prometheus.NewDesc("wsloop_tcp_connections",
		"TCP connections accepted by the WebSocket listeners and not closed yet, whether upgraded, still in the handshake or plain HTTP.", nil, nil)
	descUpgrades = prometheus.NewDesc("wsloop_upgrades_total",
		"Handshakes by outcome: accepted (101 Switching Protocols) or why the connection was refused or dropped before opening. Plain HTTP requests answered by the health check or the HTTP hook are not counted.",
		[]string{"result"}, nil)
	descMessagesIn = prometheus.NewDesc("wsloop_messages_received_total",
		"Complete data messages (text or binary) received from clients and dispatched to the handler; control frames excluded.", nil, nil)
	descBytesIn = prometheus.NewDesc("wsloop_received_bytes_total",
		"Payload bytes of the data messages counted by wsloop_messages_received_total, as received: compressed messages count their compressed size; frame headers excluded.", nil, nil)
	descMessagesOut = prometheus.NewDesc("wsloop_messages_sent_total",
		"Data messages (text or binary) written to a client's socket or buffered for it; control frames excluded.", nil, nil)
	descBytesOut = prometheus.NewDesc("wsloop_sent_bytes_total",
		"Bytes of the frames counted by wsloop_messages_sent_total as sent on the wire: frame headers included, after compression.", nil, nil)
	descCloses = prometheus.NewDesc("wsloop_closes_total",
		"WebSocket connections ended, by the close code the handler's OnClose was given (1000 to 1015; other for application codes).",
		[]string{"code"}, nil)
	descQueuedMessages = prometheus.NewDesc("wsloop_worker_queue_messages",
		"Messages and connection events waiting for a handler worker or being handled.", nil, nil)
	descQueuedBytes = prometheus.NewDesc("wsloop_worker_queue_bytes",
		"Payload bytes of the messages waiting for a handler worker or being handled.", nil, nil)
	descOutbound = prometheus.NewDesc("wsloop_outbound_queued_bytes",
		"Bytes waiting to be sent to clients: frames queued by Send and Close that no event loop has taken yet, plus the socket output buffers of connections that had some at their last write, as of each loop's last sweep.", nil, nil)
	descSlowDrops = prometheus.NewDesc("wsloop_slow_consumer_drops_total",
		"Outbound messages dropped by the slow-consumer policy (server.WithMaxOutbound).", nil, nil)
	descSlowCloses = prometheus.NewDesc("wsloop_slow_consumer_disconnects_total",
		"Connections closed with code 1008 as slow consumers (server.WithMaxOutbound).", nil, nil)
	descRateCloses = prometheus.NewDesc("wsloop_rate_limit_disconnects_total",
		"Connections closed with code 1008 for exceeding the inbound rate (server.WithInboundRate).", nil, nil)
	descConflated = prometheus.NewDesc("wsloop_fanout_conflated_total",
		"Fan-out messages (pubsub publications) replaced in a conflating subscriber's backlog by a newer message with the same key while that subscriber was behind (server.WithConflateAbove): updates that subscriber skipped in favour of the latest.", nil, nil)
	descHandler = prometheus.NewDesc("wsloop_handler_duration_seconds",
		"Time the handler's OnMessage calls took, in seconds.", nil, nil)
	descDraining = prometheus.NewDesc("wsloop_draining",
		"1 once the server's Shutdown has begun (new upgrades are refused), else 0.", nil, nil)
)

// Collector is a prometheus.Collector that exports a Source's statistics
// as the wsloop_* series. It holds no state of its own: every Collect takes
// one fresh Stats snapshot, so it is safe for concurrent scrapes.
type Collector struct {
	src Source
}

// NewCollector returns a Collector reading src. src must not be nil.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

// Describe sends the descriptors of every series Collect emits.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConnectionsOpen, descTCPConnections, descUpgrades,
		descMessagesIn, descBytesIn, descMessagesOut, descBytesOut, descCloses,
		descQueuedMessages, descQueuedBytes, descOutbound,
		descSlowDrops, descSlowCloses, descRateCloses, descConflated,
		descHandler, descDraining,
	} {
		ch <- d
	}
}

// Collect sends the current values, read from one Stats call. Labelled
// families carry every label value, zeros included, so that dashboards
// and alerts see each series from the first scrape on.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(descConnectionsOpen, s.ConnectionsOpen)
	gauge(descTCPConnections, s.TCPConnections)
	for r := range server.NumUpgradeResults {
		counter(descUpgrades, s.Upgrades[r], r.String())
	}
	counter(descMessagesIn, s.MessagesIn)
	counter(descBytesIn, s.BytesIn)
	counter(descMessagesOut, s.MessagesOut)
	counter(descBytesOut, s.BytesOut)
	for _, code := range closeCodes {
		counter(descCloses, s.Closes[code], code)
	}
	for _, code := range extraCloseCodes(s.Closes) {
		counter(descCloses, s.Closes[code], code)
	}
	gauge(descQueuedMessages, s.QueuedMessages)
	gauge(descQueuedBytes, s.QueuedBytes)
	gauge(descOutbound, s.OutboundBytes)
	counter(descSlowDrops, s.SlowConsumerDrops)
	counter(descSlowCloses, s.SlowConsumerCloses)
	counter(descRateCloses, s.RateLimitCloses)
	counter(descConflated, s.Conflated)
	ch <- handlerHistogram(s.HandlerSeconds)
	var draining int64
	if c.src.Draining() {
		draining = 1
	}
	gauge(descDraining, draining)
}

// extraCloseCodes returns, sorted, the keys of closes outside closeCodes,
// so that a code the engine may add later is exported rather than lost.
func extraCloseCodes(closes map[string]uint64) []string {
	var extra []string
	for code := range closes {
		if !slices.Contains(closeCodes, code) {
			extra = append(extra, code)
		}
	}
	slices.Sort(extra)
	return extra
}

// handlerHistogram converts the engine's cumulative histogram snapshot.
func handlerHistogram(h server.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			buckets[b] = h.Counts[i]
		}
	}
	return prometheus.MustNewConstHistogram(descHandler, h.Count, h.Sum, buckets)
}
