package codec

import (
	"bytes"
)

// Errors of CheckRequest: a request head that breaks the message syntax of
// RFC 9112 (https://www.rfc-editor.org/rfc/rfc9112) or the field syntax of
// RFC 9110 (https://www.rfc-editor.org/rfc/rfc9110). All are 400.
var (
	// RFC 9112 §2.1: a head ends with an empty line.
	errIncompleteHead = badRequest("incomplete request head")
	// Bytes after the empty line are a body or the next message, not head.
	errAfterHead = badRequest("bytes after the end of the request head")
	// RFC 9112 §2.2 lets a recipient accept a bare LF as a line terminator;
	// we do not: every line must end in CRLF.
	errBareLF = badRequest("line not terminated by CRLF")
	// RFC 9112 §2.2: a bare CR is invalid.
	errBareCR = badRequest("bare CR")
	// RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
	// method a token (RFC 9110 §9.1), separated by exactly one SP. This also
	// refuses an empty line before the request line, which RFC 9112 §2.2
	// says a server SHOULD ignore.
	errRequestLine = badRequest("malformed request line")
	// RFC 9112 §3.2: the request-target is a URI form, which has no
	// whitespace, control characters or non-ASCII bytes (RFC 3986 §2).
	errRequestTarget = badRequest("malformed request-target")
	// RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT.
	errHTTPVersion = badRequest("malformed HTTP version")
	// RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) must be
	// refused outside message/http; RFC 9112 §2.2: so must whitespace
	// before the first field line.
	errObsFold = badRequest("obsolete line folding")
	// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
	errNoColon = badRequest("header field line without a colon")
	// RFC 9110 §5.1: field-name = token.
	errFieldName = badRequest("header field name is not a token")
	// RFC 9112 §5.1: a server MUST reject whitespace between the field name
	// and the colon with 400.
	errSpaceBeforeColon = badRequest("whitespace between header field name and colon")
	// RFC 9110 §5.5: CR, LF, NUL and the other control characters except
	// HTAB are invalid in a field value.
	errFieldValue = badRequest("control character in header field value")
	// RFC 9110 §8.6: Content-Length = 1*DIGIT.
	errContentLength = badRequest("malformed Content-Length")
	// RFC 9112 §6.3 item 5: differing Content-Length values are an
	// unrecoverable error.
	errContentLengths = badRequest("conflicting Content-Length values")
	// RFC 9112 §6.1: Transfer-Encoding and Content-Length together may be
	// request smuggling; we refuse the request.
	errTEAndCL = badRequest("both Transfer-Encoding and Content-Length")
)

// Character classes of the HTTP grammar, for charClass.
const (
	// tchar of RFC 9110 §5.6.2: the bytes of a token.
	classTchar = 1 << iota
	// VCHAR (%x21-7E) of RFC 5234 Appendix B.1.
	classVchar
	// field-vchar, SP or HTAB of RFC 9110 §5.5: the bytes of a field value
	// (VCHAR, obs-text %x80-FF, SP, HTAB).
	classFieldValue
)

var charClass = func() (t [256]uint8) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] |= classVchar | classFieldValue
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] |= classFieldValue
	}
	t[' '] |= classFieldValue
	t['\t'] |= classFieldValue
	for _, c := range []byte("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		t[c] |= classTchar
	}
	return t
}()

