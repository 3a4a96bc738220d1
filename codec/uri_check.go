package codec

import (
	"bytes"
	"net/netip"
	"unsafe"
)

// Errors of the request-target and authority rules of a WebSocket upgrade.
// All are 400.
var (
	// RFC 6455 §4.2.1 item 1: the Request-URI is a /resource name/ (RFC
	// 9112 §3.2.1 origin-form) or an absolute HTTP/HTTPS URI containing
	// it (RFC 9112 §3.2.2 absolute-form); authority-form and asterisk-form
	// are for CONNECT and OPTIONS.
	errTargetForm = badRequest("request-target is neither origin-form nor an absolute http(s) URI")
	// RFC 9112 §3.2: a request-target has no fragment; RFC 6455 §3:
	// fragments MUST NOT be used on WebSocket URIs.
	errTargetFragment = badRequest("fragment in request-target")
	// RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG.
	errPercentEncoding = badRequest("malformed percent-encoding in request-target")
	// RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s)
	// target URI as an error.
	errUserinfo = badRequest("userinfo in request-target")
	// RFC 9110 §4.2.1, RFC 3986 §3.2.2-3: authority = host [":" port], and
	// an http URI with an empty host is invalid.
	errTargetAuthority = badRequest("malformed authority in request-target")
)

// checkTarget checks the request-target of an upgrade, which CheckRequest
// has already limited to visible ASCII. It returns the scheme and
// authority of an absolute-form target, or nils for origin-form.
//
// Besides the characters of RFC 3986 it accepts the visible ASCII that
// browsers leave unencoded in WebSocket URLs (such as "|", "^", "{", "}",
// "[" and "]"; WHATWG URL's path and query percent-encode sets), as Go's
// net/http does.
func checkTarget(target []byte) (scheme, authority []byte, e *HTTPError) {
	for i, c := range target {
		switch c {
		case '#':
			return nil, nil, errTargetFragment
		case '%':
			if i+2 >= len(target) || !isHexDigit(target[i+1]) || !isHexDigit(target[i+2]) {
				return nil, nil, errPercentEncoding
			}
		}
	}
	if target[0] == '/' {
		// origin-form = absolute-path [ "?" query ]
		return nil, nil, nil
	}
	// absolute-form = absolute-URI, here "http(s)://" authority
	// path-abempty [ "?" query ] (RFC 9110 §4.2.1-2, RFC 3986 §3).
	i := bytes.Index(target, []byte("://"))
	if i < 0 || !equalFoldLower(target[:i], "http") && !equalFoldLower(target[:i], "https") {
		return nil, nil, errTargetForm
	}
	scheme, authority = target[:i], target[i+3:]
	for j, c := range authority {
		if c == '/' || c == '?' {
			authority = authority[:j]
			break
		}
	}
	if bytes.IndexByte(authority, '@') >= 0 {
		return nil, nil, errUserinfo
	}
	if !validHostPort(authority) {
		return nil, nil, errTargetAuthority
	}
	return scheme, authority, nil
}

// validHostPort reports whether b is uri-host [":" port] (RFC 9112 §3.2,
// RFC 3986 §3.2.2-3) with a non-empty host, as a WebSocket URI requires
// (RFC 6455 §3; RFC 9110 §4.2.1 for http URIs). It is stricter than RFC
// 3986 in two ways that no WebSocket client needs: a reg-name may not be
// percent-encoded (clients send internationalized names as A-labels, RFC
// 5890), and an IP-literal must be an IPv6address without a zone (no
// IPvFuture, no RFC 6874 zone).
func validHostPort(b []byte) bool {
	var port []byte
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 || !validIPv6(b[1:end]) {
			return false
		}
		port = b[end+1:]
	} else {
		host := b
		if i := bytes.IndexByte(b, ':'); i >= 0 {
			host, port = b[:i], b[i:]
		}
		if len(host) == 0 {
			return false
		}
		for _, c := range host {
			if !isRegNameByte(c) {
				return false
			}
		}
	}
	if len(port) == 0 {
		return true
	}
	// port = *DIGIT (RFC 3986 §3.2.3)
	return port[0] == ':' && (len(port) == 1 || isDigits(port[1:]))
}

// validIPv6 reports whether b is an IPv6address of RFC 3986 §3.2.2.
func validIPv6(b []byte) bool {
	if len(b) == 0 || bytes.IndexByte(b, '%') >= 0 {
		return false
	}
	// ParseAddr neither retains nor modifies a string without a zone.
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	return err == nil && a.Is6()
}

// isRegNameByte reports whether c is unreserved or a sub-delim (RFC 3986
// §2.2-3), the bytes of a reg-name without pct-encoded.
func isRegNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// sameAuthority reports whether the host[:port] authorities a and b, both
// valid, name the same origin for scheme: hosts compare case-insensitively
// (RFC 3986 §3.2.2) and an empty or default port equals no port (RFC 3986
// §6.2.3, RFC 9110 §4.2.3).
func sameAuthority(scheme, a, b []byte) bool {
	def := "80"
	if equalFoldLower(scheme, "https") {
		def = "443"
	}
	ha, pa := splitPort(a, def)
	hb, pb := splitPort(b, def)
	return bytes.EqualFold(ha, hb) && bytes.Equal(pa, pb)
}

// splitPort splits a valid host[:port] into the host and the port without
// leading zeros, or an empty port when it is absent, empty or def.
func splitPort(b []byte, def string) (host, port []byte) {
	i := bytes.LastIndexByte(b, ':')
	if i < 0 || bytes.IndexByte(b[i:], ']') >= 0 {
		return b, nil
	}
	host, port = b[:i], b[i+1:]
	for len(port) > 1 && port[0] == '0' {
		port = port[1:]
	}
	if string(port) == def {
		port = nil
	}
	return host, port
}
