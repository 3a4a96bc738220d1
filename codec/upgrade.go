package codec

import (
	"bytes"
	"io"
	"sync"

	"github.com/gobwas/ws"
)

var tokenWebSocket = []byte("websocket")

// IsUpgrade reports whether head asks for a WebSocket upgrade, that is, has an
// Upgrade header field whose comma-separated list contains the token
// "websocket" (case-insensitive;
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1). A head that is not an
// upgrade should go to the server's plain HTTP handling. It does not allocate
// and does not retain head.
//
// IsUpgrade only routes: it is lenient (it accepts bare LF line endings and
// whitespace around the field name) so that a malformed upgrade request still
// goes to Upgrade, which checks it strictly and refuses it.
func IsUpgrade(head []byte) bool {
	_, rest, _ := bytes.Cut(head, []byte("\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return false
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.Trim(name, " \t"), []byte("Upgrade")) {
			continue
		}
		for len(value) > 0 {
			var token []byte
			token, value, _ = bytes.Cut(value, []byte(","))
			if bytes.EqualFold(bytes.Trim(token, " \t"), tokenWebSocket) {
				return true
			}
		}
	}
	return false
}

// upgradeIO feeds exactly the head bytes to ws.Upgrader and collects its
// response. It is pooled so Upgrade does not allocate it per call.
type upgradeIO struct {
	r   bytes.Reader
	dst []byte
}

// Write appends p to the response buffer.
func (u *upgradeIO) Write(p []byte) (int, error) {
	u.dst = append(u.dst, p...)
	return len(p), nil
}

// Read reads the request head.
func (u *upgradeIO) Read(p []byte) (int, error) { return u.r.Read(p) }

var upgradeIOPool = sync.Pool{New: func() any { return new(upgradeIO) }}

// Upgrade checks the request head head, as found by HeadScanner, runs u (nil
// means the zero ws.Upgrader) on exactly that head and appends the HTTP
// response to dst. Bytes after the head (early frames) are never read, so the
// caller can decode them next.
//
// Before u sees anything, head must pass CheckRequest and the opening
// handshake rules of https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1,
// stricter than gobwas/ws: HTTP/1.1 (else 505), GET (else 405 with
// "Allow: GET"), an origin-form or absolute http(s) request-target, exactly
// one valid Host (matching an absolute target's authority), exactly one
// Upgrade containing "websocket", a Connection containing "upgrade", exactly
// one Sec-WebSocket-Key that is the base64 of 16 bytes, exactly one
// Sec-WebSocket-Version equal to 13 (another value gets 426 with
// "Upgrade: websocket", "Connection: upgrade" and
// "Sec-WebSocket-Version: 13"), and no body (no
// Transfer-Encoding, no Content-Length other than 0). Every other violation
// gets 400. Such a refusal returns an *HTTPError, and the hooks of u do not
// run.
//
// On success resp holds the 101 response and hs the negotiated protocol and
// extensions. On failure err is non-nil and resp holds the error response:
// the refusal above, the one gobwas/ws chose for what it checks in addition
// (400 for a value it does not accept, such as an Upgrade list with another
// protocol or a Connection field without "upgrade" next to one with it), or
// the status of a ws.RejectConnectionError returned by a hook; a hook status
// outside 100-999 gets 500, so resp always starts with a well-formed status
// line. The caller sends resp and closes the connection.
//
// The hooks of u run synchronously, and their arguments are only valid while
// they run (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2). u and head
// are not retained. resp aliases dst when dst has enough capacity.
func Upgrade(u *ws.Upgrader, head []byte, dst []byte) (resp []byte, hs ws.Handshake, err error) {
	if e := checkUpgrade(head); e != nil {
		return e.AppendResponse(dst), hs, e
	}
	return runUpgrader(u, head, dst)
}

// runUpgrader is Upgrade without the checks: it runs gobwas/ws's Upgrader on
// head.
func runUpgrader(u *ws.Upgrader, head []byte, dst []byte) (resp []byte, hs ws.Handshake, err error) {
	var up ws.Upgrader
	if u != nil {
		up = *u
	}
	rw := upgradeIOPool.Get().(*upgradeIO)
	rw.r.Reset(head)
	rw.dst = dst
	start := len(dst)
	hs, err = up.Upgrade(rw)
	resp = rw.dst
	rw.r.Reset(nil)
	rw.dst = nil
	upgradeIOPool.Put(rw)

	if err != nil && !wellFormedStatus(resp[start:]) {
		status := statusInternalServerError
		if len(resp) == start {
			status = statusBadRequest
		}
		resp = AppendHTTPResponse(resp[:start], status, nil, nil)
	}
	return resp, hs, err
}

// wellFormedStatus reports whether resp starts with "HTTP/1.1 ddd " and the
// status line ends with CRLF.
func wellFormedStatus(resp []byte) bool {
	const prefix = "HTTP/1.1 "
	if len(resp) < len(prefix)+4 || string(resp[:len(prefix)]) != prefix {
		return false
	}
	code := resp[len(prefix) : len(prefix)+3]
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	if code[0] == '0' || resp[len(prefix)+3] != ' ' {
		return false
	}
	line, _, ok := bytes.Cut(resp, []byte("\r\n"))
	return ok && bytes.IndexByte(line, '\n') < 0
}

var _ io.ReadWriter = (*upgradeIO)(nil)
