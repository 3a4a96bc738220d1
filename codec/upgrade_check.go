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

// checkUpgrade checks head against CheckRequest and the opening handshake
// rules of RFC 6455 §4.2.1. It does not allocate and does not retain head.
func checkUpgrade(head []byte) *HTTPError {
	var r requestSummary
	if e := r.scan(head); e != nil {
		return e
	}
	// scan checked the version's syntax: "HTTP/" DIGIT "." DIGIT.
	if r.version[5] != '1' || r.version[7] == '0' {
		return errUpgradeVersion
	}
	if string(r.method) != http.MethodGet {
		return errUpgradeMethod
	}
	scheme, authority, e := checkTarget(r.target)
	if e != nil {
		return e
	}
	switch {
	case r.hasTE:
		return errUpgradeTE
	case r.hasCL && len(bytes.TrimLeft(r.contentLength, "0")) > 0:
		return errUpgradeBody
	case r.hosts == 0:
		return errNoHost
	case r.hosts > 1:
		return errDupHost
	case !validHostPort(r.host):
		return errBadHost
	case authority != nil && !sameAuthority(scheme, authority, r.host):
		// RFC 9112 §3.2.2 tells an origin server to use the target's
		// authority and ignore Host; the Upgrader's OnHost hook sees
		// Host, so we accept only when both agree.
		return errHostDiff
	case r.upgrades == 0:
		return errNoUpgrade
	case r.upgrades > 1:
		return errDupUpgrade
	case !hasToken(r.upgrade, "websocket"):
		return errBadUpgrade
	case !r.connectionUpgrade:
		return errBadConnection
	case r.wsVersions == 0:
		return errNoWSVersion
	case r.wsVersions > 1:
		return errDupWSVersion
	case string(r.wsVersion) != "13":
		return errWSVersion
	case r.keys == 0:
		return errNoKey
	case r.keys > 1:
		return errDupKey
	case !validKey(r.key):
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
