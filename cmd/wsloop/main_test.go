package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/server"
)

// running is a wsloop started by run in this process.
type running struct {
	srv   *server.Server
	admin string // host:port, "" without -admin
	stop  chan os.Signal
	done  chan error
}

// start runs wsloop with args on free loopback ports and stops it (as
// SIGTERM would) when the test ends.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	r := &running{stop: make(chan os.Signal, 1), done: make(chan error, 1)}
	up := make(chan struct{})
	args = append([]string{"-addr", "127.0.0.1:0", "-log-level", "warn"}, args...)
	go func() {
		r.done <- run(args, env(nil), io.Discard, r.stop, func(srv *server.Server, adm net.Addr) {
			r.srv = srv
			if adm != nil {
				r.admin = adm.String()
			}
			close(up)
		})
	}()
	select {
	case <-up:
	case err := <-r.done:
		t.Fatalf("wsloop %q: %v", args, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("wsloop %q did not start", args)
	}
	t.Cleanup(func() { r.shutdown(t) })
	return r
}

// shutdown signals r and waits for run to return nil.
func (r *running) shutdown(t *testing.T) {
	t.Helper()
	select {
	case r.stop <- syscall.SIGTERM:
	default:
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		r.done <- nil // a second shutdown finds it stopped
	case <-time.After(20 * time.Second):
		t.Error("run did not return within 20 s of SIGTERM")
	}
}

// dial opens a WebSocket to r offering protocols.
func (r *running) dial(t *testing.T, protocols ...string) (net.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, hs, err := ws.Dialer{Protocols: protocols}.Dial(ctx, "ws://"+r.srv.Addr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, hs.Protocol
}

// wire is a server message of the pubsub protocol.
type wire struct {
	Op    string          `json:"op"`
	Topic string          `json:"topic"`
	Epoch string          `json:"epoch"`
	Seq   uint64          `json:"seq"`
	Key   string          `json:"key"`
	Data  json.RawMessage `json:"data"`
	// Recovery is "ok" or "failed" in the answer to a subscribe with
	// "since".
	Recovery string `json:"recovery"`
}

func send(t *testing.T, conn net.Conn, req string) {
	t.Helper()
	if err := wsutil.WriteClientText(conn, []byte(req)); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, conn net.Conn) wire {
	t.Helper()
	var m wire
	pubsubtest.ReadJSON(t, conn, conn, 0, &m)
	return m
}

// TestRunFeed runs -mode feed: the page on the WebSocket port, the feed on
// md.all in sequence, and the admin publish endpoint reaching a
// subscriber.
func TestRunFeed(t *testing.T) {
	r := start(t, "-mode", "feed", "-admin", "127.0.0.1:0", "-feed-symbols", "5", "-feed-rate", "100",
		"-subprotocols", "chat")

	resp, err := http.Get("http://" + r.srv.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("/app.js")) {
		t.Fatalf("GET /: %d %.200s", resp.StatusCode, page)
	}

	conn, proto := r.dial(t, "wsloop.json")
	if proto != "wsloop.json" {
		t.Fatalf("negotiated %q, want wsloop.json", proto)
	}
	send(t, conn, `{"op":"subscribe","topic":"md.all","id":1}`)
	first := receive(t, conn)
	if first.Op != "subscribed" {
		t.Fatalf("answer %+v", first)
	}
	last, syms := first.Seq, make(map[string]bool)
	for range 30 {
		m := receive(t, conn)
		var u struct {
			Sym string  `json:"sym"`
			Px  float64 `json:"px"`
		}
		if m.Op != "msg" || m.Epoch != first.Epoch || m.Seq != last+1 || json.Unmarshal(m.Data, &u) != nil ||
			u.Sym != m.Key || u.Px <= 0 {
			t.Fatalf("after seq %d: %+v data %s", last, m, m.Data)
		}
		last = m.Seq
		syms[u.Sym] = true
	}
	if len(syms) != 5 {
		t.Errorf("30 updates cover %d symbols, want 5", len(syms))
	}

	news, _ := r.dial(t, "chat", "wsloop.json") // -subprotocols are kept
	send(t, news, `{"op":"subscribe","topic":"news"}`)
	if m := receive(t, news); m.Op != "subscribed" {
		t.Fatalf("answer %+v", m)
	}
	resp, err = http.Post("http://"+r.admin+"/publish/news?key=k", "application/json", strings.NewReader(`{"hello":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /publish/news: %d %s", resp.StatusCode, body)
	}
	if m := receive(t, news); m.Op != "msg" || m.Key != "k" || string(m.Data) != `{"hello":1}` || m.Seq != 1 {
		t.Fatalf("published %s; subscriber got %+v", body, m)
	}

	// The hub's series are on /metrics: two subscriptions on two topics,
	// and at least the 30 feed updates read above plus the news message
	// published and delivered.
	families := scrapeMetrics(t, r.admin)
	for name, want := range map[string]float64{"wsloop_pubsub_subscriptions": 2, "wsloop_pubsub_topics": 2} {
		if got := metricValue(t, families, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"wsloop_pubsub_publishes_total", "wsloop_pubsub_deliveries_total"} {
		if got := metricValue(t, families, name); got < 31 {
			t.Errorf("%s = %v, want at least 31", name, got)
		}
	}
}

// TestRunEcho checks that the default mode still echoes, offers no
// publish endpoint, and answers plain requests with 426.
func TestRunEcho(t *testing.T) {
	r := start(t, "-admin", "127.0.0.1:0")
	conn, proto := r.dial(t, "wsloop.json")
	if proto != "" {
		t.Errorf("echo mode negotiated %q", proto)
	}
	send(t, conn, "ping")
	if b, err := wsutil.ReadServerText(conn); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
	for url, want := range map[string]int{
		"http://" + r.srv.Addr() + "/":     426,
		"http://" + r.admin + "/publish/x": 404,
	} {
		resp, err := http.Post(url, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s: %d, want %d", url, resp.StatusCode, want)
		}
	}
	families := scrapeMetrics(t, r.admin)
	if families["wsloop_pubsub_publishes_total"] != nil {
		t.Errorf("echo mode exports wsloop_pubsub_publishes_total")
	}
	if got := metricValue(t, families, "wsloop_fanout_conflated_total"); got != 0 {
		t.Errorf("echo mode: wsloop_fanout_conflated_total = %v", got)
	}
}

// TestRunNATS checks that -nats with no NATS server to reach fails at
// start with an error naming the flag.
func TestRunNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := ln.Addr().String()
	ln.Close()
	err = run([]string{"-mode", "pubsub", "-addr", "127.0.0.1:0", "-nats", "nats://" + nowhere},
		env(nil), io.Discard, make(chan os.Signal), nil)
	if err == nil || !strings.Contains(err.Error(), "-nats") {
		t.Fatalf("run with -nats: %v", err)
	}
}
