package peers_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fanoutPeers are the peers with a pubsub mode (bench/peers/internal/topics).
var fanoutPeers = []string{"gws", "nbio", "gorilla"}

// TestPeersPubSub checks the pubsub contract of every peer that has one:
// the wire protocol's subscribe and unsubscribe requests are answered,
// POST /publish/{topic} on -admin reaches exactly the topic's subscribers
// with the body as one text message, bad requests get an error answer, and
// the endpoint refuses other methods and bad topics.
func TestPeersPubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	bin := buildPeers(t)
	for _, name := range fanoutPeers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			admin := freeAddr(t)
			s := start(t, filepath.Join(bin, name), "-mode", "pubsub", "-admin", admin)
			a, b := dial(t, s.addr, "/"), dial(t, s.addr, "/")
			request(t, a, `{"op":"subscribe","topic":"t0"}`, `{"op":"subscribed","topic":"t0"}`)
			request(t, a, `{"op":"subscribe","topic":"t1"}`, `{"op":"subscribed","topic":"t1"}`)
			request(t, b, `{"op":"subscribe","topic":"t1"}`, `{"op":"subscribed","topic":"t1"}`)

			if n := publish(t, admin, "t0", `{"x":1}`); n != 1 {
				t.Errorf("publish to t0 reached %d subscribers, want 1", n)
			}
			if n := publish(t, admin, "t1", `{"x":2}`); n != 2 {
				t.Errorf("publish to t1 reached %d subscribers, want 2", n)
			}
			expect(t, a, `{"x":1}`)
			expect(t, a, `{"x":2}`)
			expect(t, b, `{"x":2}`) // not {"x":1}: b is not on t0

			request(t, a, `{"op":"unsubscribe","topic":"t1"}`, `{"op":"unsubscribed","topic":"t1"}`)
			publish(t, admin, "t1", `{"x":3}`)
			publish(t, admin, "t0", `{"x":4}`)
			expect(t, a, `{"x":4}`) // {"x":3} skipped: unsubscribed
			expect(t, b, `{"x":3}`)

			_ = a.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscrib","topic":"t0"}`))
			if got := read(t, a); !strings.HasPrefix(got, `{"op":"error"`) {
				t.Errorf("bad request answered %q, want an error answer", got)
			}
			_ = b.Close()
			if n := publish(t, admin, "t1", `{"x":5}`); n > 1 {
				t.Errorf("publish after close reached %d", n)
			}

			for _, c := range []struct {
				method, path string
				want         int
			}{{"GET", "/publish/t0", http.StatusMethodNotAllowed}, {"POST", "/publish/a*b", http.StatusBadRequest}} {
				req, _ := http.NewRequest(c.method, "http://"+admin+c.path, strings.NewReader("x"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
				}
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt != websocket.TextMessage {
		t.Fatalf("message type %d, want text", mt)
	}
	return string(p)
}

func expect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	if got := read(t, c); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func request(t *testing.T, c *websocket.Conn, req, answer string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		t.Fatal(err)
	}
	expect(t, c, answer)
}

// publish posts body to topic and returns the subscriber count answered.
func publish(t *testing.T, admin, topic, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+admin+"/publish/"+topic, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ans struct {
		Topic       string `json:"topic"`
		Subscribers int    `json:"subscribers"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &ans) != nil || ans.Topic != topic {
		t.Fatalf("publish %s: %s %s", topic, resp.Status, b)
	}
	return ans.Subscribers
}
