package codec

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// acceptFor is the reference Sec-WebSocket-Accept computation of
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2.
func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want bool
	}{
		{"chrome", chromeHead, true},
		{"firefox", firefoxHead, true},
		{"curl", curlHead, true},
		{"python", pythonHead, true},
		{"lower case", "GET / HTTP/1.1\r\nupgrade: WebSocket\r\n\r\n", true},
		{"token list", "GET / HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n", true},
		{"no spaces", "GET / HTTP/1.1\r\nUpgrade:websocket\t\r\n\r\n", true},
		{"bare LF", "GET / HTTP/1.1\nUpgrade: websocket\n\n", true},
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"h2c", "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", false},
		{"websockets", "GET / HTTP/1.1\r\nUpgrade: websockets\r\n\r\n", false},
		{"other header", "GET / HTTP/1.1\r\nX-Upgrade: websocket\r\n\r\n", false},
		{"value only in another header", "GET / HTTP/1.1\r\nConnection: websocket\r\n\r\n", false},
		{"request line", "GET /Upgrade:websocket HTTP/1.1\r\n\r\n", false},
		{"after blank line", "GET / HTTP/1.1\r\n\r\nUpgrade: websocket\r\n", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsUpgrade([]byte(tc.head)); got != tc.want {
				t.Fatalf("IsUpgrade = %v, want %v", got, tc.want)
			}
		})
	}
	head := []byte(chromeHead)
	if a := testing.AllocsPerRun(100, func() { IsUpgrade(head) }); a != 0 {
		t.Fatalf("IsUpgrade allocs = %v", a)
	}
}

// parseResponse parses an HTTP response with net/http as the reference.
func parseResponse(t *testing.T, resp []byte) *http.Response {
	t.Helper()
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatalf("unparsable response %q: %v", resp, err)
	}
	return r
}

func TestUpgrade(t *testing.T) {
	reject := func(code int) func([]byte) error {
		return func(host []byte) error {
			if string(host) == "evil" {
				return ws.RejectConnectionError(ws.RejectionStatus(code), ws.RejectionReason("go away"))
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name       string
		u          *ws.Upgrader
		head       string
		wantStatus int
		wantHeader map[string]string
		wantErr    bool
	}{
		{name: "curl", head: curlHead, wantStatus: 101, wantHeader: map[string]string{"Sec-WebSocket-Accept": acceptFor("SGVsbG8sIHdvcmxkISEhIQ==")}},
		{name: "chrome rfc key", head: chromeHead, wantStatus: 101, wantHeader: map[string]string{"Sec-WebSocket-Accept": rfcAccept, "Upgrade": "websocket", "Connection": "Upgrade"}},
		{name: "nil upgrader", u: nil, head: pythonHead, wantStatus: 101},
		{name: "subprotocol", u: &ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "superchat" }}, head: firefoxHead,
			wantStatus: 101, wantHeader: map[string]string{"Sec-WebSocket-Protocol": "superchat"}},
		{name: "missing key", head: withHeader(chromeHead, "Sec-WebSocket-Key", ""), wantStatus: 400, wantErr: true},
		{name: "short key", head: withHeader(chromeHead, "Sec-WebSocket-Key", "abc"), wantStatus: 400, wantErr: true},
		{name: "version 8", head: withHeader(chromeHead, "Sec-WebSocket-Version", "8"), wantStatus: 426, wantErr: true,
			wantHeader: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "missing version", head: withHeader(chromeHead, "Sec-WebSocket-Version", ""), wantStatus: 400, wantErr: true},
		{name: "missing host", head: withHeader(chromeHead, "Host", ""), wantStatus: 400, wantErr: true},
		{name: "missing upgrade", head: withHeader(chromeHead, "Upgrade", ""), wantStatus: 400, wantErr: true},
		{name: "bad connection", head: withHeader(chromeHead, "Connection", "keep-alive"), wantStatus: 400, wantErr: true},
		{name: "POST", head: strings.Replace(chromeHead, "GET", "POST", 1), wantStatus: 405, wantErr: true},
		{name: "HTTP/1.0", head: strings.Replace(chromeHead, "HTTP/1.1", "HTTP/1.0", 1), wantStatus: 505, wantErr: true},
		{name: "malformed request line", head: "GARBAGE\r\nHost: x\r\n\r\n", wantStatus: 400, wantErr: true},
		{name: "bad version token", head: "GET / HTTP/x.y\r\n\r\n", wantStatus: 400, wantErr: true},
		{name: "empty head", head: "\r\n\r\n", wantStatus: 400, wantErr: true},
		{name: "no terminator", head: "GET / HTTP/1.1\r\nHost: x", wantStatus: 400, wantErr: true},
		{name: "header without colon", head: strings.Replace(chromeHead, "Pragma: no-cache", "Pragma no-cache", 1), wantStatus: 400, wantErr: true},
		{name: "hook 403", u: &ws.Upgrader{OnHost: reject(403)}, head: withHeader(curlHead, "Host", "evil"), wantStatus: 403, wantErr: true},
		{name: "hook status 0", u: &ws.Upgrader{OnHost: reject(0)}, head: withHeader(curlHead, "Host", "evil"), wantStatus: 500, wantErr: true},
		{name: "hook status 1000", u: &ws.Upgrader{OnHost: reject(1000)}, head: withHeader(curlHead, "Host", "evil"), wantStatus: 500, wantErr: true},
		{name: "hook status 42", u: &ws.Upgrader{OnHost: reject(42)}, head: withHeader(curlHead, "Host", "evil"), wantStatus: 500, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			if u == nil && tc.name != "nil upgrader" {
				u = &ws.Upgrader{}
			}
			resp, _, err := Upgrade(u, []byte(tc.head), []byte("prefix"))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !bytes.HasPrefix(resp, []byte("prefix")) {
				t.Fatalf("dst prefix lost: %q", resp)
			}
			resp = resp[len("prefix"):]
			if !wellFormedStatus(resp) {
				t.Fatalf("malformed status line: %q", resp)
			}
			r := parseResponse(t, resp)
			if r.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %q", r.StatusCode, tc.wantStatus, resp)
			}
			for k, v := range tc.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestUpgradeHandshake(t *testing.T) {
	if acceptFor(rfcKey) != rfcAccept {
		t.Fatal("reference accept computation is wrong")
	}
	u := &ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "chat" }}
	_, hs, err := Upgrade(u, []byte(firefoxHead), nil)
	if err != nil || hs.Protocol != "chat" {
		t.Fatalf("hs = %+v, err = %v", hs, err)
	}
}

