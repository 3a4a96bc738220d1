package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/server"
)

// TestStrictHandshake sends, end to end, the requests that RFC 9112 and
// RFC 6455 say a server must refuse, and that the server upgraded before
// its own checks ran on top of gobwas/ws's: each gets its status, the
// headers that status requires, and the connection closed afterwards (no
// body decoded as frames).
func TestStrictHandshake(t *testing.T) {
	_, addr := startAPI(t, server.Echo())
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	req := func(lines ...string) string {
		return "GET / HTTP/1.1\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n"
	}
	base := []string{"Host: " + addr, "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"}
	with := func(extra ...string) string { return req(append(append([]string(nil), base...), extra...)...) }
	replace := func(i int, line string) string {
		l := append([]string(nil), base...)
		l[i] = line
		return req(l...)
	}
	cases := []struct {
		name   string
		req    string
		status int
		header [2]string // a field the status requires
	}{
		{"space before colon", replace(1, "Upgrade : websocket"), 400, [2]string{}},
		{"non-token name", with("X-\xffBad: 1"), 400, [2]string{}},
		{"two keys", with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), 400, [2]string{}},
		{"two Hosts", with("Host: other.example"), 400, [2]string{}},
		{"key not 16 bytes", replace(3, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA"), 400, [2]string{}},
		{"key not ASCII", replace(3, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\xc3\xa9=="), 400, [2]string{}},
		{"Content-Length body", with("Content-Length: 6") + "\x81\x80\x00\x00\x00\x00", 400, [2]string{}},
		{"chunked body", with("Transfer-Encoding: chunked") + "0\r\n\r\n", 400, [2]string{}},
		{"two versions", with("Sec-WebSocket-Version: 13"), 400, [2]string{}},
		{"two Upgrade fields", with("Upgrade: websocket"), 400, [2]string{}},
		{"obs-fold", with("X-Folded: a", " b"), 400, [2]string{}},
		{"wrong version", replace(4, "Sec-WebSocket-Version: 8"), 426, [2]string{"Upgrade", "websocket"}},
		{"POST", strings.Replace(with(), "GET", "POST", 1), 405, [2]string{"Allow", "GET"}},
		{"plain request with bad field", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, [2]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
			}
			if h := tc.header; h[0] != "" && !strings.EqualFold(resp.Header.Get(h[0]), h[1]) {
				t.Errorf("%s: %q, want %q", h[0], resp.Header.Get(h[0]), h[1])
			}
			// Nothing after the response: the connection ends.
			if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("after the response: %d bytes, %v", n, err)
			}
		})
	}
}
