package poller

import (
	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// maxPooledBuffer is the largest buffer returned to the pool: a pool keeps
// whatever it is given until it calibrates, so one 16 MiB message must not
// pin 16 MiB per pooled slot.
const maxPooledBuffer = 1 << 20

func putBuffer(b *bytebufferpool.ByteBuffer) {
	if cap(b.B) <= maxPooledBuffer {
		bytebufferpool.Put(b)
	}
}

// write frames p as one unfragmented message and queues it with AsyncWrite,
// which keeps the order of all writes queued from any goroutine. done, if
// not nil, runs on the loop with the outcome.
func (c *Conn) write(op ws.OpCode, p []byte, done func(error)) error {
	buf := bytebufferpool.Get()
	buf.B = codec.AppendFrame(buf.B[:0], true, op, p)
	return c.queue(buf, func(err error) {
		if done != nil {
			if err != nil {
				err = ErrClosed
			}
			done(err)
		}
	})
}

// writeClose queues a close frame after everything already queued. When it
// has been handed to gnet, the loop notes it and starts the close timer;
// the connection is dropped at once if drop is set or the peer's close
// frame already arrived (RFC 6455 §7.1.1: the server closes TCP first).
func (c *Conn) writeClose(code ws.StatusCode, reason string, drop bool) error {
	buf := bytebufferpool.Get()
	buf.B = codec.AppendClose(buf.B[:0], code, reason)
	return c.queue(buf, func(err error) {
		if err != nil || c.state == stateClosed {
			return
		}
		c.flags |= flagCloseSent
		c.timer = c.eng.clock.now()
		if drop || c.flags&flagCloseRecv != 0 {
			_ = c.gc.Close()
		}
	})
}

// queue hands buf to gnet's AsyncWrite and returns it to the pool once gnet
// has written or buffered it (or failed to). then runs on the loop after
// that, with gnet's outcome.
func (c *Conn) queue(buf *bytebufferpool.ByteBuffer, then func(error)) error {
	err := c.gc.AsyncWrite(buf.B, func(_ gnet.Conn, err error) error {
		putBuffer(buf)
		then(err)
		return nil
	})
	if err != nil {
		putBuffer(buf)
		return ErrClosed
	}
	return nil
}

// writeLoop writes a frame directly; only on the connection's loop. gnet
// copies what the kernel does not take at once, so frame may be reused.
func (c *Conn) writeLoop(frame []byte) {
	_, _ = c.gc.Write(frame)
}

// writeControlLoop writes a control frame from the loop.
func (c *Conn) writeControlLoop(op ws.OpCode, payload []byte) {
	var b [ws.MaxHeaderSize + 125]byte
	c.writeLoop(codec.AppendFrame(b[:0], true, op, payload))
}

// failLoop fails the connection (RFC 6455 §7.1.7) on its loop: it sends a
// close frame with err's code, then only waits for the peer's close frame
// (or the close timeout) before dropping TCP, so that the peer reads the
// code rather than a reset.
func (c *Conn) failLoop(err *codec.CloseError) gnet.Action {
	if c.closeErr == nil {
		c.closeErr = err
	}
	if c.closing.CompareAndSwap(false, true) {
		var b [ws.MaxHeaderSize + 125]byte
		c.writeLoop(codec.AppendClose(b[:0], err.Code, err.Reason))
		c.flags |= flagCloseSent
		c.timer = c.eng.clock.now()
	}
	if c.dec != nil {
		c.dec.Reset()
	}
	return gnet.None
}
