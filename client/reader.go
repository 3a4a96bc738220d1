package client

import (
	"encoding/binary"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

const readBufSize = 4096

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// frameReader reads frames from a connection. At rest (nothing buffered)
// it holds no buffer: it waits in a read into a small array inside the
// struct and takes a pooled buffer only once bytes arrive.
type frameReader struct {
	nc    net.Conn
	small [64]byte
	buf   *[]byte
	r, w  int
}

// prime hands over bytes read past the handshake.
func (r *frameReader) prime(p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p) > readBufSize {
		b := append([]byte(nil), p...)
		r.buf, r.r, r.w = &b, 0, len(b)
		return
	}
	r.buf = readBufs.Get().(*[]byte)
	r.r, r.w = 0, copy(*r.buf, p)
}

// buffered reports whether unread bytes are buffered.
func (r *frameReader) buffered() int { return r.w - r.r }

// rest returns the buffer to the pool when it is drained.
func (r *frameReader) rest() {
	if r.buf != nil && r.r == r.w {
		if cap(*r.buf) == readBufSize {
			readBufs.Put(r.buf)
		}
		r.buf, r.r, r.w = nil, 0, 0
	}
}

// release returns the buffer whatever it holds (the connection is done).
func (r *frameReader) release() {
	r.r = r.w
	r.rest()
}

// fill makes at least n (≤ readBufSize) bytes buffered.
func (r *frameReader) fill(n int) error {
	for r.w-r.r < n {
		if r.buf == nil {
			m, err := r.nc.Read(r.small[:])
			if m > 0 {
				r.buf = readBufs.Get().(*[]byte)
				r.r, r.w = 0, copy(*r.buf, r.small[:m])
				continue
			}
			if err != nil {
				return err
			}
			continue
		}
		b := *r.buf
		if len(b)-r.r < n {
			copy(b, b[r.r:r.w])
			r.w -= r.r
			r.r = 0
		}
		m, err := r.nc.Read(b[r.w:])
		r.w += m
		if err != nil && r.w-r.r < n {
			return err
		}
	}
	return nil
}

// header is a parsed frame header.
type header struct {
	fin, rsv1 bool
	rsv23     bool
	op        ws.OpCode
	masked    bool
	length    int64
}

// readHeader reads one frame header.
func (r *frameReader) readHeader() (header, error) {
	if err := r.fill(2); err != nil {
		return header{}, err
	}
	b := (*r.buf)[r.r:]
	h := header{
		fin:    b[0]&0x80 != 0,
		rsv1:   b[0]&0x40 != 0,
		rsv23:  b[0]&0x30 != 0,
		op:     ws.OpCode(b[0] & 0x0f),
		masked: b[1]&0x80 != 0,
		length: int64(b[1] & 0x7f),
	}
	size := 2
	switch h.length {
	case 126:
		size = 4
	case 127:
		size = 10
	}
	if h.masked {
		size += 4
	}
	if size > 2 {
		if err := r.fill(size); err != nil {
			return header{}, err
		}
		b = (*r.buf)[r.r:]
		switch h.length {
		case 126:
			h.length = int64(binary.BigEndian.Uint16(b[2:]))
		case 127:
			u := binary.BigEndian.Uint64(b[2:])
			if u>>63 != 0 {
				return header{}, ws.ErrHeaderLengthMSB
			}
			h.length = int64(u)
		}
	}
	r.r += size
	return h, nil
}

// readPayload appends n payload bytes to dst.
func (r *frameReader) readPayload(dst *bytebufferpool.ByteBuffer, n int64) error {
	take := min(int64(r.w-r.r), n)
	if take > 0 {
		dst.B = append(dst.B, (*r.buf)[r.r:r.r+int(take)]...)
		r.r += int(take)
		n -= take
	}
	if n == 0 {
		return nil
	}
	if n <= readBufSize {
		if err := r.fill(int(n)); err != nil {
			return err
		}
		dst.B = append(dst.B, (*r.buf)[r.r:r.r+int(n)]...)
		r.r += int(n)
		return nil
	}
	start := len(dst.B)
	dst.B = append(dst.B, make([]byte, n)...)
	_, err := io.ReadFull(r.nc, dst.B[start:])
	return err
}
