package poller

import (
	"sync"
	"syscall"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// writeKind says what a pendingWrite carries and what its completion does.
type writeKind uint8

const (
	writeData  writeKind = iota // a data frame from Send
	writeClose                  // our close frame
	// writeDecide is a data frame sent while the connection's backlog is
	// over the cap under SlowDrop: gnet is handed no bytes, and the loop,
	// which alone knows the backlog, writes the frame or drops it.
	writeDecide
	// writeReject is a Send refused because the frames queued ahead of it
	// already pass the cap: no frame is kept, and the loop applies the
	// policy (close, or count the drop) and reports it to done.
	writeReject
)

// pendingWrite is one frame handed to gnet's AsyncWrite: the pooled buffer
// gnet reads until its callback, and what to do then. pendingWrites are
// pooled with their callback bound once, so a Send allocates nothing of
// wsloop's own.
type pendingWrite struct {
	c     *Conn
	buf   *bytebufferpool.ByteBuffer
	frame []byte      // the frame within buf
	done  func(error) // data frames: the sender's completion callback
	kind  writeKind
	then  closeThen     // a close frame: what follows it
	code  ws.StatusCode // a close frame's code and reason, for OnClose
	why   string
	n     int32              // bytes counted in c.outq
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

func getWrite(c *Conn, kind writeKind) *pendingWrite {
	w := pendingWrites.Get().(*pendingWrite)
	w.c, w.kind = c, kind
	return w
}

// errSlowConsumer closes a connection whose peer reads too slowly.
var errSlowConsumer = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "slow consumer"}

// sendData frames p as one message, compressed when permessage-deflate was
// negotiated and p is long enough, and queues it with AsyncWrite, which
// keeps the order of all writes queued from any goroutine. The
// slow-consumer policy decides here when the frames already queued pass
// the cap, and on the loop when gnet's buffer does. done, if not nil, runs
// on the loop with the outcome.
func (c *Conn) sendData(op ws.OpCode, p []byte, done func(error)) error {
	cfg := &c.eng().cfg
	w := getWrite(c, writeData)
	w.done = done
	if max := cfg.MaxOutbound; max > 0 {
		switch {
		case int(c.outq.Load()) > max:
			w.kind = writeReject
			return w.queue()
		case c.has(flagSlow):
			w.kind = writeDecide
		}
	}
	w.buf = bytebufferpool.Get()
	if c.has(flagDeflate) && len(p) >= cfg.CompressMin {
		level := cfg.CompressLevel
		if c.has(flagHuffman) {
			level = codec.HuffmanOnly
		}
		w.frame = appendCompressed(w.buf, op, p, level)
	} else {
		w.buf.B = codec.AppendFrame(w.buf.B[:0], true, op, p)
		w.frame = w.buf.B
	}
	w.count()
	return w.queue()
}

// appendCompressed writes a compressed message frame (RSV1 set, RFC 7692
// §6) into buf and returns it: the payload is deflated after room for the
// longest header, and the header is put right before it.
func appendCompressed(buf *bytebufferpool.ByteBuffer, op ws.OpCode, p []byte, level int) []byte {
	const room = 10 // the longest unmasked header
	buf.B = codec.Deflate(append(buf.B[:0], make([]byte, room)...), p, level)
	var hb [room]byte
	h := codec.AppendHeader(hb[:0], ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op, Length: int64(len(buf.B) - room)})
	start := room - len(h)
	copy(buf.B[start:], h)
	return buf.B[start:]
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
	w := getWrite(c, writeClose)
	w.then, w.code, w.why = then, code, reason
	w.buf = bytebufferpool.Get()
	w.buf.B = codec.AppendClose(w.buf.B[:0], code, reason)
	w.frame = w.buf.B
	w.count()
	return w.queue()
}

// queue hands the frame to gnet's AsyncWrite (no bytes for writeDecide and
// writeReject: their callback acts on the loop).
func (w *pendingWrite) queue() error {
	var b []byte
	if w.kind != writeDecide {
		b = w.frame
	}
	if err := w.c.gc.AsyncWrite(b, w.cb); err != nil {
		w.uncount()
		w.release()
		return ErrClosed
	}
	return nil
}

// count adds w's frame to the bytes queued for the connection's peer,
// which the slow-consumer policy weighs: data and control frames alike.
func (w *pendingWrite) count() {
	w.n = int32(len(w.frame))
	w.c.outq.Add(w.n)
	w.c.loop.stats.outInFlight.Add(int64(w.n))
}

// uncount takes w's bytes off the connection's queued count.
func (w *pendingWrite) uncount() {
	if w.n != 0 {
		w.c.outq.Add(-w.n)
		w.c.loop.stats.outInFlight.Add(-int64(w.n))
	}
}

