package poller

import (
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// Frame is one data message encoded for many connections: a Fanout
// encodes a publication once (and compresses it once when subscribers
// negotiated permessage-deflate) and every loop writes the same bytes. It
// is reference-counted: the buffers go back to the pool when the last
// holder releases it.
type Frame struct {
	plain, deflated *bytebufferpool.ByteBuffer // deflated: nil when not made
	dframe          []byte                     // the compressed frame within deflated
	key             string                     // conflation key ("": none)
	owner           *Fanout                    // the fan-out that published it
	refs            atomic.Int32
}

// newFrame encodes p as one unfragmented message, with a compressed twin
// when deflate and p is long enough for cfg. It holds one reference.
func newFrame(t MessageType, p []byte, key string, cfg *Config, deflate bool) *Frame {
	f := getFrame()
	f.plain, f.key = bytebufferpool.Get(), key
	f.plain.B = codec.AppendFrame(f.plain.B[:0], true, ws.OpCode(t), p)
	if deflate && cfg != nil && cfg.Compression && len(p) >= cfg.CompressMin {
		f.deflated = bytebufferpool.Get()
		f.dframe = appendCompressed(f.deflated, ws.OpCode(t), p, cfg.CompressLevel)
	}
	return f
}

var frames = sync.Pool{New: func() any { return new(Frame) }}

// getFrame returns an empty frame holding one reference.
func getFrame() *Frame {
	f := frames.Get().(*Frame)
	f.refs.Store(1)
	return f
}

// bytes is the frame as c is to receive it: a frame made for one
// connection (by Send) has one form only. A connection whose client
// allowed the server less than a 32 KiB window (flagHuffman) gets the plain
// frame: the compressed twin may refer back further, and RFC 7692 §6 lets
// any message go uncompressed.
func (f *Frame) bytes(c *Conn) []byte {
	if f.dframe != nil && (f.plain == nil || c.has(flagDeflate) && !c.has(flagHuffman)) {
		return f.dframe
	}
	return f.plain.B
}

func (f *Frame) retain() { f.refs.Add(1) }

func (f *Frame) release() {
	if f.refs.Add(-1) == 0 {
		if f.plain != nil {
			codec.PutBuffer(f.plain)
		}
		if f.deflated != nil {
			codec.PutBuffer(f.deflated)
		}
		f.plain, f.deflated, f.dframe, f.key, f.owner = nil, nil, nil, "", nil
		frames.Put(f)
	}
}
