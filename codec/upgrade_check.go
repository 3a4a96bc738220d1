package codec

import (
	"bytes"
	"net/http"
)

// Errors of the opening handshake rules of RFC 6455 §4.2.1
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1), applied on top of
// CheckRequest by Upgrade.
var (
	// RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request". HTTP/1.x
	// with x >= 1 is HTTP/1.1 to an HTTP/1.1 server (RFC 9110 §2.5); HTTP/1.0
	// and other major versions get 505 (RFC 9110 §15.6.6).
	errUpgradeVersion = &HTTPError{Status: http.StatusHTTPVersionNotSupported,
		Reason: "a WebSocket handshake needs HTTP/1.1"}
	// RFC 6455 §4.2.1 item 1: the method is GET. A 405 response MUST carry
	// Allow (RFC 9110 §15.5.6).
	errUpgradeMethod = &HTTPError{Status: http.StatusMethodNotAllowed,
		Header: [][2]string{{"Allow", "GET"}},
		Reason: "a WebSocket handshake must use GET"}
	// The bytes after the head would be decoded as WebSocket frames, not
	// as the body a proxy in front may have forwarded with them: the shape
	// of request smuggling (RFC 9112 §6.3, §11.2).
	errUpgradeBody = badRequest("a WebSocket handshake must not have a body")
	errUpgradeTE   = badRequest("a WebSocket handshake must not have a Transfer-Encoding")
	// RFC 9112 §3.2: 400 for a missing Host, more than one Host, or an
	// invalid Host; RFC 6455 §4.1 item 4: it holds the host and optional
	// port of the WebSocket URI.
	errNoHost   = badRequest("missing Host header field")
	errDupHost  = badRequest("duplicate Host header field")
	errBadHost  = badRequest("malformed Host header field")
	errHostDiff = badRequest("Host header field differs from the request-target authority")
	// RFC 6455 §4.2.1 item 3: an Upgrade header field containing
	// "websocket"; RFC 9110 §7.8 defines it once, as a list.
	errNoUpgrade  = badRequest("missing Upgrade header field")
	errDupUpgrade = badRequest("duplicate Upgrade header field")
	errBadUpgrade = badRequest("Upgrade header field does not contain websocket")
	// RFC 6455 §4.2.1 item 4: a Connection header field containing the
	// token "Upgrade" (case-insensitive). Connection may repeat (RFC 9110
	// §7.6.1).
	errBadConnection = badRequest("Connection header field does not contain upgrade")
	// RFC 6455 §4.2.1 item 5 and §11.3.1: exactly one Sec-WebSocket-Key,
	// base64 of 16 bytes.
	errNoKey  = badRequest("missing Sec-WebSocket-Key header field")
	errDupKey = badRequest("duplicate Sec-WebSocket-Key header field")
	errBadKey = badRequest("Sec-WebSocket-Key is not the base64 of 16 bytes")
	// RFC 6455 §4.2.1 item 6 and §11.3.5: exactly one
	// Sec-WebSocket-Version, 13. Any other value gets 426 with the versions
	// we speak (RFC 6455 §4.4), and 426 MUST carry Upgrade (RFC 9110
	// §15.5.22), which comes with a Connection "upgrade" option (RFC 9110
	// §7.8).
	errNoWSVersion  = badRequest("missing Sec-WebSocket-Version header field")
	errDupWSVersion = badRequest("duplicate Sec-WebSocket-Version header field")
	errWSVersion    = &HTTPError{Status: http.StatusUpgradeRequired,
		Header: [][2]string{{"Upgrade", "websocket"}, {"Connection", "upgrade"}, {"Sec-WebSocket-Version", "13"}},
		Reason: "this server speaks WebSocket version 13"}
)

// handshakeFields holds what the RFC 6455 §4.2.1 rules need from the
// header fields: the count and last value of the fields that must appear
// exactly once. Values alias the head.
type handshakeFields struct {
	host, upgrade, key, version          []byte
	hosts, upgrades, keys, versions      int
	connectionUpgrade, body, transferEnc bool
}

