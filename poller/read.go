package poller

import (
	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// errInboundBacklog closes a connection that keeps sending while its
// handler is behind and gnet already holds MaxInboundBuffer bytes for it.
var errInboundBacklog = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "inbound backlog over limit"}

// OnTraffic runs on the connection's loop whenever gnet read bytes for it or
// a worker woke it. It never blocks: it upgrades, then decodes what is
// buffered, consuming payload bytes as they arrive.
func (e *Engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	c.lastRead = e.clock.now()
	c.flags &^= flagPingOut
	if c.state == stateLinger {
		discardAll(gc)
		return gnet.None
	}
	if c.state == stateHandshake {
		if act := c.handshake(); act != gnet.None || c.state != stateOpen {
			return act
		}
	}
	return c.readFrames()
}

// readFrames feeds the decoder from gnet's buffers with Peek and Discard.
func (c *Conn) readFrames() gnet.Action {
	gc := c.gc
	for {
		if c.flags&flagCloseRecv != 0 {
			// Nothing may follow a close frame (RFC 6455 §5.5.1).
			discardAll(gc)
			return gnet.None
		}
		if c.pause.Load() != 0 {
			if gc.InboundBuffered() > c.eng.cfg.MaxInboundBuffer {
				c.eng.logAbnormal(c, errInboundBacklog)
				c.closeErr = errInboundBacklog
				return c.closeNow(errInboundBacklog)
			}
			return gnet.None
		}
		avail := gc.InboundBuffered()
		if avail == 0 {
			c.releaseDecoder()
			return gnet.None
		}
		b, _ := gc.Peek(avail)
		if c.dec == nil {
			c.dec = c.eng.getDecoder()
		}
		n, ev, err := c.dec.Decode(b)
		if n > 0 {
			_, _ = gc.Discard(n) // Discard(0) would mean "all"
		}
		if err != nil {
			ce, ok := err.(*codec.CloseError)
			if !ok {
				ce = &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
			}
			if c.closing.Load() {
				// Already closing: the framing is not worth
				// resynchronising on.
				discardAll(gc)
				return gnet.Close
			}
			c.eng.logAbnormal(c, ce)
			c.failLoop(ce)
			continue
		}
		switch ev {
		case codec.EventMore:
			if n == 0 || gc.InboundBuffered() == 0 {
				c.releaseDecoder()
				return gnet.None
			}
		case codec.EventMessage:
			op, buf, compressed := c.dec.TakeMessage()
			if c.flags&flagCloseSent != 0 || compressed {
				putBuffer(buf)
				continue
			}
			c.dispatchMessage(op, buf)
		case codec.EventPing:
			if c.flags&flagCloseSent == 0 {
				c.pong(c.dec.Control())
			}
		case codec.EventPong:
		case codec.EventClose:
			return c.peerClose(c.dec.CloseCode(), c.dec.CloseReason())
		}
	}
}

// pong answers a ping with the same payload (RFC 6455 §5.5.3). With
// messages still queued for the handler, the pong is queued behind them so
// that the peer sees replies in the order of its requests.
func (c *Conn) pong(payload []byte) {
	if c.mbox.Pending() == 0 {
		c.writeControlLoop(ws.OpPong, payload)
		return
	}
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], payload...)
	c.eng.pool.Push(&c.mbox, task{c: c, kind: taskPong, buf: buf})
}

// peerClose handles the peer's close frame (RFC 6455 §5.5.1, §7.1.5): after
// our own close frame it ends the handshake; otherwise it echoes the code,
// behind any messages still queued for the handler, and the server closes
// TCP first.
func (c *Conn) peerClose(code ws.StatusCode, reason []byte) gnet.Action {
	c.flags |= flagCloseRecv
	if c.closeErr == nil {
		c.closeErr = &codec.CloseError{Code: code, Reason: string(reason)}
	}
	discardAll(c.gc)
	if c.flags&flagCloseSent != 0 {
		return gnet.Close
	}
	if c.mbox.Pending() > 0 {
		c.eng.pool.Push(&c.mbox, task{c: c, kind: taskCloseReply, code: code})
		return gnet.None
	}
	if !c.closing.CompareAndSwap(false, true) {
		// A Close from a worker is queued: its frame completes the
		// handshake and its callback drops TCP.
		return gnet.None
	}
	var b [ws.MaxHeaderSize + 125]byte
	c.writeLoop(codec.AppendClose(b[:0], code, ""))
	return gnet.Close
}

// closeNow sends a close frame with err's code and drops TCP at once, for
// peers that must not be waited for (a heartbeat timeout, a flood).
func (c *Conn) closeNow(err *codec.CloseError) gnet.Action {
	if c.closing.CompareAndSwap(false, true) {
		var b [ws.MaxHeaderSize + 125]byte
		c.writeLoop(codec.AppendClose(b[:0], err.Code, err.Reason))
	}
	discardAll(c.gc)
	return gnet.Close
}

func discardAll(gc gnet.Conn) {
	if gc.InboundBuffered() > 0 {
		_, _ = gc.Discard(-1)
	}
}

// releaseDecoder returns an idle decoder to the engine's pool, so that an
// idle connection holds no decoding state.
func (c *Conn) releaseDecoder() {
	if c.dec != nil && c.dec.Idle() {
		c.eng.putDecoder(c.dec)
		c.dec = nil
	}
}