// complete is gnet's callback, on the loop, once the frame was written or
// buffered for the socket (err == nil) or never will be.
func (w *pendingWrite) complete(_ gnet.Conn, err error) error {
	w.uncount()
	c, done := w.c, w.done
	switch w.kind {
	case writeData:
		if err == nil {
			c.sent(1, len(w.frame))
		}
	case writeDecide:
		if err == nil {
			err = c.decide(w.frame)
		}
	case writeReject:
		err = c.reject()
	case writeClose:
		code, why, then := w.code, w.why, w.then
		w.release()
		if err == nil {
			c.closeSent(code, why, then)
		}
		return nil
	}
	w.release()
	if done != nil {
		if err != nil && err != ErrDropped {
			err = ErrClosed
			if c.has(flagSlowClosed) {
				err = ErrSlowConsumer
			}
		}
		done(err)
	}
	return nil
}

// sent counts msgs data frames of n bytes handed to gnet at once and
// applies the slow-consumer policy to the backlog now ahead of the next
// message; on the loop.
func (c *Conn) sent(msgs, n int) {
	l := c.loop
	l.stats.msgsOut.Add(uint64(msgs))
	l.stats.bytesOut.Add(uint64(n))
	cfg := &l.eng.cfg
	if cfg.MaxOutbound <= 0 {
		return
	}
	ob := c.gc.OutboundBuffered()
	if ob <= cfg.MaxOutbound {
		return
	}
	if cfg.SlowConsumer == SlowDrop {
		c.set(flagSlow)
		return
	}
	// The bytes ahead of these frames passed the cap: the peer is not
	// keeping up. A single large write alone does not count.
	if ob-n > cfg.MaxOutbound {
		c.slowClose()
	}
}

// decide writes a frame sent under SlowDrop while the backlog was over the
// cap, or drops it if it still is; on the loop.
func (c *Conn) decide(frame []byte) error {
	cfg := &c.eng().cfg
	ob := c.gc.OutboundBuffered()
	if ob > cfg.MaxOutbound {
		c.eng().stats.slowDrops.Add(1)
		return ErrDropped
	}
	if ob <= cfg.MaxOutbound/2 {
		c.clear(flagSlow)
	}
	if c.state() != stateOpen {
		return ErrClosed
	}
	if _, err := c.gc.Write(frame); err != nil {
		return err
	}
	c.sent(1, len(frame))
	return nil
}

// reject applies the policy to a Send refused at once; on the loop.
func (c *Conn) reject() error {
	if c.eng().cfg.SlowConsumer == SlowDrop {
		c.eng().stats.slowDrops.Add(1)
		return ErrDropped
	}
	c.slowClose()
	return ErrSlowConsumer
}

// slowClose closes a connection as a slow consumer (1008): what is queued
// for it is dropped with the connection, since its peer is not reading.
func (c *Conn) slowClose() {
	if c.has(flagSlowClosed) || c.state() != stateOpen {
		return
	}
	c.set(flagSlowClosed)
	e := c.eng()
	e.stats.slowCloses.Add(1)
	e.logAbnormal(c, errSlowConsumer)
	c.loop.setCloseErr(c, errSlowConsumer)
	c.closeNow(errSlowConsumer)
	_ = c.loop.el.Close(c.gc)
}

// closeSent runs on the loop once our close frame was handed to gnet: it
// notes it, starts the close timer and does what then says.
func (c *Conn) closeSent(code ws.StatusCode, why string, then closeThen) {
	if c.state() == stateClosed {
		return
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
}

func (w *pendingWrite) release() {
	codec.PutBuffer(w.buf)
	*w = pendingWrite{cb: w.cb}
	pendingWrites.Put(w)
}

// writeLoop writes a frame directly; only on the connection's loop. gnet
// copies what the kernel does not take at once, so frame may be reused. It
// reports whether the connection is still there: a write that fails makes
// gnet close the connection inside the call (OnClose runs, and gnet
// releases its buffers and file descriptor), after which nothing may touch
// gc.
func (c *Conn) writeLoop(frame []byte) bool {
	_, _ = c.gc.Write(frame)
	return c.state() != stateClosed
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
		c.eng().pool.Push(&c.mbox, task{c: c, kind: taskClose, arg: err, then: then})
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
	if c.state() == stateClosed {
		// The last words' write failed and gnet closed the connection:
		// its descriptor may already belong to another connection.
		return gnet.None
	}
	discardAll(c.gc)
	if c.gc.OutboundBuffered() > 0 || syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR) != nil {
		return gnet.Close
	}
	c.setState(stateLinger)
	c.timer = clk.now()
	return gnet.None
}
