package codec

import "strings"

// Real-world upgrade request heads, shared by tests, benchmarks and fuzz seeds.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" // https://www.rfc-editor.org/rfc/rfc6455#section-1.3
)

var (
	chromeHead = lines(
		"GET /chat?room=lobby&user=al%20ice HTTP/1.1",
		"Host: localhost:8080",
		"Connection: Upgrade",
		"Pragma: no-cache",
		"Cache-Control: no-cache",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"Upgrade: websocket",
		"Origin: http://localhost:8080",
		"Sec-WebSocket-Version: 13",
		"Accept-Encoding: gzip, deflate, br, zstd",
		"Accept-Language: en-US,en;q=0.9",
		`Cookie: session=abc123; theme="dark"`,
		"Sec-WebSocket-Key: "+rfcKey,
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
	)
	firefoxHead = lines(
		"GET /ws HTTP/1.1",
		"Host: example.com",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Accept: */*",
		"Accept-Language: en-US,en;q=0.5",
		"Accept-Encoding: gzip, deflate, br",
		"Sec-WebSocket-Version: 13",
		"Origin: https://example.com",
		"Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Extensions: permessage-deflate",
		"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
		"Connection: keep-alive, Upgrade",
		"Sec-Fetch-Dest: empty",
		"Sec-Fetch-Mode: websocket",
		"Sec-Fetch-Site: same-origin",
		"Pragma: no-cache",
		"Cache-Control: no-cache",
		"Upgrade: websocket",
	)
	curlHead = lines(
		"GET / HTTP/1.1",
		"Host: 127.0.0.1:9000",
		"User-Agent: curl/8.5.0",
		"Accept: */*",
		"Connection: Upgrade",
		"Upgrade: websocket",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: SGVsbG8sIHdvcmxkISEhIQ==",
	)
	pythonHead = lines(
		"GET /echo HTTP/1.1",
		"Host: localhost:8765",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
		"User-Agent: Python/3.12 websockets/12.0",
	)
	safariHead = lines(
		"GET /chat HTTP/1.1",
		"Host: example.com",
		"Sec-WebSocket-Key: E4WSEcseoWr4csPLS2QJHA==",
		"Sec-WebSocket-Version: 13",
		"Upgrade: websocket",
		"Sec-WebSocket-Extensions: permessage-deflate",
		"Origin: https://example.com",
		"Pragma: no-cache",
		"Cache-Control: no-cache",
		"Connection: Upgrade",
		"User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Accept-Language: en-GB,en;q=0.9",
		"Accept-Encoding: gzip, deflate",
	)
	// gorilla/websocket's Dialer: net/http writes Host and User-Agent,
	// then the fields sorted by name, spelled as gorilla sets them.
	gorillaHead = lines(
		"GET /ws?token=abc HTTP/1.1",
		"Host: localhost:8080",
		"User-Agent: Go-http-client/1.1",
		"Connection: Upgrade",
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"Sec-WebSocket-Key: +/8fpZ5ujRfbx9fy0H+Fzg==",
		"Sec-WebSocket-Version: 13",
		"Upgrade: websocket",
	)
	// Node's ws: its own fields first, Host last (set by node:http).
	nodeHead = lines(
		"GET / HTTP/1.1",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: q4xkcO32u266gldTuKaSOw==",
		"Connection: Upgrade",
		"Upgrade: websocket",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
		"Host: 127.0.0.1:8080",
	)
	// coder/websocket: net/http canonicalizes the names
	// ("Sec-Websocket-Key").
	coderHead = lines(
		"GET /subscribe HTTP/1.1",
		"Host: [::1]:8080",
		"User-Agent: Go-http-client/1.1",
		"Connection: Upgrade",
		"Sec-Websocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover",
		"Sec-Websocket-Key: 3XNdbGnOa8xFHn+xgu9U8g==",
		"Sec-Websocket-Protocol: echo",
		"Sec-Websocket-Version: 13",
		"Upgrade: websocket",
	)
	// gobwas/ws's Dialer, which wsloop's client uses.
	gobwasHead = lines(
		"GET /ws?id=7 HTTP/1.1",
		"Host: 10.0.0.5:9000",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: Ee6WzZRdeoYBhSjDEtuIOA==",
		"Sec-WebSocket-Extensions: permessage-deflate;server_no_context_takeover;client_no_context_takeover",
	)
)

// clientHeads are the valid upgrade requests of real clients.
var clientHeads = map[string]string{
	"chrome": chromeHead, "firefox": firefoxHead, "safari": safariHead, "curl": curlHead,
	"python": pythonHead, "gorilla": gorillaHead, "node": nodeHead, "coder": coderHead,
	"gobwas": gobwasHead,
}

// lines joins header lines with CRLF and terminates the head.
func lines(l ...string) string { return strings.Join(l, "\r\n") + "\r\n\r\n" }

// withHeader returns head with the named header removed (value "") or
// replaced.
func withHeader(head, name, value string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			if value != "" {
				out = append(out, name+": "+value)
			}
			continue
		}
		out = append(out, l)
	}
	return lines(out...)
}
