package codec

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// reqHead builds a request head from a request line and field lines.
func reqHead(requestLine string, fields ...string) string {
	return lines(append([]string{requestLine}, fields...)...)
}

func TestCheckRequest(t *testing.T) {
	get := "GET / HTTP/1.1"
	for _, tc := range []struct {
		name string
		head string
		want *HTTPError // nil: valid
	}{
		{"chrome", chromeHead, nil},
		{"firefox", firefoxHead, nil},
		{"curl", curlHead, nil},
		{"python", pythonHead, nil},
		{"minimal", reqHead(get), nil},
		{"asterisk-form", reqHead("OPTIONS * HTTP/1.1", "Host: x"), nil},
		{"authority-form", reqHead("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), nil},
		{"absolute-form", reqHead("GET http://example.com/a?b HTTP/1.1", "Host: example.com"), nil},
		{"extension method", reqHead("M-SEARCH * HTTP/1.1", "Host: x"), nil},
		{"HTTP/1.0", reqHead("GET / HTTP/1.0"), nil},
		{"HTTP/2.0 syntax", reqHead("GET / HTTP/2.0"), nil},
		{"no OWS", reqHead(get, "X:a"), nil},
		{"empty value", reqHead(get, "X:", "Y: \t "), nil},
		{"HTAB in value", reqHead(get, "X: a\tb"), nil},
		{"obs-text in value", reqHead(get, "X: caf\xc3\xa9 \xff"), nil},
		{"token name bytes", reqHead(get, "!#$%&'*+-.^_`|~09azAZ: x"), nil},
		{"Content-Length 0", reqHead(get, "Content-Length: 0"), nil},
		{"Content-Length body", reqHead(get, "Content-Length: 5"), nil},
		{"Content-Length repeated", reqHead(get, "Content-Length: 5", "content-length:5 "), nil},
		{"Transfer-Encoding alone", reqHead(get, "Transfer-Encoding: chunked"), nil},

		{"empty", "", errIncompleteHead},
		{"no empty line", get + "\r\nHost: x\r\n", errIncompleteHead},
		{"no CRLF at all", get, errIncompleteHead},
		{"bytes after head", reqHead(get, "Host: x") + "hello", errAfterHead},
		{"second request", reqHead(get) + reqHead(get), errAfterHead},
		{"bare LF request line", get + "\nHost: x\r\n\r\n", errBareLF},
		{"bare LF field line", get + "\r\nHost: x\n\r\n", errBareLF},
		{"bare LF empty line", get + "\r\nHost: x\r\n\n", errBareLF},
		{"all bare LF", get + "\nHost: x\n\n", errBareLF},
		{"bare CR in value", reqHead(get, "X: a\rb"), errBareCR},
		{"bare CR ends value", reqHead(get, "X: a\r"), errBareCR},
		{"bare CR in name", reqHead(get, "X\rY: a"), errBareCR},
		{"bare CR in method", reqHead("GE\rT / HTTP/1.1"), errBareCR},
		{"bare CR in target", reqHead("GET /\r HTTP/1.1"), errBareCR},
		{"bare CR in version", reqHead("GET / HTTP/1.1\r"), errBareCR},
		{"empty request line", "\r\n" + reqHead(get), errRequestLine},
		{"only empty line", "\r\n\r\n", errRequestLine},
		{"one word", reqHead("GARBAGE"), errRequestLine},
		{"no version", reqHead("GET /"), errRequestLine},
		{"leading SP", reqHead(" GET / HTTP/1.1"), errRequestLine},
		{"double SP before target", reqHead("GET  / HTTP/1.1"), errRequestLine},
		{"double SP before version", reqHead("GET /  HTTP/1.1"), errHTTPVersion},
		{"trailing SP", reqHead("GET / HTTP/1.1 "), errHTTPVersion},
		{"HTAB separator", reqHead("GET\t/ HTTP/1.1"), errRequestLine},
		{"non-token method", reqHead("G(T / HTTP/1.1"), errRequestLine},
		{"non-ASCII method", reqHead("G\xc9T / HTTP/1.1"), errRequestLine},
		{"HTAB in target", reqHead("GET /a\tb HTTP/1.1"), errRequestTarget},
		{"NUL in target", reqHead("GET /a\x00 HTTP/1.1"), errRequestTarget},
		{"DEL in target", reqHead("GET /a\x7f HTTP/1.1"), errRequestTarget},
		{"non-ASCII target", reqHead("GET /caf\xc3\xa9 HTTP/1.1"), errRequestTarget},
		{"three spaces", reqHead("GET / x HTTP/1.1"), errHTTPVersion},
		{"lower-case version", reqHead("GET / http/1.1"), errHTTPVersion},
		{"two-digit minor", reqHead("GET / HTTP/1.10"), errHTTPVersion},
		{"no minor", reqHead("GET / HTTP/1"), errHTTPVersion},
		{"letters", reqHead("GET / HTTP/x.y"), errHTTPVersion},
		{"space before colon", reqHead(get, "Upgrade : websocket"), errSpaceBeforeColon},
		{"HTAB before colon", reqHead(get, "Upgrade\t: websocket"), errSpaceBeforeColon},
		{"0xFF in name", reqHead(get, "Up\xffgrade: websocket"), errFieldName},
		{"0xFF name", reqHead(get, "\xff: x"), errFieldName},
		{"space in name", reqHead(get, "Sec WebSocket Key: x"), errFieldName},
		{"empty name", reqHead(get, ": x"), errFieldName},
		{"separator in name", reqHead(get, "X(1): x"), errFieldName},
		{"no colon", reqHead(get, "Pragma no-cache"), errNoColon},
		{"token without colon", reqHead(get, "Pragma"), errNoColon},
		{"obs-fold SP", reqHead(get, "X: a", " b"), errObsFold},
		{"obs-fold HTAB", reqHead(get, "X: a", "\tb: c"), errObsFold},
		{"whitespace before first field", reqHead(get, " Host: x"), errObsFold},
		{"NUL in value", reqHead(get, "X: a\x00b"), errFieldValue},
		{"SOH in value", reqHead(get, "X: \x01"), errFieldValue},
		{"DEL in value", reqHead(get, "X: a\x7f"), errFieldValue},
		{"ESC in value", reqHead(get, "X: \x1b[31m"), errFieldValue},
		{"empty Content-Length", reqHead(get, "Content-Length:"), errContentLength},
		{"negative Content-Length", reqHead(get, "Content-Length: -1"), errContentLength},
		{"signed Content-Length", reqHead(get, "Content-Length: +1"), errContentLength},
		{"hex Content-Length", reqHead(get, "Content-Length: 0x10"), errContentLength},
		{"Content-Length list", reqHead(get, "Content-Length: 5, 5"), errContentLength},
		{"Content-Length inner space", reqHead(get, "Content-Length: 1 2"), errContentLength},
		{"differing Content-Length", reqHead(get, "Content-Length: 5", "Content-Length: 6"), errContentLengths},
		{"Content-Length 0 and 00", reqHead(get, "Content-Length: 0", "Content-Length: 00"), errContentLengths},
		{"TE and CL", reqHead(get, "Transfer-Encoding: chunked", "Content-Length: 5"), errTEAndCL},
		{"CL and TE", reqHead(get, "content-length: 0", "TRANSFER-ENCODING: identity"), errTEAndCL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRequest([]byte(tc.head))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckRequest(%q) = %v, want nil", tc.head, err)
				}
				return
			}
			if err != error(tc.want) {
				t.Fatalf("CheckRequest(%q) = %v, want %v", tc.head, err, tc.want)
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != 400 {
				t.Fatalf("error %#v is not a 400 *HTTPError", err)
			}
			checkRefusal(t, he, 400, nil)
		})
	}
}

