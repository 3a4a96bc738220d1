package codec

import (
	"net/http"
	"strconv"
)

// HTTPError is a request the server must refuse with an HTTP error response
// instead of handling it: Status is the response status, Header the fields
// the status requires (such as "Allow: GET" for 405), and Reason a short
// ASCII description for the response body and the logs.
//
// The errors returned by CheckRequest and Upgrade are package-level values,
// so refusing a request allocates nothing; do not modify them.
type HTTPError struct {
	Status int
	Header [][2]string
	Reason string
}

// Error implements the error interface.
func (e *HTTPError) Error() string {
	return "http: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Reason
}

// AppendResponse appends the response that refuses the request to dst, built
// with AppendHTTPResponse: e.Status, e.Header and a text/plain body such as
// "400 Bad Request: duplicate Host header field\n". The caller sends it and
// closes the connection.
func (e *HTTPError) AppendResponse(dst []byte) []byte {
	var buf [128]byte
	body := strconv.AppendInt(buf[:0], int64(e.Status), 10)
	body = append(body, ' ')
	body = append(body, http.StatusText(e.Status)...)
	body = append(body, ": "...)
	body = append(body, e.Reason...)
	body = append(body, '\n')
	return AppendHTTPResponse(dst, e.Status, e.Header, body)
}

// badRequest returns a 400 (Bad Request) error with the given reason.
func badRequest(reason string) *HTTPError {
	return &HTTPError{Status: http.StatusBadRequest, Reason: reason}
}
