package poller

import (
	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
)

// pong answers a ping with its payload (RFC 6455 §5.5.3), on the loop, at
// once: a pong may overtake replies that workers have not yet sent (no
// order between them is required, and a handler that is behind must not
// hold the heartbeat). It is written under the outbound cap like
// everything else (writeCapped), so a ping flood from a peer that does not
// read its pongs ends in the slow-consumer policy, with what the server
// holds for it bounded by the cap.
func (c *Conn) pong(payload []byte) {
	var b [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	c.writeCapped(codec.AppendFrame(b[:0], true, ws.OpPong, payload))
}

// writeCapped writes a control frame from the loop under the slow-consumer
// policy, like a data frame: when more than MaxOutbound bytes already wait
// in gnet's buffer, the peer is not reading, and the frame is dropped
// (SlowDrop, counted) or the connection closed as a slow consumer
// (SlowClose). Control frames count against the cap like everything else
// in that buffer.
func (c *Conn) writeCapped(frame []byte) {
	cfg := &c.eng().cfg
	if cfg.MaxOutbound > 0 && c.gc.OutboundBuffered() > cfg.MaxOutbound {
		if cfg.SlowConsumer == SlowDrop {
			c.eng().stats.slowDrops.Add(1)
			return
		}
		c.slowClose()
		return
	}
	c.writeLoop(frame)
}
