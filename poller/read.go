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
	c.lastRead = clk.now()
	c.clear(flagPingOut)
	if c.state() == stateLinger {
		discardAll(gc)
		return gnet.None
	}
	if c.state() == stateHandshake {
		if act := c.handshake(); act != gnet.None || c.state() != stateOpen {
			return act
		}
	}
	return c.readFrames()
}

// readFrames feeds the decoder from gnet's buffers with Peek and Discard.
// The decoder comes from the pool for the duration of the call and stays
// with the connection only while a frame or message is incomplete.
func (c *Conn) readFrames() gnet.Action {
	dec := c.loop.takeDecoder(c)
	act := c.decode(&dec)
	if act == gnet.Close && dec != nil {
		dec.Reset()
	}
	c.loop.parkDecoder(c, dec)
	return act
}

func (c *Conn) decode(decp **codec.Decoder) gnet.Action {
	gc := c.gc
	e := c.eng()
	for {
		if c.has(flagCloseRecv | flagFailed) {
			// Nothing may follow a close frame (RFC 6455 §5.5.1), and
			// nothing after a protocol error can be trusted.
			discardAll(gc)
			return gnet.None
		}
		if c.paused() {
			if gc.InboundBuffered() > e.cfg.MaxInboundBuffer {
				e.logAbnormal(c, errInboundBacklog)
				c.loop.setCloseErr(c, errInboundBacklog)
				return c.closeNow(errInboundBacklog)
			}
			return gnet.None
		}
		avail := gc.InboundBuffered()
		if avail == 0 {
			return gnet.None
		}
		b, _ := gc.Peek(avail)
		if *decp == nil {
			*decp = e.getDecoder(c)
		}
		dec := *decp
		n, ev, err := dec.Decode(b)
		if n > 0 {
			_, _ = gc.Discard(n) // Discard(0) would mean "all"
		}
		if err != nil {
			ce, ok := err.(*codec.CloseError)
			if !ok {
				ce = &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
			}
			dec.Reset()
			if c.closing() {
				// Our close frame is out: no second one.
				discardAll(gc)
				return gnet.Close
			}
			e.logAbnormal(c, ce)
			c.failLoop(ce)
			continue
		}
		switch ev {
		case codec.EventMore:
			if n == 0 || gc.InboundBuffered() == 0 {
				return gnet.None
			}
		case codec.EventMessage:
			op, buf, compressed := dec.TakeMessage()
			if c.has(flagCloseSent | flagCloseQueued) {
				codec.PutBuffer(buf)
				continue
			}
			if e.rateLimited() {
				if ce := c.loop.allow(c, len(buf.B)); ce != nil {
					codec.PutBuffer(buf)
					e.stats.rateCloses.Add(1)
					e.logAbnormal(c, ce)
					c.failLoop(ce)
					continue
				}
			}
			c.dispatchMessage(op, buf, compressed)
		case codec.EventPing:
			if !c.has(flagCloseSent | flagCloseQueued) {
				c.pong(dec.Control())
			}
		case codec.EventPong:
		case codec.EventClose:
			return c.peerClose(dec.CloseCode(), dec.CloseReason())
		}
	}
}

// pong answers a ping with the same payload (RFC 6455 §5.5.3). With
// messages still queued for the handler, the pong is queued behind them so
// that the peer sees replies in the order of its requests.
func (c *Conn) pong(payload []byte) {
	if c.mbox.Pending() == 0 {
		// Through gnet's queue, behind replies workers already queued.
		_ = c.write(ws.OpPong, payload, nil)
		return
	}
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], payload...)
	c.eng().pool.Push(&c.mbox, task{c: c, kind: taskPong, buf: buf})
}

// peerClose handles the peer's close frame (RFC 6455 §5.5.1, §7.1.5): after
// our own close frame it ends the handshake; otherwise it echoes the code,
// behind any messages still queued for the handler, and the server closes
// TCP first.
func (c *Conn) peerClose(code ws.StatusCode, reason []byte) gnet.Action {
	c.set(flagCloseRecv)
	c.loop.setCloseErr(c, &codec.CloseError{Code: code, Reason: string(reason)})
	discardAll(c.gc)
	if c.has(flagCloseSent) {
		return gnet.Close
	}
	// Echo the code (RFC 6455 §5.5.1); the frame's completion drops TCP.
	c.closeAfterReplies(&codec.CloseError{Code: code}, thenDrop)
	return gnet.None
}

// closeNow sends a close frame with err's code and drops TCP at once, for
// peers that must not be waited for (a heartbeat timeout, a flood).
func (c *Conn) closeNow(err *codec.CloseError) gnet.Action {
	if c.startClosing() {
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
