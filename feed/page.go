package feed

import (
	_ "embed"

	"github.com/wsloop/wsloop/server"
)

// The live ticker page: vanilla JavaScript, no third-party code.
var (
	//go:embed web/index.html
	indexHTML []byte
	//go:embed web/app.js
	appJS []byte
)

// pageHeader are the headers common to the page's files.
var pageHeader = [][2]string{
	{"Cache-Control", "no-cache"},
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:"},
}

var (
	htmlHeader = append([][2]string{{"Content-Type", "text/html; charset=utf-8"}}, pageHeader...)
	jsHeader   = append([][2]string{{"Content-Type", "text/javascript; charset=utf-8"}}, pageHeader...)
)

// Page returns a hook for server.WithHTTPHandler that serves the live
// ticker page: GET / (or /index.html) and GET /app.js. The page connects
// back to the same host with the "wsloop.json" subprotocol, subscribes to
// TopicAll and shows every symbol's price updating in place, the
// connection state, the messages received and the sequence gaps seen; it
// reconnects with backoff and resubscribes from its last position.
// Every other request goes to next; nil next answers them as the server
// does by default (426 Upgrade Required). The hook serves only embedded
// bytes, so it never blocks the event loop it runs on; it is safe for
// concurrent use.
func Page(next server.HTTPHandler) server.HTTPHandler {
	if next == nil {
		next = upgradeRequired
	}
	return func(req *server.Request) server.HTTPResponse {
		if req.Method() == "GET" {
			switch req.Path() {
			case "/", "/index.html":
				return server.HTTPResponse{Status: 200, Header: htmlHeader, Body: indexHTML}
			case "/app.js":
				return server.HTTPResponse{Status: 200, Header: jsHeader, Body: appJS}
			}
		}
		return next(req)
	}
}

// upgradeRequired is the server's default answer to plain HTTP requests
// (RFC 9110 §15.5.22 with the WebSocket version, RFC 6455 §4.4).
func upgradeRequired(*server.Request) server.HTTPResponse {
	return server.HTTPResponse{
		Status: 426,
		Header: [][2]string{{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}},
		Body:   []byte("426 Upgrade Required: this is a WebSocket endpoint\n"),
	}
}
