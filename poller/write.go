package poller

import (
	"sync"
	"syscall"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// pendingWrite is one frame handed to gnet's AsyncWrite: the pooled buffer
// gnet reads until its callback, and what to do then. pendingWrites are
// pooled with their callback bound once, so a Send allocates nothing of
// wsloop's own.
type pendingWrite struct {
	c     *Conn
	buf   *bytebufferpool.ByteBuffer
	done  func(error) // data frames: the sender's completion callback
	close bool        // a close frame: then says what follows
	then  closeThen
	code  ws.StatusCode // a close frame's code and reason, for OnClose
	why   string
	cb    gnet.AsyncCallback // w.complete, bound once
}

var pendingWrites sync.Pool

func init() {
	// Set here: New refers to complete, which puts back into the pool.
	pendingWrites.New = func() any {
		w := new(pendingWrite)
		w.cb = w.complete
		return w
	}
}

// write frames p as one unfragmented message and queues it with AsyncWrite,
// which keeps the order of all writes queued from any goroutine. done, if
// not nil, runs on the loop with the outcome.
func (c *Conn) write(op ws.OpCode, p []byte, done func(error)) error {
	w := pendingWrites.Get().(*pendingWrite)
	w.c, w.done = c, done
	w.buf = bytebufferpool.Get()
	w.buf.B = codec.AppendFrame(w.buf.B[:0], true, op, p)
	return w.queue()
}

// closeThen says what follows our close frame.
type closeThen uint8

const (
	// thenWait waits for the peer's close frame, then drops TCP: the
	// server's own closing handshake (RFC 6455 §7.1.2).
	thenWait closeThen = iota
	// thenDrop drops TCP once the frame is written: the reply to the
	// peer's close (RFC 6455 §7.1.1: the server closes TCP first), or a
	// panicking handler.
	thenDrop
	// thenLinger sends FIN after the frame and discards input until the
	// peer closes or the close timeout: failing a connection whose framing
	// can no longer be trusted (RFC 6455 §7.1.7), without the reset that
	// closing over unread input would send.
	thenLinger
)

// writeClose queues a close frame after everything already queued. When it
// has been handed to gnet, the loop notes it, starts the close timer and
// does what then says.
func (c *Conn) writeClose(code ws.StatusCode, reason string, then closeThen) error {
	w := pendingWrites.Get().(*pendingWrite)
	w.c, w.close, w.then, w.code, w.why = c, true, then, code, reason
	w.buf = bytebufferpool.Get()
	w.buf.B = codec.AppendClose(w.buf.B[:0], code, reason)
	return w.queue()
}

// queue hands the frame to gnet's AsyncWrite.
func (w *pendingWrite) queue() error {
	if err := w.c.gc.AsyncWrite(w.buf.B, w.cb); err != nil {
		w.release()
		return ErrClosed
	}
	return nil
}

// complete is gnet's callback, on the loop, once the frame was written or
// buffered for the socket (err == nil) or never will be.
func (w *pendingWrite) complete(_ gnet.Conn, err error) error {
	c, done, isClose, then, code, why := w.c, w.done, w.close, w.then, w.code, w.why
	w.release()
	if !isClose {
		if done != nil {
			if err != nil {
				err = ErrClosed
			}
			done(err)
		}
		return nil
	}
	if err != nil || c.state() == stateClosed {
		return nil
	}
	// OnClose reports the first close frame of the two: the peer's if it
	// came first, else ours.
	c.loop.setCloseErr(c, &codec.CloseError{Code: code, Reason: why})
	c.set(flagCloseSent)
	c.timer = clk.now()
	switch {
	case then == thenLinger:
		if c.linger() == gnet.Close {
			_ = c.gc.Close()
		}
	case then == thenDrop || c.has(flagCloseRecv):
		_ = c.gc.Close()
	}
	return nil
}

func (w *pendingWrite) release() {
	codec.PutBuffer(w.buf)
	*w = pendingWrite{cb: w.cb}
	pendingWrites.Put(w)
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
// close frame with err's code behind the replies to earlier messages, then
// half-closes (thenLinger) so that the peer reads the code rather than a
// reset. Input from then on is discarded.
func (c *Conn) failLoop(err *codec.CloseError) {
	c.loop.setCloseErr(c, err)
	c.set(flagFailed)
	c.timer = clk.now()
	c.closeAfterReplies(err, thenLinger)
}

// closeAfterReplies queues our close frame, on the loop, behind the replies
// to the messages the handler still has: with messages pending it goes
// through the mailbox, otherwise straight to gnet's queue, which is behind
// every reply already sent. Data arriving from now on is dropped.
func (c *Conn) closeAfterReplies(err *codec.CloseError, then closeThen) {
	c.set(flagCloseQueued)
	if c.mbox.Pending() > 0 {
		c.eng().pool.Push(&c.mbox, task{c: c, kind: taskClose, err: err, then: then})
		return
	}
	c.sendClose(err, then)
}

// sendClose writes our close frame unless one was already queued (by
// Conn.Close): that one's completion then finishes the job. Any goroutine.
func (c *Conn) sendClose(err *codec.CloseError, then closeThen) {
	if c.startClosing() {
		_ = c.writeClose(err.Code, err.Reason, then)
		return
	}
	if then == thenDrop {
		_ = c.gc.Close()
	}
}

// linger half-closes a connection after its last words (a final HTTP
// response, or the close frame that fails a WebSocket connection): closing
// a socket with unread input makes the kernel send a reset, which can
// destroy those words before the peer reads them. So the server sends FIN, discards
// what still arrives, and closes when the client does or the close timeout
// passes.
func (c *Conn) linger() gnet.Action {
	discardAll(c.gc)
	if c.gc.OutboundBuffered() > 0 || syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR) != nil {
		return gnet.Close
	}
	c.setState(stateLinger)
	c.timer = clk.now()
	return gnet.None
}
