package codec

import (
	"net/http"
	"strconv"
	"strings"
)

const (
	statusBadRequest          = 400
	statusInternalServerError = 500
)

// AppendHTTPResponse appends a minimal HTTP/1.1 response to dst: the status
// line, the given header fields, Content-Length, "Connection: close" and body.
// A Content-Type of text/plain is added when body is not empty and header has
// none. CR and LF are dropped from header names and values so they cannot
// inject fields. status must be in 100-999; anything else becomes 500. header
// and body are not retained.
//
// It serves the non-upgrade replies: 431 for an oversized head, 503 while
// draining, 426 with "Upgrade: websocket" and "Sec-WebSocket-Version: 13"
// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2), and the server's
// HTTP hook.
func AppendHTTPResponse(dst []byte, status int, header [][2]string, body []byte) []byte {
	if status < 100 || status > 999 {
		status = statusInternalServerError
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\n"...)
	hasType := false
	for _, kv := range header {
		if strings.EqualFold(kv[0], "Content-Type") {
			hasType = true
		}
		dst = appendFieldText(dst, kv[0])
		dst = append(dst, ": "...)
		dst = appendFieldText(dst, kv[1])
		dst = append(dst, "\r\n"...)
	}
	if len(body) > 0 && !hasType {
		dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	return append(dst, body...)
}

// appendFieldText appends s without CR and LF.
func appendFieldText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' {
			dst = append(dst, c)
		}
	}
	return dst
}
