package poller

import (
	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
)

// errInboundBacklog closes a connection that keeps sending while its
// handler is behind and gnet already holds MaxInboundBuffer bytes for it.
var errInboundBacklog = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "inbound backlog over limit"}

// OnTraffic runs on the connection's loop whenever gnet read bytes for it or
// something woke it (a worker that made room in its mailbox, or the loop
// itself resuming a connection whose decode budget ran out). It never
// blocks: it upgrades, then decodes what is buffered, at most one decode
// budget of it, consuming payload bytes as they arrive.
func (e *Engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	l := c.loop
	l.hold()
	act := c.traffic()
	l.drain()
	return act
}

// traffic reads what gnet buffered for c; the caller writes what it made
// the connection send.
func (c *Conn) traffic() gnet.Action {
	gc := c.gc
	c.lastRead = clk.now()
	c.clear(flagPingOut | flagResume)
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
	if c.state() == stateClosed {
		// gnet closed the connection inside this call (a write failed):
		// OnClose ran and dropped the loop's state; the decoder is ours.
		if dec != nil {
			dec.Reset()
			c.eng().putDecoder(dec)
		}
		return gnet.None
	}
	if act == gnet.Close && dec != nil {
		dec.Reset()
	}
	c.loop.parkDecoder(c, dec)
	return act
}

// decode decodes at most one budget (Config.ReadBufferCap, one read's
// worth) of c's buffered input. Each Peek asks for no more than the budget
// left and every frame in it is decoded before the next Peek: once gnet's
// ring buffer has wrapped, a Peek copies what it returns, so asking for the
// whole backlog per frame would cost O(backlog) per frame. With input left
// when the budget runs out, the connection wakes itself and the loop
// serves its other connections first: a peer with a backlog of tiny frames
// gets one budget per round like everyone else.
func (c *Conn) decode(decp **codec.Decoder) gnet.Action {
	gc := c.gc
	e := c.eng()
	budget := e.cfg.ReadBufferCap
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
		if budget <= 0 {
			c.resume()
			return gnet.None
		}
		b, _ := gc.Peek(min(avail, budget))
		if *decp == nil {
			*decp = e.getDecoder(c)
		}
		used, act, step := c.decodeChunk(*decp, b)
		if c.state() == stateClosed {
			return gnet.None
		}
		if used > 0 {
			_, _ = gc.Discard(used) // Discard(0) would mean "all"
			budget -= used
		}
		switch step {
		case chunkStop:
			return act
		case chunkWait:
			if used > 0 {
				continue // Peek again from the incomplete frame
			}
			// The next header or control frame is not all there: wait
			// for more input, or for the next round if more is buffered
			// than the budget let this Peek see.
			if len(b) < avail {
				c.resume()
			}
			return gnet.None
		}
	}
}

// What decodeChunk asks of decode once it returns.
const (
	chunkNext = iota // every byte was decoded, or an event needs the checks at the top of decode
	chunkWait        // the rest of the chunk is an incomplete frame header or control frame
	chunkStop        // return the action at once: the rest of the input was dropped
)

// decodeChunk decodes the frames in b, a Peek of c's input, and acts on
// each event. It returns the bytes consumed (to Discard) and what decode
// does next (chunkNext, chunkWait, or chunkStop with the action OnTraffic
// returns). b is valid only until that Discard, so an event after which
// the loop must look at the connection again (a pause, a protocol error)
// ends the chunk.
func (c *Conn) decodeChunk(dec *codec.Decoder, b []byte) (used int, act gnet.Action, step int) {
	e := c.eng()
	for used < len(b) {
		n, ev, err := dec.Decode(b[used:])
		used += n
		if err != nil {
			ce, ok := err.(*codec.CloseError)
			if !ok {
				ce = &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
			}
			dec.Reset()
			if c.closing() {
				// Our close frame is out: no second one.
				discardAll(c.gc)
				return 0, gnet.Close, chunkStop
			}
			e.logAbnormal(c, ce)
			c.failLoop(ce)
			return used, gnet.None, chunkNext
		}
		switch ev {
		case codec.EventMore:
			if used < len(b) {
				return used, gnet.None, chunkWait
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
					return used, gnet.None, chunkNext
				}
			}
			c.dispatchMessage(op, buf, compressed)
			if c.paused() {
				return used, gnet.None, chunkNext
			}
		case codec.EventPing:
			if !c.has(flagCloseSent | flagCloseQueued) {
				c.pong(dec.Control())
			}
		case codec.EventPong:
		case codec.EventClose:
			// peerClose drops the rest of the input itself.
			return 0, c.peerClose(dec.CloseCode(), dec.CloseReason()), chunkStop
		}
		if c.state() == stateClosed {
			return 0, gnet.None, chunkStop
		}
	}
	return used, gnet.None, chunkNext
}

// resume makes the loop call OnTraffic for c again after serving its other
// connections, unless a wake is already on its way; on the loop.
func (c *Conn) resume() {
	if c.has(flagResume) {
		return
	}
	c.set(flagResume)
	_ = c.gc.Wake(nil)
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
