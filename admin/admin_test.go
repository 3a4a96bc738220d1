package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/server"
)

// fakeSource serves fixed statistics.
type fakeSource struct {
	stats    server.Stats
	draining bool
}

func (f fakeSource) Stats() server.Stats { return f.stats }
func (f fakeSource) Draining() bool      { return f.draining }

func TestHandlerRoutes(t *testing.T) {
	adm := httptest.NewServer(admin.Handler(fakeSource{}))
	t.Cleanup(adm.Close)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string // expected substring; "" checks nothing
	}{
		{"GET", "/", 200, "/debug/pprof/"},
		{"GET", "/metrics", 200, "wsloop_connections_open 0"},
		{"POST", "/metrics", 405, ""},
		{"GET", "/debug/pprof/", 200, "heap"},
		{"GET", "/debug/pprof/heap?debug=1", 200, "heap profile:"},
		{"GET", "/debug/pprof/goroutine?debug=1", 200, "goroutine profile:"},
		{"GET", "/debug/pprof/cmdline", 200, ""},
		{"GET", "/debug/pprof/symbol", 200, "num_symbols"},
		{"GET", "/nope", 404, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, _, body := request(t, tc.method, adm.URL+tc.path, nil)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body does not contain %q:\n%.400s", tc.body, body)
			}
		})
	}
}

// TestCollector checks the collector against fixed statistics on a
// pedantic registry, which also checks Collect against Describe.
func TestCollector(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	for _, tc := range []struct {
		name   string
		src    fakeSource
		series map[string]float64 // "family{label=value}" or "family" -> value
	}{
		{
			name: "zero",
			src:  fakeSource{},
			series: map[string]float64{
				"wsloop_connections_open":             0,
				"wsloop_upgrades_total{accepted}":     0,
				"wsloop_upgrades_total{proxy}":        0,
				"wsloop_closes_total{1000}":           0,
				"wsloop_closes_total{other}":          0,
				"wsloop_handler_duration_seconds":     0,
				"wsloop_draining":                     0,
				"wsloop_rate_limit_disconnects_total": 0,
			},
		},
		{
			name: "busy and draining",
			src: fakeSource{draining: true, stats: server.Stats{
				ConnectionsOpen: 3, TCPConnections: 5,
				MessagesIn: 7, BytesIn: 70, MessagesOut: 6, BytesOut: 80,
				Closes:         map[string]uint64{"1001": 4, "other": 2, "5000": 1},
				QueuedMessages: 9, QueuedBytes: 900, OutboundBytes: 1234,
				SlowConsumerDrops: 11, SlowConsumerCloses: 12, RateLimitCloses: 13, Conflated: 14,
				HandlerSeconds: server.Histogram{Bounds: bounds, Counts: []uint64{1, 3, 4}, Count: 5, Sum: 2.5},
			}},
			series: map[string]float64{
				"wsloop_connections_open":                3,
				"wsloop_tcp_connections":                 5,
				"wsloop_messages_received_total":         7,
				"wsloop_received_bytes_total":            70,
				"wsloop_messages_sent_total":             6,
				"wsloop_sent_bytes_total":                80,
				"wsloop_closes_total{1000}":              0,
				"wsloop_closes_total{1001}":              4,
				"wsloop_closes_total{other}":             2,
				"wsloop_closes_total{5000}":              1,
				"wsloop_worker_queue_messages":           9,
				"wsloop_worker_queue_bytes":              900,
				"wsloop_outbound_queued_bytes":           1234,
				"wsloop_slow_consumer_drops_total":       11,
				"wsloop_slow_consumer_disconnects_total": 12,
				"wsloop_rate_limit_disconnects_total":    13,
				"wsloop_fanout_conflated_total":          14,
				"wsloop_handler_duration_seconds":        5,
				"wsloop_draining":                        1,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(admin.NewCollector(tc.src))
			families, err := reg.Gather()
			if err != nil {
				t.Fatalf("gather: %v", err)
			}
			got := flatten(families)
			for key, want := range tc.series {
				if v, ok := got[key]; !ok {
					t.Errorf("%s: missing", key)
				} else if v != want {
					t.Errorf("%s = %v, want %v", key, v, want)
				}
			}
			if n := countPrefix(got, "wsloop_upgrades_total{"); n != int(server.NumUpgradeResults) {
				t.Errorf("%d upgrade result series, want %d", n, server.NumUpgradeResults)
			}
		})
	}
}

// TestCollectorHistogram checks that the handler histogram keeps the
// engine's bounds and cumulative counts.
func TestCollectorHistogram(t *testing.T) {
	src := fakeSource{stats: server.Stats{HandlerSeconds: server.Histogram{
		Bounds: []float64{0.001, 0.01, 0.1}, Counts: []uint64{1, 3, 4}, Count: 5, Sum: 2.5,
	}}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(admin.NewCollector(src))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var h *dto.Histogram
	for _, mf := range families {
		if mf.GetName() == "wsloop_handler_duration_seconds" {
			h = mf.GetMetric()[0].GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no wsloop_handler_duration_seconds")
	}
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 2.5 {
		t.Errorf("count %d sum %v, want 5 and 2.5", h.GetSampleCount(), h.GetSampleSum())
	}
	want := []struct {
		le    float64
		count uint64
	}{{0.001, 1}, {0.01, 3}, {0.1, 4}}
	if len(h.GetBucket()) != len(want) {
		t.Fatalf("%d buckets, want %d", len(h.GetBucket()), len(want))
	}
	for i, b := range h.GetBucket() {
		if b.GetUpperBound() != want[i].le || b.GetCumulativeCount() != want[i].count {
			t.Errorf("bucket %d: le=%v count %d, want le=%v count %d",
				i, b.GetUpperBound(), b.GetCumulativeCount(), want[i].le, want[i].count)
		}
	}
}

// flatten keys each series as "family" or "family{labelvalue}" (the
// collector's families have at most one label).
func flatten(families []*dto.MetricFamily) map[string]float64 {
	out := make(map[string]float64)
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "{" + lp.GetValue() + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func countPrefix(m map[string]float64, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func TestServeStopsOnContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- admin.Serve(ctx, ln, fakeSource{}) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(admin.ShutdownGrace + 5*time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}

func TestListenAndServeBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = admin.ListenAndServe(ctx, ln.Addr().String(), fakeSource{})
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("ListenAndServe on a taken port: %v, want a *net.OpError", err)
	}
}
