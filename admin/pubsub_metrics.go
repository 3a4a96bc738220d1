package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsloop/wsloop/pubsub"
)

// HubSource is what HubCollector reads on each scrape; *pubsub.Hub is one.
// Stats must be safe to call from any goroutine.
type HubSource interface {
	Stats() pubsub.Stats
}

var (
	descPublishes = prometheus.NewDesc("wsloop_pubsub_publishes_total",
		"Messages published through this process's hub (Go API, POST /publish/{topic}, the synthetic feed) and accepted by the broker, once each whatever the number of subscribers. Publishes made on other nodes of a shared broker are counted there.", nil, nil)
	descDeliveries = prometheus.NewDesc("wsloop_pubsub_deliveries_total",
		"Live publications handed to this process's subscribers for sending: one per subscriber of the topic at the time, including messages later replaced by conflation or dropped by the slow-consumer policy; messages replayed by a recovery are not counted.", nil, nil)
	descRecoveries = prometheus.NewDesc("wsloop_pubsub_recoveries_total",
		`Subscribes that asked to recover from a position ("since"), by result: ok (the missed messages were replayed) or failed (the gap is older than the topic's history or from another epoch; the client was told to take a fresh snapshot).`,
		[]string{"result"}, nil)
	descProtocolErrors = prometheus.NewDesc("wsloop_pubsub_protocol_errors_total",
		"Invalid client messages of the pubsub wire protocol, each answered with an error message; past the hub's limit per connection the connection is closed with 1008.", nil, nil)
	descTopics = prometheus.NewDesc("wsloop_pubsub_topics",
		"Topics with at least one subscriber on this process.", nil, nil)
	descSubscriptions = prometheus.NewDesc("wsloop_pubsub_subscriptions",
		"Subscriptions of this process's connections, all topics together.", nil, nil)
)

// HubCollector is a prometheus.Collector that exports a HubSource's
// statistics as the wsloop_pubsub_* series. Like Collector it holds no
// state: every Collect takes one fresh Stats snapshot, so it is safe for
// concurrent scrapes. Conflation and slow-consumer outcomes are the
// server's series (wsloop_fanout_conflated_total, wsloop_slow_consumer_*).
type HubCollector struct {
	hub HubSource
}

// NewHubCollector returns a HubCollector reading h. h must not be nil.
func NewHubCollector(h HubSource) *HubCollector { return &HubCollector{hub: h} }

// Describe sends the descriptors of every series Collect emits.
func (c *HubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descPublishes, descDeliveries, descRecoveries, descProtocolErrors,
		descTopics, descSubscriptions,
	} {
		ch <- d
	}
}

// Collect sends the current values, read from one Stats call; both
// recovery results are always present, zeros included.
func (c *HubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.hub.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(descPublishes, s.Publishes)
	counter(descDeliveries, s.Deliveries)
	counter(descRecoveries, s.RecoveriesOK, "ok")
	counter(descRecoveries, s.RecoveriesFailed, "failed")
	counter(descProtocolErrors, s.ProtocolErrors)
	gauge(descTopics, s.Topics)
	gauge(descSubscriptions, s.Subscriptions)
}
