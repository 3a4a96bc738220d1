package poller

import (
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// Frame is one encoded server frame shared by many connections: a
// broadcast encodes (and compresses) a message once and every subscriber's
// loop writes the same bytes. It is reference-counted: the buffer returns
// to the pool when the last loop has handed it to gnet.
type Frame struct {
	buf  *bytebufferpool.ByteBuffer
	refs atomic.Int32
}

// NewFrame encodes p as one unfragmented data message. Safe from any
// goroutine; p is copied.
func NewFrame(t MessageType, p []byte) *Frame {
	f := &Frame{buf: bytebufferpool.Get()}
	f.buf.B = codec.AppendFrame(f.buf.B[:0], true, ws.OpCode(t), p)
	return f
}

// Bytes returns the encoded frame; valid until the Frame is released.
func (f *Frame) Bytes() []byte { return f.buf.B }

func (f *Frame) retain(n int32) { f.refs.Add(n) }

func (f *Frame) release() {
	if f.refs.Add(-1) == 0 {
		codec.PutBuffer(f.buf)
		f.buf = nil
	}
}

// Broadcast queues f for every connection in conns, with one task per
// event loop rather than one per connection: on each loop the frame is
// written to all of that loop's connections in turn. Per connection it
// keeps the order of Sends and Broadcasts (the task rides gnet's per-loop
// queue behind everything queued before it) and applies the slow-consumer
// policy. f must not be used by the caller afterwards. Safe from any
// goroutine.
func (e *Engine) Broadcast(f *Frame, conns []*Conn) {
	byLoop := make(map[*loop][]*Conn)
	for _, c := range conns {
		if c != nil && !c.closing() {
			byLoop[c.loop] = append(byLoop[c.loop], c)
		}
	}
	if len(byLoop) == 0 {
		f.retain(1)
		f.release()
		return
	}
	f.retain(int32(len(byLoop)))
	for _, group := range byLoop {
		b := &batch{f: f, conns: group}
		// The carrier is any connection of the loop: its AsyncWrite of
		// no bytes puts the batch in the loop's queue, in order with
		// every Send already queued on that loop. Its callback runs on
		// the loop even if the carrier itself has closed.
		if group[0].gc.AsyncWrite(nil, b.run) != nil {
			f.release()
		}
	}
}

// batch is one loop's share of a broadcast.
type batch struct {
	f     *Frame
	conns []*Conn
}

// run writes the frame to the batch's connections; on the loop.
func (b *batch) run(gnet.Conn, error) error {
	frame := b.f.Bytes()
	for _, c := range b.conns {
		if c.state() != stateOpen || c.closing() {
			continue
		}
		if c.has(flagSlow) {
			_ = c.decide(frame) // SlowDrop: write or drop on the fresh backlog
			continue
		}
		if _, err := c.gc.Write(frame); err == nil {
			c.sent(len(frame))
		}
	}
	b.f.release()
	return nil
}