// checkRefusal checks that e's response is a well-formed HTTP response
// with the status, the header fields and a body naming the reason.
func checkRefusal(t *testing.T, e *HTTPError, status int, header map[string]string) {
	t.Helper()
	resp := e.AppendResponse([]byte("pre"))
	if !bytes.HasPrefix(resp, []byte("pre")) || !wellFormedStatus(resp[3:]) {
		t.Fatalf("malformed response %q", resp)
	}
	r := parseResponse(t, resp[3:])
	if r.StatusCode != status || !r.Close {
		t.Fatalf("status %d close %v, want %d and close: %q", r.StatusCode, r.Close, status, resp)
	}
	for k, v := range header {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || !strings.Contains(string(body), e.Reason) || !strings.HasSuffix(string(body), "\n") {
		t.Errorf("body %q (%v) does not give the reason %q", body, err, e.Reason)
	}
	if !strings.Contains(e.Error(), e.Reason) {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestCheckRequestAllocs(t *testing.T) {
	heads := [][]byte{[]byte(chromeHead), []byte(reqHead("GET / HTTP/1.1", "Upgrade : websocket"))}
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(100, func() {
		for _, h := range heads {
			if err := CheckRequest(h); err != nil {
				dst = err.(*HTTPError).AppendResponse(dst[:0])
			}
		}
	}); a != 0 {
		t.Fatalf("CheckRequest allocs = %v, want 0", a)
	}
}