// CheckRequest checks that head, a complete request head as found by
// HeadScanner (request line, field lines and the empty line, nothing after
// it), follows the HTTP/1.1 message syntax of RFC 9112, more strictly than
// RFC 9112 requires where it lets a recipient choose:
//
//   - request-line = method SP request-target SP HTTP-version CRLF, with
//     method a token, exactly one SP between the parts, a request-target of
//     visible ASCII (no whitespace, control characters or non-ASCII bytes)
//     and HTTP-version "HTTP/" DIGIT "." DIGIT (RFC 9112 §3, §2.3);
//   - every line ends in CRLF: a bare LF or a bare CR is refused, though
//     RFC 9112 §2.2 lets a recipient accept a bare LF;
//   - field-line = field-name ":" OWS field-value OWS, with field-name a
//     token and no whitespace before the colon (RFC 9112 §5, §5.1; RFC 9110
//     §5.1), no obs-fold (RFC 9112 §5.2), and no control character in the
//     value except HTAB (RFC 9110 §5.5);
//   - Content-Length is 1*DIGIT and, when repeated, identical (RFC 9110
//     §8.6, RFC 9112 §6.3), and does not come with Transfer-Encoding (RFC
//     9112 §6.1).
//
// It returns nil or an *HTTPError with status 400. It does not allocate and
// does not retain head.
func CheckRequest(head []byte) error {
	var r requestSummary
	if e := r.scan(head); e != nil {
		return e
	}
	return nil
}

// requestSummary is what one scan of a request head records for the checks:
// the parts of the request line and the header fields that the rules of
// RFC 9112 and RFC 6455 §4.2.1 count or read. The slices alias the head,
// and values are trimmed of OWS. For a field that may appear only once the
// last value is kept.
type requestSummary struct {
	method, target, version []byte

	contentLength []byte
	hasCL, hasTE  bool

	host, upgrade, key, wsVersion     []byte
	hosts, upgrades, keys, wsVersions int
	connectionUpgrade                 bool
}

// scan checks the syntax of head, a complete request head, as CheckRequest
// documents, and records its summary in r. It reads every byte once and
// does not allocate.
func (r *requestSummary) scan(head []byte) *HTTPError {
	i, e := r.scanRequestLine(head)
	if e != nil {
		return e
	}
	for {
		if i < len(head) && head[i] == '\r' && i+1 < len(head) && head[i+1] == '\n' {
			i += 2 // the empty line
			break
		}
		if i < len(head) && (head[i] == ' ' || head[i] == '\t') {
			return errObsFold
		}
		// field-line = field-name ":" OWS field-value OWS
		start := i
		i = skipClass(head, i, classTchar)
		if i == start || i == len(head) || head[i] != ':' {
			return fieldNameError(head, start, i)
		}
		name := head[start:i]
		i++
		start = i
		i = skipClass(head, i, classFieldValue)
		value := head[start:i]
		if i, e = lineEnd(head, i, errFieldValue); e != nil {
			return e
		}
		if e := r.add(name, trimOWSBytes(value)); e != nil {
			return e
		}
	}
	if i < len(head) {
		return errAfterHead
	}
	if r.hasTE && r.hasCL {
		return errTEAndCL
	}
	return nil
}

// skipClass returns the index of the first byte from head[i] on that is not
// in class, or len(head).
func skipClass(head []byte, i int, class uint8) int {
	for i < len(head) && charClass[head[i]]&class != 0 {
		i++
	}
	return i
}

// scanRequestLine checks request-line = method SP request-target SP
// HTTP-version CRLF (RFC 9112 §3) at the start of head and returns the index
// after it.
func (r *requestSummary) scanRequestLine(head []byte) (int, *HTTPError) {
	i := skipClass(head, 0, classTchar)
	if i == 0 || i == len(head) || head[i] != ' ' {
		return 0, stopError(head, i, errRequestLine)
	}
	r.method = head[:i]
	i++
	start := i
	i = skipClass(head, i, classVchar)
	if i == start || i == len(head) || head[i] != ' ' {
		e := errRequestTarget
		if i == start || i+1 < len(head) && head[i] == '\r' && head[i+1] == '\n' {
			e = errRequestLine
		}
		return 0, stopError(head, i, e)
	}
	r.target = head[start:i]
	i++
	start = i
	for i < len(head) && head[i] != '\r' && head[i] != '\n' {
		i++
	}
	if i < len(head) && !validHTTPVersion(head[start:i]) {
		return 0, errHTTPVersion
	}
	r.version = head[start:i]
	return lineEnd(head, i, errHTTPVersion)
}

