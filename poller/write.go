package poller

import (
	"syscall"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// errSlowConsumer closes a connection whose peer reads too slowly.
var errSlowConsumer = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "slow consumer"}

// sendData frames p as one message, compressed when permessage-deflate was
// negotiated and p is long enough, and queues it on the connection's loop,
// behind everything queued for the connection before. When the frames
// already queued pass the cap, no frame is made: the loop applies the
// slow-consumer policy and reports it to done.
func (c *Conn) sendData(op ws.OpCode, p []byte, done func(error)) error {
	cfg := &c.eng().cfg
	if max := cfg.MaxOutbound; max > 0 && int(c.outq.Load()) > max {
		c.loop.enqueue(outItem{kind: outReject, c: c, done: done})
		return nil
	}
	fr := getFrame()
	if c.has(flagDeflate) && len(p) >= cfg.CompressMin {
		level := cfg.CompressLevel
		if c.has(flagHuffman) {
			level = codec.HuffmanOnly
		}
		fr.deflated = bytebufferpool.Get()
		fr.dframe = appendCompressed(fr.deflated, op, p, level)
	} else {
		fr.plain = bytebufferpool.Get()
		fr.plain.B = codec.AppendFrame(fr.plain.B[:0], true, op, p)
	}
	c.loop.enqueue(outItem{kind: outData, c: c, fr: fr, done: done, n: c.count(len(fr.bytes(c)))})
	return nil
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

// count adds n bytes to those queued for the connection's peer and not yet
// taken by the loop, which the slow-consumer policy weighs at Send, and
// returns it for the queued item to carry.
func (c *Conn) count(n int) int32 {
	c.outq.Add(int32(n))
	c.loop.stats.outQueued.Add(int64(n))
	return int32(n)
}

// uncount takes n bytes off the connection's queued count; on the loop.
func (c *Conn) uncount(n int) {
	c.outq.Add(-int32(n))
	c.loop.stats.outQueued.Add(-int64(n))
}

// dropQueued settles an item the loop will never take (the engine
// stopped).
func (c *Conn) dropQueued(it *outItem) {
	if c == nil {
		return
	}
	if it.n != 0 {
		c.uncount(int(it.n))
	}
	if it.done != nil {
		it.done(ErrClosed)
	}
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

// writeClose queues a close frame behind everything already queued. When
// the loop has written it, it notes it, starts the close timer and does
// what then says. Any goroutine.
func (c *Conn) writeClose(code ws.StatusCode, reason string, then closeThen) error {
	fr := getFrame()
	fr.plain = bytebufferpool.Get()
	fr.plain.B = codec.AppendClose(fr.plain.B[:0], code, reason)
	c.loop.enqueue(outItem{kind: outClose, c: c, fr: fr, then: then, code: code, why: reason, n: c.count(len(fr.plain.B))})
	return nil
}

// slowClose closes a connection as a slow consumer (1008): what is queued
// for it is dropped with the connection, since its peer is not reading.
// On the loop.
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
	c.loop.soon(c)
	switch {
	case then == thenLinger:
		if c.linger() == gnet.Close {
			_ = c.gc.Close()
		}
	case then == thenDrop || c.has(flagCloseRecv):
		_ = c.gc.Close()
	}
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
	c.loop.soon(c)
	c.closeAfterReplies(err, thenLinger)
}

// closeAfterReplies queues our close frame, on the loop, behind the replies
// to the messages the handler still has: with messages pending it goes
// through the mailbox, otherwise straight to the loop's outbound queue,
// which is behind every reply already sent. Data arriving from now on is
// dropped.
func (c *Conn) closeAfterReplies(err *codec.CloseError, then closeThen) {
	c.set(flagCloseQueued)
	if c.mbox.Pending() > 0 {
		c.eng().pool.Push(&c.mbox, task{c: c, kind: taskClose, arg: err, then: then}, 0)
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
	c.loop.soon(c)
	return gnet.None
}
