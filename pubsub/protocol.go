package pubsub

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Subprotocols of the wire protocol (see the package documentation). A
// client that negotiates none speaks SubprotocolJSON.
const (
	SubprotocolJSON   = "wsloop.json"
	SubprotocolBinary = "wsloop.bin"
)

// binPublication is the first byte of a binary publication frame.
const binPublication = 0x01

// request is a client's message.
type request struct {
	Op       string          `json:"op"`
	ID       json.RawMessage `json:"id,omitempty"`
	Topic    string          `json:"topic"`
	Since    *wirePosition   `json:"since,omitempty"`
	Conflate bool            `json:"conflate,omitempty"`
}

// wirePosition is a Position as JSON: the epoch as 16 hex digits (a
// uint64 does not fit a JavaScript number).
type wirePosition struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

func (w *wirePosition) position() (Position, bool) {
	e, err := strconv.ParseUint(w.Epoch, 16, 64)
	return Position{Epoch: e, Seq: w.Seq}, err == nil && len(w.Epoch) == 16
}

// appendEpoch writes an epoch as 16 lowercase hex digits.
func appendEpoch(dst []byte, e uint64) []byte {
	const hex = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hex[(e>>uint(i))&0xf])
	}
	return dst
}

// appendJSONMessage encodes a publication for SubprotocolJSON:
// {"op":"msg","topic":…,"epoch":…,"seq":…,"key":…,"data":…}. data is
// embedded as is when it is JSON, else as a JSON string.
func appendJSONMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"op":"msg","topic":`...)
	dst = appendJSONString(dst, m.Topic)
	dst = append(dst, `,"epoch":"`...)
	dst = appendEpoch(dst, m.Epoch)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	if m.Key != "" {
		dst = append(dst, `,"key":`...)
		dst = appendJSONString(dst, m.Key)
	}
	dst = append(dst, `,"data":`...)
	if json.Valid(m.Data) {
		dst = append(dst, m.Data...)
	} else {
		dst = appendJSONString(dst, string(m.Data))
	}
	return append(dst, '}')
}

// appendBinaryMessage encodes a publication for SubprotocolBinary: 0x01,
// topic length (1 byte) and topic, epoch and sequence (8 bytes each, big
// endian), key length (1 byte) and key, then the data to the frame's end.
func appendBinaryMessage(dst []byte, m *Message) []byte {
	dst = append(dst, binPublication, byte(len(m.Topic)))
	dst = append(dst, m.Topic...)
	dst = binary.BigEndian.AppendUint64(dst, m.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, m.Seq)
	dst = append(dst, byte(len(m.Key))) // Publish keeps keys within MaxKeyLen
	dst = append(dst, m.Key...)
	return append(dst, m.Data...)
}

// appendSubscribed encodes the answer to a subscribe: the position live
// messages continue from, and whether recovery worked when asked.
func appendSubscribed(dst []byte, id json.RawMessage, topic string, pos Position, recovery string) []byte {
	dst = append(dst, `{"op":"subscribed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, topic)
	dst = append(dst, `,"epoch":"`...)
	dst = appendEpoch(dst, pos.Epoch)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, pos.Seq, 10)
	if recovery != "" {
		dst = append(dst, `,"recovery":"`...)
		dst = append(dst, recovery...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendUnsubscribed encodes the answer to an unsubscribe.
func appendUnsubscribed(dst []byte, id json.RawMessage, topic string) []byte {
	dst = append(dst, `{"op":"unsubscribed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, topic)
	return append(dst, '}')
}

// appendError encodes an error answer.
func appendError(dst []byte, id json.RawMessage, code, msg string) []byte {
	dst = append(dst, `{"op":"error"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"code":"`...)
	dst = append(dst, code...)
	dst = append(dst, `","message":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, '}')
}

func appendID(dst []byte, id json.RawMessage) []byte {
	if len(id) == 0 {
		return dst
	}
	dst = append(dst, `,"id":`...)
	return append(dst, id...)
}

// appendJSONString writes s as a JSON string (RFC 8259 §7); invalid UTF-8
// becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b < ' ':
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
