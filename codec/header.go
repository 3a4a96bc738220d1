package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// Wire layout of a frame header:
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2
const (
	bitFin    = 0x80
	bitMask   = 0x80
	maskRsv   = 0x70
	maskOp    = 0x0f
	maskLen7  = 0x7f
	len16Mark = 126
	len64Mark = 127
	maxLen7   = 125
	maxLen16  = 0xffff
)

// ParseHeader parses a frame header at the start of b without allocating.
//
// It returns the header and its size n. n == 0 && err == nil means b does not
// yet hold the whole header: consume nothing and call again with more bytes.
// A 64-bit length with its most significant bit set is rejected with
// ws.ErrHeaderLengthMSB as soon as its first byte is present
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2). ParseHeader does not
// check anything else; see Decoder for the protocol rules. b is not retained.
func ParseHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < ws.MinHeaderSize {
		return ws.Header{}, 0, nil
	}
	b0, b1 := b[0], b[1]
	n = 2
	switch l := b1 & maskLen7; l {
	case len16Mark:
		if len(b) < 4 {
			return ws.Header{}, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case len64Mark:
		if len(b) > 2 && b[2]&0x80 != 0 {
			return ws.Header{}, 0, ws.ErrHeaderLengthMSB
		}
		if len(b) < 10 {
			return ws.Header{}, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint64(b[2:10]))
		n = 10
	default:
		h.Length = int64(l)
	}
	if b1&bitMask != 0 {
		if len(b) < n+4 {
			return ws.Header{}, 0, nil
		}
		h.Masked = true
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	h.Fin = b0&bitFin != 0
	h.Rsv = (b0 & maskRsv) >> 4
	h.OpCode = ws.OpCode(b0 & maskOp)
	return h, n, nil
}

// AppendHeader appends the wire form of h to dst and returns the extended
// slice. It uses the shortest length encoding and writes the mask when
// h.Masked is set. It does not allocate when dst has ws.MaxHeaderSize spare
// capacity. Only the low 3 bits of h.Rsv and the low 4 bits of h.OpCode are
// used. h.Length must not be negative.
func AppendHeader(dst []byte, h ws.Header) []byte {
	b0 := (h.Rsv<<4)&maskRsv | byte(h.OpCode)&maskOp
	if h.Fin {
		b0 |= bitFin
	}
	var b1 byte
	if h.Masked {
		b1 = bitMask
	}
	switch {
	case h.Length < 0:
		panic("codec: negative frame length")
	case h.Length <= maxLen7:
		dst = append(dst, b0, b1|byte(h.Length))
	case h.Length <= maxLen16:
		dst = append(dst, b0, b1|len16Mark, byte(h.Length>>8), byte(h.Length))
	default:
		dst = append(dst, b0, b1|len64Mark)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}
