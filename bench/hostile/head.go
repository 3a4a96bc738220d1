package hostile

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// Head is an upgrade request as raw lines, so that a case can break it
// any way it likes: Bytes joins the request line and the field lines with
// EOL and ends the head with an empty line.
type Head struct {
	Line  string   // request line
	Lines []string // field lines, exactly as sent
	EOL   string   // line terminator; "" means CRLF
	Body  []byte   // sent right after the head
	key   string
}

// NewKey returns a fresh Sec-WebSocket-Key: base64 of 16 random bytes
// (RFC 6455 §4.1).
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// AcceptOf is the Sec-WebSocket-Accept a server must answer key with
// (RFC 6455 §4.2.2).
func AcceptOf(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// NewHead is a valid client handshake for host (RFC 6455 §4.1).
func NewHead(host string) *Head {
	key := NewKey()
	return &Head{
		Line: "GET /hostile HTTP/1.1",
		Lines: []string{
			"Host: " + host,
			"Upgrade: websocket",
			"Connection: Upgrade",
			"Sec-WebSocket-Key: " + key,
			"Sec-WebSocket-Version: 13",
		},
		key: key,
	}
}

// Key is the Sec-WebSocket-Key the head was made with (a case that
// replaces the field changes what is sent, not this).
func (h *Head) Key() string { return h.key }

// fieldName is the name of a raw field line, lower-cased and trimmed.
func fieldName(line string) string {
	name, _, _ := strings.Cut(line, ":")
	return strings.ToLower(strings.TrimSpace(name))
}

// Set replaces the field lines named name by lines (none: removes them),
// at the position of the first one (or at the end).
func (h *Head) Set(name string, lines ...string) *Head {
	name = strings.ToLower(name)
	out := make([]string, 0, len(h.Lines)+len(lines))
	done := false
	for _, l := range h.Lines {
		if fieldName(l) != name {
			out = append(out, l)
			continue
		}
		if !done {
			out = append(out, lines...)
			done = true
		}
	}
	if !done {
		out = append(out, lines...)
	}
	h.Lines = out
	return h
}

// Add appends field lines.
func (h *Head) Add(lines ...string) *Head {
	h.Lines = append(h.Lines, lines...)
	return h
}

// Bytes is the head as sent, followed by Body.
func (h *Head) Bytes() []byte {
	eol := h.EOL
	if eol == "" {
		eol = "\r\n"
	}
	var b strings.Builder
	b.WriteString(h.Line)
	b.WriteString(eol)
	for _, l := range h.Lines {
		b.WriteString(l)
		b.WriteString(eol)
	}
	b.WriteString(eol)
	b.Write(h.Body)
	return []byte(b.String())
}
