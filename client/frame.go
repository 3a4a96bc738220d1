package client

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// appendFrame appends one masked client frame (RFC 6455 §5.2, §5.3) with
// payload p to dst. rsv1 marks a compressed message (RFC 7692 §6).
func appendFrame(dst []byte, op ws.OpCode, rsv1 bool, p []byte) []byte {
	b0 := 0x80 | byte(op)
	if rsv1 {
		b0 |= 0x40
	}
	n := len(p)
	switch {
	case n < 126:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// newFrame returns a pooled buffer holding one frame.
func newFrame(op ws.OpCode, rsv1 bool, p []byte) *bytebufferpool.ByteBuffer {
	b := bytebufferpool.Get()
	b.B = appendFrame(b.B, op, rsv1, p)
	return b
}

// putBuffer returns b to the pool unless it grew past 1 MiB.
func putBuffer(b *bytebufferpool.ByteBuffer) {
	if cap(b.B) <= 1<<20 {
		bytebufferpool.Put(b)
	}
}
