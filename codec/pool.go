package codec

import "github.com/valyala/bytebufferpool"

// MaxPooledBufferSize is the largest buffer capacity PutBuffer returns to
// bytebufferpool; larger buffers are left to the garbage collector so one big
// message does not pin memory in the pool.
const MaxPooledBufferSize = 1 << 20

// PutBuffer returns buf to bytebufferpool unless it is nil or its capacity
// exceeds MaxPooledBufferSize. The caller must not use buf afterwards.
func PutBuffer(buf *bytebufferpool.ByteBuffer) {
	if buf == nil || cap(buf.B) > MaxPooledBufferSize {
		return
	}
	bytebufferpool.Put(buf)
}

// PutBufferTo is PutBuffer for a buffer taken from pool p.
func PutBufferTo(p *bytebufferpool.Pool, buf *bytebufferpool.ByteBuffer) {
	if buf == nil || cap(buf.B) > MaxPooledBufferSize {
		return
	}
	p.Put(buf)
}
