package feed

import (
	_ "embed"
	"io/fs"
	"strings"

	jsclient "github.com/wsloop/wsloop/clients/js"
	"github.com/wsloop/wsloop/server"
)

// The live ticker page: vanilla JavaScript, no third-party code. app.js
// is an ES module that drives the page with the JavaScript client
// (clients/js), served under ClientPrefix.
var (
	//go:embed web/index.html
	indexHTML []byte
	//go:embed web/app.js
	appJS []byte
)

// ClientPrefix is the URL path under which Page serves the JavaScript
// client's modules (package jsclient): ClientPrefix+"index.js" is the one
// to import.
const ClientPrefix = "/wsloop-client/"

// clientJS maps a module's name (as in ClientPrefix+name) to its source.
var clientJS = loadClient(jsclient.Files())

// loadClient reads every .js file at the root of fsys.
func loadClient(fsys fs.FS) map[string][]byte {
	names, err := fs.Glob(fsys, "*.js")
	if err != nil {
		panic("feed: " + err.Error())
	}
	m := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic("feed: " + err.Error())
		}
		m[name] = b
	}
	return m
}

// pageHeader are the headers common to the page's files.
var pageHeader = [][2]string{
	{"Cache-Control", "no-cache"},
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:"},
}

var (
	htmlHeader = append([][2]string{{"Content-Type", "text/html; charset=utf-8"}}, pageHeader...)
	jsHeader   = append([][2]string{{"Content-Type", "text/javascript; charset=utf-8"}}, pageHeader...)
	textHeader = append([][2]string{{"Content-Type", "text/plain; charset=utf-8"}}, pageHeader...)
)

// Page returns a hook for server.WithHTTPHandler that serves the live
// ticker page: GET / (or /index.html), GET /app.js (an ES module) and
// the JavaScript client's modules it imports, GET ClientPrefix+name for
// each name of jsclient.Files() (index.js, client.js, …). A GET of any
// other path under ClientPrefix, ClientPrefix itself included (no
// listing), is answered 404. The page connects back to the same host
// with the "wsloop.bin" subprotocol, subscribes to TopicAll with a
// snapshot and Fossil deltas (without them when the broker keeps no
// state), and shows every symbol's price updating in place, the
// connection state, the messages received, the sequence gaps seen and
// the outcome of each resubscription; the client reconnects with backoff
// and resubscribes from its last position.
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
			switch path := req.Path(); {
			case path == "/" || path == "/index.html":
				return server.HTTPResponse{Status: 200, Header: htmlHeader, Body: indexHTML}
			case path == "/app.js":
				return server.HTTPResponse{Status: 200, Header: jsHeader, Body: appJS}
			case strings.HasPrefix(path, ClientPrefix):
				if b, ok := clientJS[path[len(ClientPrefix):]]; ok {
					return server.HTTPResponse{Status: 200, Header: jsHeader, Body: b}
				}
				return server.HTTPResponse{Status: 404, Header: textHeader, Body: []byte("404 Not Found\n")}
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
