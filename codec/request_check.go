package codec

import "bytes"

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
	if e := checkRequest(head); e != nil {
		return e
	}
	return nil
}

// checkRequest is CheckRequest with a concrete result type.
func checkRequest(head []byte) *HTTPError {
	line, rest, e := cutLine(head)
	if e != nil {
		return e
	}
	if e := checkRequestLine(line); e != nil {
		return e
	}
	var contentLength []byte
	hasCL, hasTE := false, false
	for {
		if line, rest, e = cutLine(rest); e != nil {
			return e
		}
		if len(line) == 0 {
			break
		}
		name, value, e := cutField(line)
		if e != nil {
			return e
		}
		switch {
		case equalFoldLower(name, "content-length"):
			if !isDigits(value) {
				return errContentLength
			}
			if hasCL && !bytes.Equal(value, contentLength) {
				return errContentLengths
			}
			contentLength, hasCL = value, true
		case equalFoldLower(name, "transfer-encoding"):
			hasTE = true
		}
	}
	if len(rest) > 0 {
		return errAfterHead
	}
	if hasTE && hasCL {
		return errTEAndCL
	}
	return nil
}

// cutLine cuts the first line, which must end in CRLF (RFC 9112 §2.2), off
// b and returns it without its CRLF. A CR inside the line is left for the
// syntax checks of its content to refuse.
func cutLine(b []byte) (line, rest []byte, e *HTTPError) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, errIncompleteHead
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, nil, errBareLF
	}
	return b[:i-1], b[i+1:], nil
}

// checkRequestLine checks request-line = method SP request-target SP
// HTTP-version (RFC 9112 §3), without its CRLF.
func checkRequestLine(line []byte) *HTTPError {
	i := 0
	for i < len(line) && charClass[line[i]]&classTchar != 0 {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ' ' {
		return invalidByte(line, i, errRequestLine)
	}
	line = line[i+1:]
	i = 0
	for i < len(line) && charClass[line[i]]&classVchar != 0 {
		i++
	}
	switch {
	case i == 0:
		return invalidByte(line, i, errRequestLine)
	case i == len(line):
		return errRequestLine
	case line[i] != ' ':
		return invalidByte(line, i, errRequestTarget)
	}
	if v := line[i+1:]; !validHTTPVersion(v) {
		if bytes.IndexByte(v, '\r') >= 0 {
			return errBareCR
		}
		return errHTTPVersion
	}
	return nil
}

// validHTTPVersion reports whether v is HTTP-version = HTTP-name "/" DIGIT
// "." DIGIT (RFC 9112 §2.3); HTTP-name is case-sensitive.
func validHTTPVersion(v []byte) bool {
	return len(v) == len("HTTP/1.1") && string(v[:5]) == "HTTP/" &&
		isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

// cutField splits field-line = field-name ":" OWS field-value OWS (RFC 9112
// §5), a non-empty line, into the name and the value without OWS.
func cutField(line []byte) (name, value []byte, e *HTTPError) {
	i := 0
	for i < len(line) && charClass[line[i]]&classTchar != 0 {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		colon := bytes.IndexByte(line, ':')
		switch {
		case line[0] == ' ' || line[0] == '\t':
			return nil, nil, errObsFold
		case colon < 0:
			return nil, nil, errNoColon
		case i > 0 && len(trimOWSBytes(line[i:colon])) == 0:
			return nil, nil, errSpaceBeforeColon
		}
		return nil, nil, invalidByte(line, i, errFieldName)
	}
	value = line[i+1:]
	for j, c := range value {
		if charClass[c]&classFieldValue == 0 {
			return nil, nil, invalidByte(value, j, errFieldValue)
		}
	}
	return line[:i], trimOWSBytes(value), nil
}

// invalidByte returns errBareCR when b[i] is a CR and e otherwise.
func invalidByte(b []byte, i int, e *HTTPError) *HTTPError {
	if i < len(b) && b[i] == '\r' {
		return errBareCR
	}
	return e
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

// equalFoldLower reports whether b equals lower, an ASCII lower-case
// string, ignoring ASCII case.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
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
