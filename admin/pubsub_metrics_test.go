package admin_test

// End-to-end test of the pubsub series: a real Hub behind a real wsloop
// server, real WebSocket subscribers speaking the wire protocol over
// loopback, publishes through POST /publish and the Go API, scraped over
// HTTP and parsed with the Prometheus text parser.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// dialPubSub connects with the wsloop.json subprotocol; netDial may be nil.
func dialPubSub(t *testing.T, addr string, netDial func(context.Context, string, string) (net.Conn, error)) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	d := ws.Dialer{Protocols: []string{pubsub.SubprotocolJSON}, NetDial: netDial}
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if hs.Protocol != pubsub.SubprotocolJSON {
		t.Fatalf("negotiated %q, want %s", hs.Protocol, pubsub.SubprotocolJSON)
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	return &wsClient{conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

// send writes one control message.
func (c *wsClient) send(t *testing.T, msg string) {
	t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := wsutil.WriteClientText(c.conn, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// receive reads one server message.
func (c *wsClient) receive(t *testing.T) wireMsg {
	t.Helper()
	var m wireMsg
	pubsubtest.ReadJSON(t, c.conn, c.rw, ioTimeout, &m)
	return m
}

// subscribe sends a subscribe for topic with the extra fields of more (a
// JSON object's members, or "") and returns the "subscribed" answer.
func (c *wsClient) subscribe(t *testing.T, topic, more string) wireMsg {
	t.Helper()
	req := fmt.Sprintf(`{"op":"subscribe","topic":%q`, topic)
	if more != "" {
		req += "," + more
	}
	c.send(t, req+"}")
	m := c.receive(t)
	if m.Op != "subscribed" || m.Topic != topic {
		t.Fatalf("subscribe %s: answer %+v", req, m)
	}
	return m
}

// expectMessages reads n publications of topic with consecutive sequence
// numbers after seq.
func (c *wsClient) expectMessages(t *testing.T, topic string, seq uint64, n int) {
	t.Helper()
	for i := range n {
		m := c.receive(t)
		if m.Op != "msg" || m.Topic != topic || m.Seq != seq+uint64(i)+1 {
			t.Fatalf("message %d of %s after seq %d: %+v", i+1, topic, seq, m)
		}
	}
}

// TestPubSubMetricsEndToEnd checks every wsloop_pubsub_* series, and
// wsloop_fanout_conflated_total, against what real subscribers did and
// received: publishes through both ways in, deliveries to several
// subscribers, a recovery that succeeds and one that fails, a protocol
// error, conflation for a subscriber that does not read, and the gauges
// going down when a subscriber leaves.
func TestPubSubMetricsEndToEnd(t *testing.T) {
	hub := pubsub.New(pubsub.WithHistory(100, time.Minute))
	srv := pubsubtest.Start(t, hub, server.WithConflateAbove(16<<10))
	addr := srv.Addr()
	adm := httptest.NewServer(admin.Handler(srv, admin.WithHub(hub), admin.WithPublisher(hub)))
	t.Cleanup(adm.Close)

	// Before anything: every series present, zeros.
	families := scrape(t, adm.URL+"/metrics")
	for _, name := range []string{
		"wsloop_pubsub_publishes_total", "wsloop_pubsub_deliveries_total", "wsloop_pubsub_recoveries_total",
		"wsloop_pubsub_protocol_errors_total", "wsloop_pubsub_topics", "wsloop_pubsub_subscriptions",
		"wsloop_fanout_conflated_total",
	} {
		if mf := families[name]; mf == nil || mf.GetHelp() == "" {
			t.Errorf("family %s missing or without help", name)
		}
	}
	for _, r := range []string{"ok", "failed"} {
		if v, ok := sample(families, "wsloop_pubsub_recoveries_total", "result", r); !ok || v != 0 {
			t.Errorf("wsloop_pubsub_recoveries_total{result=%q} = %v (present %v), want 0", r, v, ok)
		}
	}

	// a subscribes to prices and news, b to prices.
	a, b := dialPubSub(t, addr, nil), dialPubSub(t, addr, nil)
	start := a.subscribe(t, "prices", "")
	newsStart := a.subscribe(t, "news", "")
	b.subscribe(t, "prices", "")

	// 5 publishes on prices through the admin endpoint, 2 on news through
	// the Go API: 5×2 + 2×1 deliveries.
	const nPrices, nNews = 5, 2
	for i := range nPrices {
		resp, err := http.Post(adm.URL+"/publish/prices?key=AAPL", "application/json", strings.NewReader(fmt.Sprintf(`{"px":%d}`, 100+i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /publish/prices: status %d", resp.StatusCode)
		}
	}
	for range nNews {
		if _, err := hub.Publish("news", "", []byte(`"hello"`)); err != nil {
			t.Fatal(err)
		}
	}
	// a's two topics are two streams: read them in arrival order.
	var gotPrices, gotNews int
	for range nPrices + nNews {
		m := a.receive(t)
		switch {
		case m.Op == "msg" && m.Topic == "prices" && m.Seq == start.Seq+uint64(gotPrices)+1:
			gotPrices++
		case m.Op == "msg" && m.Topic == "news" && m.Seq == newsStart.Seq+uint64(gotNews)+1:
			gotNews++
		default:
			t.Fatalf("a: unexpected %+v after %d prices and %d news", m, gotPrices, gotNews)
		}
	}
	b.expectMessages(t, "prices", start.Seq, nPrices)

	// c recovers from prices' second message (3 replayed, not counted as
	// deliveries); d asks from another epoch (recovery failed), then sends
	// an unknown op (a protocol error).
	c := dialPubSub(t, addr, nil)
	if m := c.subscribe(t, "prices", fmt.Sprintf(`"since":{"epoch":%q,"seq":%d}`, start.Epoch, start.Seq+2)); m.Recovery != "ok" {
		t.Fatalf("c: recovery %q, want ok", m.Recovery)
	}
	c.expectMessages(t, "prices", start.Seq+2, nPrices-2)
	var epoch uint64
	if _, err := fmt.Sscanf(start.Epoch, "%016x", &epoch); err != nil {
		t.Fatalf("epoch %q: %v", start.Epoch, err)
	}
	d := dialPubSub(t, addr, nil)
	if m := d.subscribe(t, "prices", fmt.Sprintf(`"since":{"epoch":"%016x","seq":1}`, epoch^1)); m.Recovery != "failed" {
		t.Fatalf("d: recovery %q, want failed", m.Recovery)
	}
	d.send(t, `{"op":"nope"}`)
	if m := d.receive(t); m.Op != "error" || m.Code != "bad_request" {
		t.Fatalf("d: answer to an unknown op: %+v", m)
	}

	// e subscribes to md with conflation and never reads: keyed updates
	// published until the server has conflated some.
	e := dialPubSub(t, addr, pubsubtest.SmallReceiveBuffer)
	e.subscribe(t, "md", `"conflate":true`)
	pad := strings.Repeat("x", 400)
	var nMD int
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().Conflated == 0; nMD++ {
		if nMD == 50000 || time.Now().After(deadline) {
			t.Fatalf("no conflation after %d updates to a subscriber that does not read", nMD)
		}
		data := fmt.Sprintf(`{"v":%d,"pad":%q}`, nMD, pad)
		if _, err := hub.Publish("md", fmt.Sprintf("S%d", nMD%10), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}

	publishes := uint64(nPrices + nNews + nMD)
	deliveries := uint64(2*nPrices + nNews + nMD)
	settle(t, hub.Stats, func(s pubsub.Stats) bool { return s.Deliveries == deliveries })
	// The event loops conflate as they take the updates, possibly after
	// Publish returned: the scrape lies between two reads of the server.
	conflatedBefore := srv.Stats().Conflated
	families = scrape(t, adm.URL+"/metrics")
	conflatedAfter := srv.Stats().Conflated
	type want struct {
		name   string
		labels []string
		value  float64
	}
	check := func(wants []want) {
		t.Helper()
		for _, w := range wants {
			got, ok := sample(families, w.name, w.labels...)
			switch {
			case !ok:
				t.Errorf("%s%v: no such series", w.name, w.labels)
			case got != w.value:
				t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
	}
	check([]want{
		{"wsloop_pubsub_publishes_total", nil, float64(publishes)},
		{"wsloop_pubsub_deliveries_total", nil, float64(deliveries)},
		{"wsloop_pubsub_recoveries_total", []string{"result", "ok"}, 1},
		{"wsloop_pubsub_recoveries_total", []string{"result", "failed"}, 1},
		{"wsloop_pubsub_protocol_errors_total", nil, 1},
		{"wsloop_pubsub_topics", nil, 3},        // prices, news, md
		{"wsloop_pubsub_subscriptions", nil, 6}, // a 2, b, c, d, e
	})
	if got, _ := sample(families, "wsloop_fanout_conflated_total"); got < float64(conflatedBefore) || got > float64(conflatedAfter) || got == 0 {
		t.Errorf("wsloop_fanout_conflated_total = %v, want within [%d, %d] and not 0", got, conflatedBefore, conflatedAfter)
	}
	t.Logf("%d updates to md until the first conflation; %d conflated at the scrape", nMD, conflatedBefore)

	// a leaves: news has no subscriber left, prices keeps three.
	a.closeNormal(t)
	settle(t, hub.Stats, func(s pubsub.Stats) bool { return s.Subscriptions == 4 && s.Topics == 2 })
	families = scrape(t, adm.URL+"/metrics")
	check([]want{
		{"wsloop_pubsub_topics", nil, 2},
		{"wsloop_pubsub_subscriptions", nil, 4},
		{"wsloop_pubsub_publishes_total", nil, float64(publishes)},
	})

	// Collect matches Describe (the pedantic registry checks).
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(admin.NewHubCollector(hub))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
}