// checkUpgrade checks head against CheckRequest and the opening handshake
// rules of RFC 6455 §4.2.1. It does not allocate and does not retain head.
func checkUpgrade(head []byte) *HTTPError {
	if e := checkRequest(head); e != nil {
		return e
	}
	// Both were checked by checkRequest: the request line and every field
	// line end in CRLF, the request line has exactly two SPs, and every
	// field line has a colon.
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	method, line, _ := bytes.Cut(line, []byte(" "))
	target, version, _ := bytes.Cut(line, []byte(" "))
	if version[5] != '1' || version[7] == '0' {
		return errUpgradeVersion
	}
	if string(method) != http.MethodGet {
		return errUpgradeMethod
	}
	scheme, authority, e := checkTarget(target)
	if e != nil {
		return e
	}
	var f handshakeFields
	for {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		f.add(name, trimOWSBytes(value))
	}
	if e := f.check(scheme, authority); e != nil {
		return e
	}
	return nil
}

// add records one header field.
func (f *handshakeFields) add(name, value []byte) {
	switch {
	case equalFoldLower(name, "host"):
		f.host = value
		f.hosts++
	case equalFoldLower(name, "upgrade"):
		f.upgrade = value
		f.upgrades++
	case equalFoldLower(name, "connection"):
		f.connectionUpgrade = f.connectionUpgrade || hasToken(value, "upgrade")
	case equalFoldLower(name, "sec-websocket-key"):
		f.key = value
		f.keys++
	case equalFoldLower(name, "sec-websocket-version"):
		f.version = value
		f.versions++
	case equalFoldLower(name, "content-length"):
		// CheckRequest made it 1*DIGIT: a body unless all zeros.
		f.body = f.body || len(bytes.TrimLeft(value, "0")) > 0
	case equalFoldLower(name, "transfer-encoding"):
		f.transferEnc = true
	}
}

// check applies the rules to the recorded fields; scheme and authority are
// those of an absolute-form request-target, or nil.
func (f *handshakeFields) check(scheme, authority []byte) *HTTPError {
	switch {
	case f.transferEnc:
		return errUpgradeTE
	case f.body:
		return errUpgradeBody
	case f.hosts == 0:
		return errNoHost
	case f.hosts > 1:
		return errDupHost
	case !validHostPort(f.host):
		return errBadHost
	case authority != nil && !sameAuthority(scheme, authority, f.host):
		// RFC 9112 §3.2.2 tells an origin server to use the target's
		// authority and ignore Host; the Upgrader's OnHost hook sees
		// Host, so we accept only when both agree.
		return errHostDiff
	case f.upgrades == 0:
		return errNoUpgrade
	case f.upgrades > 1:
		return errDupUpgrade
	case !hasToken(f.upgrade, "websocket"):
		return errBadUpgrade
	case !f.connectionUpgrade:
		return errBadConnection
	case f.versions == 0:
		return errNoWSVersion
	case f.versions > 1:
		return errDupWSVersion
	case string(f.version) != "13":
		return errWSVersion
	case f.keys == 0:
		return errNoKey
	case f.keys > 1:
		return errDupKey
	case !validKey(f.key):
		return errBadKey
	}
	return nil
}

// hasToken reports whether the comma-separated list value (RFC 9110 §5.6.1)
// has an element equal to lower, an ASCII lower-case token, ignoring case.
func hasToken(value []byte, lower string) bool {
	for len(value) > 0 {
		var elem []byte
		elem, value, _ = bytes.Cut(value, []byte(","))
		if equalFoldLower(trimOWSBytes(elem), lower) {
			return true
		}
	}
	return false
}

// validKey reports whether key is the padded standard base64 (RFC 4648 §4)
// of 16 bytes: 22 alphabet characters and "==" (RFC 6455 §4.2.1 item 5).
// Like the usual decoders it accepts non-zero bits in the last
// character's unused low bits (RFC 4648 §3.5 lets decoders reject them).
func validKey(key []byte) bool {
	if len(key) != 24 || key[22] != '=' || key[23] != '=' {
		return false
	}
	for _, c := range key[:22] {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', isDigit(c), c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
