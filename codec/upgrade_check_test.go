package codec

import (
	"bytes"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// withField returns head with the field line l added at the end.
func withField(head string, l ...string) string {
	return strings.TrimSuffix(head, "\r\n") + strings.Join(l, "\r\n") + "\r\n\r\n"
}

// withRequestLine returns head with its request line replaced.
func withRequestLine(head, line string) string {
	_, rest, _ := strings.Cut(head, "\r\n")
	return line + "\r\n" + rest
}

// hookRecorder is an Upgrader whose hooks record that they ran.
type hookRecorder struct {
	ran []string
}

func (h *hookRecorder) upgrader() *ws.Upgrader {
	note := func(name string) { h.ran = append(h.ran, name) }
	return &ws.Upgrader{
		Protocol:        func(p []byte) bool { note("Protocol"); return string(p) == "chat" },
		OnRequest:       func([]byte) error { note("OnRequest"); return nil },
		OnHost:          func([]byte) error { note("OnHost"); return nil },
		OnHeader:        func(_, _ []byte) error { note("OnHeader"); return nil },
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) { note("OnBeforeUpgrade"); return nil, nil },
	}
}

func TestUpgradeStrict(t *testing.T) {
	base := curlHead // Host 127.0.0.1:9000, key SGVsbG8sIHdvcmxkISEhIQ==
	key2 := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
	ws426 := map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
	allow := map[string]string{"Allow": "GET"}
	for _, tc := range []struct {
		name   string
		head   string
		want   *HTTPError // refused by our rules; nil: see status
		status int        // when want is nil: 101, or gobwas/ws's refusal
		header map[string]string
	}{
		// Accepted.
		{name: "Content-Length 0", head: withField(base, "Content-Length: 0"), status: 101},
		{name: "Content-Length 000", head: withField(base, "Content-Length: 000"), status: 101},
		{name: "HTTP/1.2", head: withRequestLine(base, "GET / HTTP/1.2"), status: 101},
		{name: "Upgrade case", head: withHeader(base, "Upgrade", "WebSocket"), status: 101},
		{name: "Connection list", head: withHeader(base, "Connection", "keep-alive, UPGRADE"), status: 101},
		{name: "OWS around values", head: withHeader(base, "Sec-WebSocket-Version", "\t13 "), status: 101},
		{name: "IPv6 host", head: withHeader(base, "Host", "[::1]:8080"), status: 101},
		{name: "IPv4-mapped host", head: withHeader(base, "Host", "[::ffff:192.0.2.1]"), status: 101},
		{name: "IPv4 host no port", head: withHeader(base, "Host", "127.0.0.1"), status: 101},
		{name: "empty port", head: withHeader(base, "Host", "example.com:"), status: 101},
		{name: "A-label host", head: withHeader(base, "Host", "xn--bcher-kva.example"), status: 101},
		{name: "sub-delims host", head: withHeader(base, "Host", "a-b_c~d!$&'()*+,;=.example"), status: 101},
		{name: "browser path bytes", head: withRequestLine(base, "GET /a|b/[c]?d={e}^`\\ HTTP/1.1"), status: 101},
		{name: "percent-encoded", head: withRequestLine(base, "GET /%E2%82%ac?q=%20 HTTP/1.1"), status: 101},
		{name: "absolute-form", head: withRequestLine(base, "GET http://127.0.0.1:9000/chat HTTP/1.1"), status: 101},
		{name: "absolute-form case", head: withHeader(withRequestLine(base, "GET HTTPS://Example.COM:443/x?y HTTP/1.1"), "Host", "example.com"), status: 101},
		{name: "absolute-form default port", head: withHeader(withRequestLine(base, "GET http://example.com HTTP/1.1"), "Host", "example.com:080"), status: 101},
		{name: "absolute-form query", head: withHeader(withRequestLine(base, "GET http://example.com?x=1 HTTP/1.1"), "Host", "example.com"), status: 101},
		{name: "absolute-form IPv6", head: withHeader(withRequestLine(base, "GET http://[::1]:80/ HTTP/1.1"), "Host", "[::1]"), status: 101},
		{name: "protocol repeated", head: withField(base, "Sec-WebSocket-Protocol: superchat", "Sec-WebSocket-Protocol: chat"), status: 101,
			header: map[string]string{"Sec-WebSocket-Protocol": "chat"}},
		{name: "extensions repeated", head: withField(base, "Sec-WebSocket-Extensions: x-a", "Sec-WebSocket-Extensions: x-b"), status: 101},
		{name: "key pad bits", head: withHeader(base, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZR=="), status: 101},

		// RFC 9112 syntax (CheckRequest).
		{name: "space before colon", head: strings.Replace(base, "Upgrade:", "Upgrade :", 1), want: errSpaceBeforeColon},
		{name: "0xFF in name", head: withField(base, "X-\xff: 1"), want: errFieldName},
		{name: "bare LF", head: strings.Replace(base, "\r\nHost", "\nHost", 1), want: errBareLF},
		{name: "obs-fold", head: withField(base, "X-A: 1", " 2"), want: errObsFold},
		{name: "NUL in value", head: withField(base, "X-A: 1\x002"), want: errFieldValue},
		{name: "TE and CL", head: withField(base, "Transfer-Encoding: chunked", "Content-Length: 5"), want: errTEAndCL},
		{name: "bytes after head", head: base + "\x81\x85", want: errAfterHead},

		// Version and method.
		{name: "HTTP/1.0", head: withRequestLine(base, "GET / HTTP/1.0"), want: errUpgradeVersion},
		{name: "HTTP/0.9", head: withRequestLine(base, "GET / HTTP/0.9"), want: errUpgradeVersion},
		{name: "HTTP/2.0", head: withRequestLine(base, "GET / HTTP/2.0"), want: errUpgradeVersion},
		{name: "POST", head: withRequestLine(base, "POST / HTTP/1.1"), want: errUpgradeMethod, header: allow},
		{name: "HEAD", head: withRequestLine(base, "HEAD / HTTP/1.1"), want: errUpgradeMethod, header: allow},
		{name: "lower-case get", head: withRequestLine(base, "get / HTTP/1.1"), want: errUpgradeMethod, header: allow},

		// Request-target.
		{name: "asterisk-form", head: withRequestLine(base, "GET * HTTP/1.1"), want: errTargetForm},
		{name: "authority-form", head: withRequestLine(base, "GET 127.0.0.1:9000 HTTP/1.1"), want: errTargetForm},
		{name: "relative", head: withRequestLine(base, "GET ws HTTP/1.1"), want: errTargetForm},
		{name: "ws scheme", head: withRequestLine(base, "GET ws://127.0.0.1:9000/ HTTP/1.1"), want: errTargetForm},
		{name: "ftp scheme", head: withRequestLine(base, "GET ftp://127.0.0.1:9000/ HTTP/1.1"), want: errTargetForm},
		{name: "bad escape", head: withRequestLine(base, "GET /a%zz HTTP/1.1"), want: errPercentEncoding},
		{name: "short escape", head: withRequestLine(base, "GET /a%2 HTTP/1.1"), want: errPercentEncoding},
		{name: "bad escape in query", head: withRequestLine(base, "GET /?q=100% HTTP/1.1"), want: errPercentEncoding},
		{name: "fragment", head: withRequestLine(base, "GET /a#b HTTP/1.1"), want: errTargetFragment},
		{name: "userinfo", head: withRequestLine(base, "GET http://u:p@127.0.0.1:9000/ HTTP/1.1"), want: errUserinfo},
		{name: "empty authority", head: withRequestLine(base, "GET http:///ws HTTP/1.1"), want: errTargetAuthority},
		{name: "bad authority", head: withRequestLine(base, "GET http://[::1/ws HTTP/1.1"), want: errTargetAuthority},
		{name: "authority differs", head: withRequestLine(base, "GET http://example.com/ HTTP/1.1"), want: errHostDiff},
		{name: "port differs", head: withRequestLine(base, "GET http://127.0.0.1:9001/ HTTP/1.1"), want: errHostDiff},
		{name: "default port of the other scheme", head: withHeader(withRequestLine(base, "GET https://example.com:80/ HTTP/1.1"), "Host", "example.com"), want: errHostDiff},

		// No body.
		{name: "Content-Length 5", head: withField(base, "Content-Length: 5"), want: errUpgradeBody},
		{name: "Content-Length repeated", head: withField(base, "Content-Length: 1", "Content-Length: 1"), want: errUpgradeBody},
		{name: "chunked", head: withField(base, "Transfer-Encoding: chunked"), want: errUpgradeTE},
		{name: "identity", head: withField(base, "transfer-encoding: identity"), want: errUpgradeTE},

		// Host.
		{name: "missing Host", head: withHeader(base, "Host", ""), want: errNoHost},
		{name: "two Host", head: withField(base, "Host: 127.0.0.1:9000"), want: errDupHost},
		{name: "two different Host", head: withField(base, "host: evil.example"), want: errDupHost},
		{name: "blank Host", head: withField(withHeader(base, "Host", ""), "Host: "), want: errBadHost},
		{name: "Host with space", head: withHeader(base, "Host", "a b"), want: errBadHost},
		{name: "Host two colons", head: withHeader(base, "Host", "a:1:2"), want: errBadHost},
		{name: "Host non-digit port", head: withHeader(base, "Host", "a:http"), want: errBadHost},
		{name: "Host empty name", head: withHeader(base, "Host", ":80"), want: errBadHost},
		{name: "Host open bracket", head: withHeader(base, "Host", "[::1"), want: errBadHost},
		{name: "Host bracketed IPv4", head: withHeader(base, "Host", "[127.0.0.1]"), want: errBadHost},
		{name: "Host zone", head: withHeader(base, "Host", "[fe80::1%25eth0]"), want: errBadHost},
		{name: "Host IPvFuture", head: withHeader(base, "Host", "[v1.x]"), want: errBadHost},
		{name: "Host after bracket", head: withHeader(base, "Host", "[::1]x"), want: errBadHost},
		{name: "Host percent", head: withHeader(base, "Host", "exa%41mple.com"), want: errBadHost},
		{name: "Host userinfo", head: withHeader(base, "Host", "user@example.com"), want: errBadHost},
		{name: "Host non-ASCII", head: withHeader(base, "Host", "b\xc3\xbccher.example"), want: errBadHost},
		{name: "Host slash", head: withHeader(base, "Host", "example.com/x"), want: errBadHost},

		// Upgrade and Connection.
		{name: "missing Upgrade", head: withHeader(base, "Upgrade", ""), want: errNoUpgrade},
		{name: "two Upgrade", head: withField(base, "Upgrade: websocket"), want: errDupUpgrade},
		{name: "Upgrade h2c", head: withHeader(base, "Upgrade", "h2c"), want: errBadUpgrade},
		{name: "Upgrade websockets", head: withHeader(base, "Upgrade", "websockets"), want: errBadUpgrade},
		{name: "missing Connection", head: withHeader(base, "Connection", ""), want: errBadConnection},
		{name: "Connection keep-alive", head: withHeader(base, "Connection", "keep-alive"), want: errBadConnection},
		{name: "Connection upgrades", head: withHeader(base, "Connection", "upgrades"), want: errBadConnection},

		// Sec-WebSocket-Version.
		{name: "missing version", head: withHeader(base, "Sec-WebSocket-Version", ""), want: errNoWSVersion},
		{name: "two versions", head: withField(base, "Sec-WebSocket-Version: 13"), want: errDupWSVersion},
		{name: "two different versions", head: withField(base, "Sec-WebSocket-Version: 8"), want: errDupWSVersion},
		{name: "version 8", head: withHeader(base, "Sec-WebSocket-Version", "8"), want: errWSVersion, header: ws426},
		{name: "version list", head: withHeader(base, "Sec-WebSocket-Version", "13, 8"), want: errWSVersion, header: ws426},
		{name: "version 013", head: withHeader(base, "Sec-WebSocket-Version", "013"), want: errWSVersion, header: ws426},
		{name: "version empty", head: withField(withHeader(base, "Sec-WebSocket-Version", ""), "Sec-WebSocket-Version:"), want: errWSVersion, header: ws426},
		{name: "version word", head: withHeader(base, "Sec-WebSocket-Version", "thirteen"), want: errWSVersion, header: ws426},

		// Sec-WebSocket-Key.
		{name: "missing key", head: withHeader(base, "Sec-WebSocket-Key", ""), want: errNoKey},
		{name: "two same keys", head: withField(base, "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkISEhIQ=="), want: errDupKey},
		{name: "two different keys", head: withField(base, key2), want: errDupKey},
		{name: "short key", head: withHeader(base, "Sec-WebSocket-Key", "c2hvcnQ="), want: errBadKey},
		{name: "24 chars unpadded", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAA"), want: errBadKey},
		{name: "24 chars 15 bytes", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAA==="), want: errBadKey},
		{name: "24 chars not base64", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA!A=="), want: errBadKey},
		{name: "URL-safe alphabet", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA-_=="), want: errBadKey},
		{name: "space in key", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAA AAAAAAAAAAA=="), want: errBadKey},
		{name: "non-ASCII key", head: withHeader(base, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA\xc3\xa9=="), want: errBadKey},
		{name: "25 chars", head: withHeader(base, "Sec-WebSocket-Key", "SGVsbG8sIHdvcmxkISEhIQ==="), want: errBadKey},

		// Accepted by our rules, refused by gobwas/ws's stricter reading.
		{name: "Upgrade list", head: withHeader(base, "Upgrade", "websocket, h2c"), status: 400},
		{name: "Connection split", head: withField(withHeader(base, "Connection", "keep-alive"), "Connection: Upgrade"), status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec hookRecorder
			resp, hs, err := Upgrade(rec.upgrader(), []byte(tc.head), []byte("prefix"))
			if !bytes.HasPrefix(resp, []byte("prefix")) || !wellFormedStatus(resp[len("prefix"):]) {
				t.Fatalf("malformed response %q", resp)
			}
			r := parseResponse(t, resp[len("prefix"):])
			var he *HTTPError
			isHTTPError := errors.As(err, &he)
			if tc.want != nil {
				if he != tc.want {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if len(rec.ran) > 0 {
					t.Errorf("hooks ran for a refused request: %v", rec.ran)
				}
				if want := tc.want.AppendResponse([]byte("prefix")); !bytes.Equal(resp, want) {
					t.Errorf("response %q, want %q", resp, want)
				}
				checkRefusal(t, tc.want, tc.want.Status, tc.header)
				// net/http drops Connection from a parsed response.
				if tc.want.Status == http.StatusUpgradeRequired && !bytes.Contains(resp, []byte("\r\nConnection: upgrade\r\n")) {
					t.Errorf("426 without a Connection upgrade option: %q", resp)
				}
				return
			}
			if r.StatusCode != tc.status || (err == nil) != (tc.status == 101) || isHTTPError {
				t.Fatalf("status %d, err %v; want %d from gobwas/ws: %q", r.StatusCode, err, tc.status, resp)
			}
			if tc.status == 101 && hs.Protocol != r.Header.Get("Sec-WebSocket-Protocol") {
				t.Errorf("hs.Protocol %q, response %q", hs.Protocol, r.Header.Get("Sec-WebSocket-Protocol"))
			}
			for k, v := range tc.header {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestUpgradeClients upgrades the heads of real clients, and each of them
// fed to HeadScanner split at every byte; no prefix of a head upgrades.
func TestUpgradeClients(t *testing.T) {
	names := make([]string, 0, len(clientHeads))
	for name := range clientHeads {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			in := []byte(clientHeads[name])
			if !IsUpgrade(in) {
				t.Fatal("IsUpgrade = false")
			}
			if err := CheckRequest(in); err != nil {
				t.Fatalf("CheckRequest: %v", err)
			}
			u := &ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "echo" }}
			for k := 0; k <= len(in); k++ {
				var s HeadScanner
				end, err := s.Scan(in[:k], 0)
				if err != nil || (end != 0) != (k == len(in)) {
					t.Fatalf("split %d: Scan = %d, %v", k, end, err)
				}
				if end == 0 {
					if end, err = s.Scan(in, 0); err != nil || end != len(in) {
						t.Fatalf("split %d: Scan = %d, %v", k, end, err)
					}
				}
				resp, _, err := Upgrade(u, in[:end], nil)
				if err != nil || parseResponse(t, resp).StatusCode != 101 {
					t.Fatalf("split %d: %v: %q", k, err, resp)
				}
				if k < len(in) {
					resp, _, err := Upgrade(u, in[:k], nil)
					if err == nil || parseResponse(t, resp).StatusCode == 101 {
						t.Fatalf("prefix of %d bytes upgraded: %q", k, resp)
					}
				}
			}
		})
	}
}

func TestCheckUpgradeAllocs(t *testing.T) {
	heads := [][]byte{[]byte(chromeHead), []byte(coderHead), []byte(withRequestLine(curlHead, "GET http://127.0.0.1:9000/ HTTP/1.1"))}
	if a := testing.AllocsPerRun(100, func() {
		for _, h := range heads {
			if e := checkUpgrade(h); e != nil {
				t.Fatal(e)
			}
		}
	}); a != 0 {
		t.Fatalf("checkUpgrade allocs = %v, want 0", a)
	}
}

// BenchmarkUpgradeChecks splits BenchmarkUpgrade (a Chrome handshake) into
// its two parts: the checks added for RFC 9112 and RFC 6455 §4.2.1, and
// gobwas/ws's Upgrader, which was all of Upgrade before them.
func BenchmarkUpgradeChecks(b *testing.B) {
	head := []byte(chromeHead)
	b.Run("CheckRequest", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			if err := CheckRequest(head); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkUpgrade", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			if e := checkUpgrade(head); e != nil {
				b.Fatal(e)
			}
		}
	})
	b.Run("gobwas", func(b *testing.B) {
		u := &ws.Upgrader{}
		dst := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if dst, _, err = runUpgrader(u, head, dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
