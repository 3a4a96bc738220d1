package admin_test

// End-to-end test of the metrics: a real wsloop server driven over
// loopback by a real WebSocket client (gobwas/ws), scraped over HTTP and
// parsed with the Prometheus text parser.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/server"
)

const ioTimeout = 5 * time.Second

// startServer starts an echo server on a loopback port; Shutdown runs at
// cleanup, after the cleanups registered later (client sockets).
func startServer(t *testing.T) *server.Server {
	t.Helper()
	srv := server.New(server.Echo())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// wsClient is one client connection. rw reads through the handshake's
// buffered reader, if the dial left one.
type wsClient struct {
	conn net.Conn
	rw   io.ReadWriter
}

func dialWS(t *testing.T, addr string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	return &wsClient{conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

// echo sends p as one message of type op and checks that the same comes back.
func (c *wsClient) echo(t *testing.T, op ws.OpCode, p []byte) {
	t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := wsutil.WriteClientMessage(c.conn, op, p); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	got, gotOp, err := wsutil.ReadServerData(c.rw)
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(p), err)
	}
	if gotOp != op || !bytes.Equal(got, p) {
		t.Fatalf("echo: got %v of %d bytes, want %v of %d", gotOp, len(got), op, len(p))
	}
}

// closeNormal runs the closing handshake with code 1000 and drops the socket.
func (c *wsClient) closeNormal(t *testing.T) {
	t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(ioTimeout))
	body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "")
	if err := wsutil.WriteClientMessage(c.conn, ws.OpClose, body); err != nil {
		t.Fatalf("write close: %v", err)
	}
	f, err := ws.ReadFrame(c.rw)
	if err != nil {
		t.Fatalf("read close reply: %v", err)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusNormalClosure {
		t.Fatalf("close reply: got %v code %d, want close 1000", f.Header.OpCode, code)
	}
	_ = c.conn.Close()
}

// serverFrameSize is the wire size of an unmasked, uncompressed server
// frame carrying n payload bytes (RFC 6455 §5.2).
func serverFrameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	default:
		return 10 + n
	}
}

