package natsbroker

import (
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/wsloop/wsloop/pubsub"
)

// Headers of a message: its key, and its kind when not pubsub.Update.
const (
	keyHeader  = "Wsloop-Key"
	kindHeader = "Wsloop-Kind"
)

// Values of kindHeader.
const (
	kindDelete = "delete"
	kindEvent  = "event"
)

// headers are the headers of a message of kind with key (nil: none).
func headers(kind pubsub.Kind, key string) nats.Header {
	if key == "" && (kind == pubsub.Update || kind == 0) {
		return nil
	}
	h := make(nats.Header, 2)
	if key != "" {
		h[keyHeader] = []string{encodeKey(key)}
	}
	switch kind {
	case pubsub.Delete:
		h[kindHeader] = []string{kindDelete}
	case pubsub.Event:
		h[kindHeader] = []string{kindEvent}
	}
	return h
}

// messageHeaders are the key and kind of a message's headers.
func messageHeaders(h nats.Header) (key string, kind pubsub.Kind) {
	if h == nil {
		return "", pubsub.Update
	}
	switch h.Get(kindHeader) {
	case kindDelete:
		kind = pubsub.Delete
	case kindEvent:
		kind = pubsub.Event
	default:
		kind = pubsub.Update
	}
	return decodeKey(h.Get(keyHeader)), kind
}

// A message's key travels in its keyHeader. NATS headers lose
// CR and LF and trim spaces, so encodeKey percent-encodes '%', space and
// control bytes; other keys travel as they are.

// keyNeedsEscape reports whether byte c of a key is percent-encoded.
func keyNeedsEscape(c byte) bool { return c <= ' ' || c == 0x7f || c == '%' }

const hexDigits = "0123456789ABCDEF"

// encodeKey is key as a header value.
func encodeKey(key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if keyNeedsEscape(key[i]) {
			n++
		}
	}
	if n == 0 {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 2*n)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if keyNeedsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeKey is the key of header value v (from encodeKey; a malformed
// escape is kept as it is).
func decodeKey(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && unhex(v[i+1]) >= 0 && unhex(v[i+2]) >= 0 {
			b.WriteByte(byte(unhex(v[i+1])<<4 + unhex(v[i+2])))
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
