package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/admin"
	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// wireMsg is a server message of the pubsub wire protocol.
type wireMsg struct {
	Op       string          `json:"op"`
	Topic    string          `json:"topic"`
	Epoch    string          `json:"epoch"`
	Seq      uint64          `json:"seq"`
	Key      string          `json:"key"`
	Recovery string          `json:"recovery"`
	Code     string          `json:"code"`
	Data     json.RawMessage `json:"data"`
}

// subscribe connects a wsloop.json client to srv and subscribes it to
// topic.
func subscribe(t *testing.T, srv *server.Server, topic string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dialer{Protocols: []string{pubsub.SubprotocolJSON}}.Dial(ctx, "ws://"+srv.Addr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req, _ := json.Marshal(map[string]any{"op": "subscribe", "topic": topic})
	if err := wsutil.WriteClientText(conn, req); err != nil {
		t.Fatal(err)
	}
	if m := read(t, conn); m.Op != "subscribed" || m.Topic != topic {
		t.Fatalf("subscribe answer %+v", m)
	}
	return conn
}

func read(t *testing.T, conn net.Conn) wireMsg {
	t.Helper()
	var m wireMsg
	pubsubtest.ReadJSON(t, conn, conn, 5*time.Second, &m)
	return m
}

// request sends a request to the admin server and returns its status,
// headers and body.
func request(t *testing.T, method, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestPublish publishes through POST /publish/{topic} to a real hub and
// checks that a WebSocket subscriber receives each message at the
// position the endpoint answered.
func TestPublish(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	adm := httptest.NewServer(admin.Handler(srv, admin.WithPublisher(hub)))
	t.Cleanup(adm.Close)
	sub := subscribe(t, srv, "md.AAPL")
	slash := subscribe(t, srv, "news/eu")

	for i, tc := range []struct {
		path, key string
		body      []byte
		data      string // as embedded in the wire message
		conn      net.Conn
	}{
		{"/publish/md.AAPL?key=AAPL", "AAPL", []byte(`{"px":189.42}`), `{"px":189.42}`, sub},
		{"/publish/md.AAPL", "", []byte("plain text"), `"plain text"`, sub},
		{"/publish/news%2Feu?key=k%20one", "k one", []byte(`[1,2]`), `[1,2]`, slash},
		{"/publish/news/eu", "", []byte(`true`), `true`, slash},
	} {
		status, hdr, body := request(t, "POST", adm.URL+tc.path, tc.body)
		if status != 200 || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q %s", tc.path, status, hdr.Get("Content-Type"), body)
		}
		var got struct {
			Topic string `json:"topic"`
			Epoch string `json:"epoch"`
			Seq   uint64 `json:"seq"`
		}
		if err := json.Unmarshal(body, &got); err != nil || len(got.Epoch) != 16 || got.Seq == 0 {
			t.Fatalf("%s: answer %s (%v)", tc.path, body, err)
		}
		m := read(t, tc.conn)
		if m.Op != "msg" || m.Topic != got.Topic || m.Epoch != got.Epoch || m.Seq != got.Seq ||
			m.Key != tc.key || string(m.Data) != tc.data {
			t.Fatalf("case %d: answered %s; subscriber got %+v (data %s), want key %q data %s", i, body, m, m.Data, tc.key, tc.data)
		}
	}

	big := bytes.Repeat([]byte("x"), admin.MaxPublishBody)
	if status, _, body := request(t, "POST", adm.URL+"/publish/big", big); status != 200 {
		t.Errorf("body of exactly %d bytes: %d %s", len(big), status, body)
	}
	for _, tc := range []struct {
		method, path string
		body         []byte
		status       int
	}{
		{"POST", "/publish/a..b", nil, 400},
		{"POST", "/publish/a%20b", nil, 400},
		{"POST", "/publish/md.*", nil, 400},
		{"POST", "/publish/", nil, 400},
		{"POST", "/publish/" + strings.Repeat("t", pubsub.MaxTopicLen+1), nil, 400},
		{"POST", "/publish/md.AAPL?key=" + strings.Repeat("k", pubsub.MaxKeyLen+1), nil, 400},
		{"POST", "/publish/big", append(big, 'x'), 413},
		{"GET", "/publish/md.AAPL", nil, 405},
		{"PUT", "/publish/md.AAPL", []byte("x"), 405},
	} {
		status, hdr, body := request(t, tc.method, adm.URL+tc.path, tc.body)
		var e struct {
			Error string `json:"error"`
		}
		if status != tc.status || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("%s %.40s: %d %s, want %d with a JSON error", tc.method, tc.path, status, body, tc.status)
		}
		if tc.status == 405 && hdr.Get("Allow") != "POST" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, hdr.Get("Allow"))
		}
	}

	if _, _, body := request(t, "GET", adm.URL+"/", nil); !strings.Contains(string(body), "/publish/{topic}") {
		t.Errorf("index does not list /publish/{topic}:\n%s", body)
	}

	_ = hub.Close()
	if status, _, body := request(t, "POST", adm.URL+"/publish/md.AAPL", []byte("late")); status != 503 {
		t.Errorf("publish after the hub closed: %d %s, want 503", status, body)
	}
}

// TestPublishLimits checks that the hub's own data limit answers 413 and
// that without WithPublisher there is no publish endpoint.
func TestPublishLimits(t *testing.T) {
	hub := pubsub.New(pubsub.WithMaxData(8))
	srv := pubsubtest.Start(t, hub)
	adm := httptest.NewServer(admin.Handler(srv, admin.WithPublisher(hub)))
	t.Cleanup(adm.Close)
	if status, _, body := request(t, "POST", adm.URL+"/publish/t", []byte("12345678")); status != 200 {
		t.Errorf("8 bytes: %d %s", status, body)
	}
	if status, _, body := request(t, "POST", adm.URL+"/publish/t", []byte("123456789")); status != 413 {
		t.Errorf("9 bytes over a limit of 8: %d %s, want 413", status, body)
	}

	plain := httptest.NewServer(admin.Handler(srv))
	t.Cleanup(plain.Close)
	if status, _, _ := request(t, "POST", plain.URL+"/publish/t", []byte("x")); status != 404 {
		t.Errorf("publish without WithPublisher: %d, want 404", status)
	}
	if _, _, body := request(t, "GET", plain.URL+"/", nil); strings.Contains(string(body), "/publish/") {
		t.Errorf("index without WithPublisher lists /publish/:\n%s", body)
	}
}

// TestPublishKinds: ?kind=delete and ?kind=event publish those kinds;
// an unknown kind, and a delete without key, are refused with 400.
func TestPublishKinds(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	adm := httptest.NewServer(admin.Handler(srv, admin.WithPublisher(hub)))
	t.Cleanup(adm.Close)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/publish/md.AAPL?key=bid&kind=update", 200},
		{"/publish/md.AAPL?key=T1&kind=event", 200},
		{"/publish/md.AAPL?key=bid&kind=delete", 200},
		{"/publish/md.AAPL?kind=delete", 400},
		{"/publish/md.AAPL?key=bid&kind=erase", 400},
	} {
		if status, _, body := request(t, "POST", adm.URL+tc.path, []byte(`{"px":1}`)); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.path, status, body, tc.status)
		}
	}
	// The three accepted took sequence numbers 1 to 3.
	pos, err := hub.PublishKind("md.AAPL", pubsub.Update, "ask", []byte(`2`))
	if err != nil || pos.Seq != 4 {
		t.Errorf("after the kinds: %v %v, want seq 4", pos, err)
	}
}