// TestUpgradeLeavesFrames checks that bytes after the head are not read: the
// frames that follow decode intact.
func TestUpgradeLeavesFrames(t *testing.T) {
	frames := cat(text("early"), ping("p"))
	in := append([]byte(chromeHead), frames...)
	var s HeadScanner
	end, err := s.Scan(in, 0)
	if err != nil || end != len(chromeHead) {
		t.Fatalf("Scan = %d, %v", end, err)
	}
	var seen []string
	u := &ws.Upgrader{OnHeader: func(k, v []byte) error {
		seen = append(seen, string(k))
		return nil
	}}
	if _, _, err := Upgrade(u, in[:end], nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in[end:], frames) {
		t.Fatal("trailing bytes modified")
	}
	for _, k := range seen {
		if strings.ContainsAny(k, "\x81\x89") {
			t.Fatalf("upgrader read past the head: %q", k)
		}
	}
	got, err := feed(t, DecoderConfig{}, in[end:], cutsWhole(len(frames)))
	if err != nil || len(got) != 2 || got[0].data != "early" || got[1].ev != EventPing {
		t.Fatalf("frames after head: %v, %v", got, err)
	}
}

func TestUpgradeAllocs(t *testing.T) {
	u := &ws.Upgrader{}
	head := []byte(chromeHead)
	dst := make([]byte, 0, 512)
	a := testing.AllocsPerRun(200, func() {
		if _, _, err := Upgrade(u, head, dst[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if a > 2 {
		t.Fatalf("Upgrade allocs = %v, want <= 2", a)
	}
}

func TestAppendHTTPResponse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		header   [][2]string
		body     string
		wantCode int
		wantType string
	}{
		{"431", 431, nil, "", 431, ""},
		{"503 body", 503, nil, "shutting down", 503, "text/plain; charset=utf-8"},
		{"426", 426, [][2]string{{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}}, "", 426, ""},
		{"custom type", 200, [][2]string{{"content-type", "application/json"}}, `{"ok":true}`, 200, "application/json"},
		{"unknown status", 599, nil, "", 599, ""},
		{"invalid status", 42, nil, "x", 500, "text/plain; charset=utf-8"},
		{"header injection", 400, [][2]string{{"X-A", "a\r\nSet-Cookie: evil"}}, "", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := AppendHTTPResponse([]byte("pre"), tc.status, tc.header, []byte(tc.body))
			if string(resp[:3]) != "pre" {
				t.Fatal("dst prefix lost")
			}
			if !wellFormedStatus(resp[3:]) {
				t.Fatalf("malformed: %q", resp[3:])
			}
			r := parseResponse(t, resp[3:])
			if r.StatusCode != tc.wantCode || r.ContentLength != int64(len(tc.body)) || !r.Close {
				t.Fatalf("got %d len %d close %v: %q", r.StatusCode, r.ContentLength, r.Close, resp)
			}
			if got := r.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			if r.Header.Get("Set-Cookie") != "" {
				t.Error("header injection")
			}
			for _, kv := range tc.header {
				if kv[0] == "X-A" {
					continue
				}
				if got := r.Header.Get(kv[0]); got != kv[1] {
					t.Errorf("%s = %q", kv[0], got)
				}
			}
			body := new(bytes.Buffer)
			if _, err := body.ReadFrom(r.Body); err != nil || body.String() != tc.body {
				t.Errorf("body = %q, %v", body, err)
			}
		})
	}
}

func BenchmarkUpgrade(b *testing.B) {
	u := &ws.Upgrader{}
	head := []byte(chromeHead)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, _, err = Upgrade(u, head, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