// rawStatus sends a raw HTTP request head and returns the response status.
func rawStatus(t *testing.T, addr, head string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// settle polls stats until done holds or the deadline passes. It does
// not fail: the scrape's assertions report what is off.
func settle[S any](t *testing.T, stats func() S, done func(S) bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		s := stats()
		if done(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("stats did not settle within %v: %+v", ioTimeout, s)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// upgradeResult returns the UpgradeResult whose label is name.
func upgradeResult(t *testing.T, name string) server.UpgradeResult {
	t.Helper()
	for r := range server.NumUpgradeResults {
		if r.String() == name {
			return r
		}
	}
	t.Fatalf("no upgrade result %q", name)
	return 0
}

// scrape fetches url and parses it as the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// sample finds the series of family name whose labels include want (pairs
// of name, value) and returns its value; ok is false if there is none.
func sample(families map[string]*dto.MetricFamily, name string, want ...string) (v float64, ok bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsEndToEnd(t *testing.T) {
	srv := startServer(t)
	addr := srv.Addr()
	adm := httptest.NewServer(admin.Handler(srv))
	t.Cleanup(adm.Close)

	const conns, closed = 4, 2
	sizes := []int{0, 1, 125, 126, 4096, 65535, 65536, 100000}
	clients := make([]*wsClient, conns)
	for i := range clients {
		clients[i] = dialWS(t, addr)
	}
	var payloadBytes, frameBytes int
	for i, n := range sizes {
		op := ws.OpBinary
		if i%2 == 0 {
			op = ws.OpText
		}
		clients[i%conns].echo(t, op, bytes.Repeat([]byte{'a' + byte(i)}, n))
		payloadBytes += n
		frameBytes += serverFrameSize(n)
	}
	for _, c := range clients[:closed] {
		c.closeNormal(t)
	}
	plain := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	if got := rawStatus(t, addr, plain); got != http.StatusUpgradeRequired {
		t.Errorf("plain GET: status %d, want 426", got)
	}
	noKey := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if got := rawStatus(t, addr, noKey); got != http.StatusBadRequest {
		t.Errorf("upgrade without Sec-WebSocket-Key: status %d, want 400", got)
	}

	open, messages := int64(conns-closed), uint64(len(sizes))
	accepted, badRequest := upgradeResult(t, "accepted"), upgradeResult(t, "bad_request")
	settle(t, srv.Stats, func(s server.Stats) bool {
		return s.ConnectionsOpen == open && s.TCPConnections == open &&
			s.Upgrades[accepted] == conns && s.Upgrades[badRequest] == 1 &&
			s.MessagesIn == messages && s.MessagesOut == messages &&
			s.Closes["1000"] == closed && sampled(s.HandlerSeconds.Count, messages) &&
			s.QueuedMessages == 0 && s.QueuedBytes == 0 // a worker counts a task done after its reply went out
	})

	families := scrape(t, adm.URL+"/metrics")
	for name := range families {
		if !strings.HasPrefix(name, admin.Prefix) {
			t.Errorf("family %q does not start with %q", name, admin.Prefix)
		}
		if strings.HasPrefix(name, "wsloop_pubsub_") {
			t.Errorf("family %q without admin.WithHub", name)
		}
	}
	for name, typ := range map[string]dto.MetricType{
		"wsloop_connections_open":                dto.MetricType_GAUGE,
		"wsloop_tcp_connections":                 dto.MetricType_GAUGE,
		"wsloop_upgrades_total":                  dto.MetricType_COUNTER,
		"wsloop_messages_received_total":         dto.MetricType_COUNTER,
		"wsloop_messages_sent_total":             dto.MetricType_COUNTER,
		"wsloop_received_bytes_total":            dto.MetricType_COUNTER,
		"wsloop_sent_bytes_total":                dto.MetricType_COUNTER,
		"wsloop_closes_total":                    dto.MetricType_COUNTER,
		"wsloop_worker_queue_messages":           dto.MetricType_GAUGE,
		"wsloop_worker_queue_bytes":              dto.MetricType_GAUGE,
		"wsloop_outbound_queued_bytes":           dto.MetricType_GAUGE,
		"wsloop_slow_consumer_drops_total":       dto.MetricType_COUNTER,
		"wsloop_slow_consumer_disconnects_total": dto.MetricType_COUNTER,
		"wsloop_rate_limit_disconnects_total":    dto.MetricType_COUNTER,
		"wsloop_fanout_conflated_total":          dto.MetricType_COUNTER,
		"wsloop_handler_duration_seconds":        dto.MetricType_HISTOGRAM,
		"wsloop_draining":                        dto.MetricType_GAUGE,
		"wsloop_go_goroutines":                   dto.MetricType_GAUGE,
		"wsloop_process_cpu_seconds_total":       dto.MetricType_COUNTER,
	} {
		mf := families[name]
		switch {
		case mf == nil:
			t.Errorf("family %s missing", name)
		case mf.GetType() != typ:
			t.Errorf("family %s: type %v, want %v", name, mf.GetType(), typ)
		case mf.GetHelp() == "":
			t.Errorf("family %s has no help", name)
		}
	}

	type want struct {
		name   string
		labels []string
		value  float64
	}
	wants := []want{
		{"wsloop_connections_open", nil, float64(open)},
		{"wsloop_tcp_connections", nil, float64(open)},
		{"wsloop_messages_received_total", nil, float64(messages)},
		{"wsloop_messages_sent_total", nil, float64(messages)},
		{"wsloop_received_bytes_total", nil, float64(payloadBytes)},
		{"wsloop_sent_bytes_total", nil, float64(frameBytes)},
		{"wsloop_closes_total", []string{"code", "1000"}, closed},
		{"wsloop_closes_total", []string{"code", "other"}, 0},
		{"wsloop_worker_queue_messages", nil, 0},
		{"wsloop_worker_queue_bytes", nil, 0},
		{"wsloop_slow_consumer_drops_total", nil, 0},
		{"wsloop_fanout_conflated_total", nil, 0},
		{"wsloop_draining", nil, 0},
	}
	for r := range server.NumUpgradeResults {
		var n float64
		switch r {
		case accepted:
			n = conns
		case badRequest:
			n = 1
		}
		wants = append(wants, want{"wsloop_upgrades_total", []string{"result", r.String()}, n})
	}
	for code := 1001; code <= 1015; code++ {
		wants = append(wants, want{"wsloop_closes_total", []string{"code", fmt.Sprint(code)}, 0})
	}
	for _, w := range wants {
		got, ok := sample(families, w.name, w.labels...)
		switch {
		case !ok:
			t.Errorf("%s%v: no such series", w.name, w.labels)
		case got != w.value:
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}

	if mf := families["wsloop_handler_duration_seconds"]; mf != nil && len(mf.GetMetric()) == 1 {
		h := mf.GetMetric()[0].GetHistogram()
		if !sampled(h.GetSampleCount(), messages) {
			t.Errorf("handler histogram count %d, want a sampled count of %d messages", h.GetSampleCount(), messages)
		}
		if len(h.GetBucket()) == 0 {
			t.Errorf("handler histogram has no buckets")
		}
		var prev uint64
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("handler histogram bucket le=%v: count %d not cumulative within %d",
					b.GetUpperBound(), b.GetCumulativeCount(), h.GetSampleCount())
			}
			prev = b.GetCumulativeCount()
		}
	}
}

// sampled reports whether a handler histogram's count is what timing one
// message in 16 per event loop gives for n messages: a multiple of 16, at
// least n and less than n plus 16 per loop.
func sampled(count, n uint64) bool {
	loops := uint64(runtime.GOMAXPROCS(0))
	return count%16 == 0 && count >= n && count < n+16*loops
}