// lineEnd returns the index after the CRLF that must be at head[i], where
// a scan stopped, or the error for what is there instead: e for a byte the
// scan does not accept.
func lineEnd(head []byte, i int, e *HTTPError) (int, *HTTPError) {
	if i+1 < len(head) && head[i] == '\r' && head[i+1] == '\n' {
		return i + 2, nil
	}
	return 0, stopError(head, i, e)
}

// stopError is the error for the byte at head[i] where a scan of a line
// stopped before its end: incomplete at the end of head, a bare CR or bare
// LF, and e otherwise (including a CRLF that ends the line too early).
func stopError(head []byte, i int, e *HTTPError) *HTTPError {
	switch {
	case i >= len(head) || head[i] == '\r' && i+1 == len(head):
		return errIncompleteHead
	case head[i] == '\n':
		return errBareLF
	case head[i] == '\r' && head[i+1] != '\n':
		return errBareCR
	}
	return e
}

// fieldNameError is the error for a field line starting at head[start]
// whose name scan stopped at head[i] before a colon, or at a colon with an
// empty name.
func fieldNameError(head []byte, start, i int) *HTTPError {
	end := i
	for end < len(head) && head[end] != '\r' && head[end] != '\n' {
		end++
	}
	colon := bytes.IndexByte(head[start:end], ':')
	switch {
	case colon < 0:
		return stopError(head, end, errNoColon)
	case i > start && (head[i] == ' ' || head[i] == '\t') && len(trimOWSBytes(head[i:start+colon])) == 0:
		return errSpaceBeforeColon
	}
	return stopError(head, i, errFieldName)
}

// add records one header field; it checks Content-Length (RFC 9110 §8.6,
// RFC 9112 §6.3 item 5).
func (r *requestSummary) add(name, value []byte) *HTTPError {
	switch len(name) {
	case len("host"):
		if equalFoldLower(name, "host") {
			r.host = value
			r.hosts++
		}
	case len("upgrade"):
		if equalFoldLower(name, "upgrade") {
			r.upgrade = value
			r.upgrades++
		}
	case len("connection"):
		if equalFoldLower(name, "connection") && !r.connectionUpgrade {
			r.connectionUpgrade = hasToken(value, "upgrade")
		}
	case len("content-length"):
		if !equalFoldLower(name, "content-length") {
			break
		}
		if !isDigits(value) {
			return errContentLength
		}
		if r.hasCL && !bytes.Equal(value, r.contentLength) {
			return errContentLengths
		}
		r.contentLength, r.hasCL = value, true
	case len("transfer-encoding"): // and len("sec-websocket-key")
		if equalFoldLower(name, "transfer-encoding") {
			r.hasTE = true
		} else if equalFoldLower(name, "sec-websocket-key") {
			r.key = value
			r.keys++
		}
	case len("sec-websocket-version"):
		if equalFoldLower(name, "sec-websocket-version") {
			r.wsVersion = value
			r.wsVersions++
		}
	}
	return nil
}

// validHTTPVersion reports whether v is HTTP-version = HTTP-name "/" DIGIT
// "." DIGIT (RFC 9112 §2.3); HTTP-name is case-sensitive.
func validHTTPVersion(v []byte) bool {
	return len(v) == len("HTTP/1.1") && string(v[:5]) == "HTTP/" &&
		isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

// trimOWSBytes trims optional whitespace, SP and HTAB (RFC 9110 §5.6.3).
func trimOWSBytes(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldLower reports whether b equals lower, a string of lower-case
// letters and "-", ignoring ASCII case. Setting bit 0x20 maps exactly a
// letter and its upper case to the letter, and "-" and CR to "-": b must
// hold no CR, which tokens and checked field values never do.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isDigits reports whether b is 1*DIGIT.
func isDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}
