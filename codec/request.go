package codec

import (
	"net/url"
	"strings"
	"unsafe"
)

// Request is a parsed HTTP/1.1 request head held as a single string, which is
// the only per-connection copy. Accessors parse lazily and allocate nothing,
// except Query. Request values are immutable and safe for concurrent reads.
//
// The head format is https://www.rfc-editor.org/rfc/rfc9112#section-2.1.
type Request struct {
	head string
}

// NewRequest copies head (a request line, header lines and optionally the
// terminating blank line) into a new Request. head is not retained.
func NewRequest(head []byte) Request {
	return Request{head: string(head)}
}

// BorrowRequest returns a Request that reads head in place, without a
// copy: it is valid only while head is neither modified nor reused (for
// gnet's buffers: until the event handler returns) and must not be
// retained. Use NewRequest for a Request that outlives head.
func BorrowRequest(head []byte) Request {
	return Request{head: unsafe.String(unsafe.SliceData(head), len(head))}
}

// Head returns the whole request head as given to NewRequest.
func (r *Request) Head() string { return r.head }

// requestLine returns the first line of the head without its line ending.
func (r *Request) requestLine() string {
	line, _, _ := strings.Cut(r.head, "\n")
	return strings.TrimSuffix(line, "\r")
}

// Method returns the request method, such as "GET".
func (r *Request) Method() string {
	method, _, _ := strings.Cut(r.requestLine(), " ")
	return method
}

// URI returns the request target exactly as sent, such as "/ws?room=1".
func (r *Request) URI() string {
	_, rest, ok := strings.Cut(r.requestLine(), " ")
	if !ok {
		return ""
	}
	uri, _, _ := strings.Cut(rest, " ")
	return uri
}

// Path returns the path of the request target, still percent-encoded. For an
// absolute-form target ("http://host/p") the scheme and authority are skipped.
func (r *Request) Path() string {
	uri := r.URI()
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if strings.HasPrefix(uri, "/") {
		return uri
	}
	if _, rest, ok := strings.Cut(uri, "://"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i:]
		}
		return "/"
	}
	return uri
}

// RawQuery returns the query of the request target without the "?", still
// percent-encoded.
func (r *Request) RawQuery() string {
	_, q, ok := strings.Cut(r.URI(), "?")
	if !ok {
		return ""
	}
	q, _, _ = strings.Cut(q, "#")
	return q
}

// Query parses RawQuery into a new url.Values, which the caller owns.
// Malformed pairs are skipped.
func (r *Request) Query() url.Values {
	v, _ := url.ParseQuery(r.RawQuery())
	return v
}

// Header returns the trimmed value of the first header field named name
// (case-insensitive), or "" if there is none.
func (r *Request) Header(name string) (value string) {
	r.Headers(func(k, v string) bool {
		if strings.EqualFold(k, name) {
			value = v
			return false
		}
		return true
	})
	return value
}

// Headers calls fn for each header field in order, with the name as sent and
// the value trimmed of spaces and tabs, until fn returns false. Lines without
// a colon are skipped.
func (r *Request) Headers(fn func(name, value string) bool) {
	headerLines(r.head, fn)
}

// Cookie returns the value of the first cookie called name in the Cookie
// header fields, with surrounding double quotes removed, or "" if there is
// none. https://www.rfc-editor.org/rfc/rfc6265#section-5.4
func (r *Request) Cookie(name string) (value string) {
	r.Headers(func(k, v string) bool {
		if !strings.EqualFold(k, "Cookie") {
			return true
		}
		for v != "" {
			var pair string
			pair, v, _ = strings.Cut(v, ";")
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && k == name {
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				value = val
				return false
			}
		}
		return true
	})
	return value
}

// headerLines walks the header fields of head (skipping the request line)
// until the blank line or fn returns false. Both CRLF and bare LF line endings
// are accepted.
func headerLines(head string, fn func(name, value string) bool) {
	_, rest, _ := strings.Cut(head, "\n")
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if !fn(trimOWS(name), trimOWS(value)) {
			return
		}
	}
}

// trimOWS trims optional whitespace (spaces and tabs):
// https://www.rfc-editor.org/rfc/rfc9110#section-5.6.3
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
