package loadgen

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxHead bounds the upgrade response head.
const maxHead = 8 << 10

// keyLen is the length of a base64 Sec-WebSocket-Key (16 random bytes).
const keyLen = 24

// acceptLen is the length of a base64 Sec-WebSocket-Accept (SHA-1).
const acceptLen = 28

// makeKey encodes 16 random bytes as a Sec-WebSocket-Key.
func makeKey(raw [16]byte) (k [keyLen]byte) {
	base64.StdEncoding.Encode(k[:], raw[:])
	return k
}

// acceptFor is the Sec-WebSocket-Accept a server must answer key with.
func acceptFor(key []byte) (a [acceptLen]byte) {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	base64.StdEncoding.Encode(a[:], h.Sum(sum[:0]))
	return a
}

// appendRequest appends an HTTP/1.1 upgrade request, offering ext as
// Sec-WebSocket-Extensions and proto as Sec-WebSocket-Protocol unless they
// are empty.
func appendRequest(dst []byte, host, path string, key []byte, ext, proto string) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if ext != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, ext...)
		dst = append(dst, "\r\n"...)
	}
	if proto != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, proto...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

var (
	errNotUpgraded = errors.New("upgrade refused: status is not 101")
	errBadAccept   = errors.New("upgrade: wrong or missing Sec-WebSocket-Accept")
	errHeadTooBig  = errors.New("upgrade: response head too large")
	errNoExtension = errors.New("upgrade: the offered extension was not accepted")
)

// parseResponse looks for a complete response head in b. It returns the
// head's length (0 while incomplete) and whether it is a 101 carrying the
// expected Sec-WebSocket-Accept and, when wantExt is set, a
// Sec-WebSocket-Extensions header (the offered extension was accepted).
func parseResponse(b []byte, accept []byte, wantExt bool) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxHead {
			return 0, errHeadTooBig
		}
		return 0, nil
	}
	n := end + 4
	head := b[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// Status line: HTTP/1.1 101 Switching Protocols
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 101")) || len(line) > 12 && line[12] != ' ' {
		return n, fmt.Errorf("%w: %q", errNotUpgraded, line)
	}
	accepted, ext := false, false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			if !bytes.Equal(bytes.TrimSpace(value), accept) {
				return n, errBadAccept
			}
			accepted = true
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")):
			ext = true
		}
	}
	switch {
	case !accepted:
		return n, errBadAccept
	case wantExt && !ext:
		return n, errNoExtension
	}
	return n, nil
}

// appendFrame appends one final, masked client frame with the given opcode
// and payload; the payload is masked in dst, not in place.
func appendFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	dst = appendFrameHeader(dst, op, len(payload), mask)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// appendFrameHeader appends the header of a final, masked client frame
// carrying n payload bytes.
func appendFrameHeader(dst []byte, op byte, n int, mask [4]byte) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, mask[:]...)
}

// header is a parsed server frame header.
type header struct {
	fin    bool
	op     byte
	hdrLen int // bytes of header
	payLen int // bytes of payload
}

var (
	errMaskedServerFrame = errors.New("protocol: masked frame from server")
	errReservedBits      = errors.New("protocol: reserved bits set")
	errFrameTooBig       = errors.New("protocol: frame too large")
	errBadControl        = errors.New("protocol: bad control frame")
	errBadOpcode         = errors.New("protocol: unknown opcode")
)

// parseHeader parses a frame header at the start of b. ok is false when b
// does not hold the whole header yet.
func parseHeader(b []byte, maxPayload int) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.op = b0 & 0x0f
	if b0&0x70 != 0 {
		return h, false, errReservedBits
	}
	if b1&0x80 != 0 {
		return h, false, errMaskedServerFrame
	}
	n := int(b1 & 0x7f)
	h.hdrLen = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		n = int(binary.BigEndian.Uint16(b[2:4]))
		h.hdrLen = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v > uint64(maxPayload) {
			return h, false, errFrameTooBig
		}
		n = int(v)
		h.hdrLen = 10
	}
	if n > maxPayload {
		return h, false, errFrameTooBig
	}
	h.payLen = n
	switch h.op {
	case opCont, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || n > 125 {
			return h, false, errBadControl
		}
	default:
		return h, false, errBadOpcode
	}
	return h, true, nil
}
