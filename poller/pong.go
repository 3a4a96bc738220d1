package poller

import (
	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
)

// pong answers a ping with its payload (RFC 6455 §5.5.3), on the loop: the
// frame joins the connection's pending output, which the loop writes when
// the OnTraffic call ends, together with the replies of handlers that ran
// meanwhile. A pong may overtake replies that workers have not yet sent (no
// order between them is required, and a handler that is behind must not
// hold the heartbeat). It is written under the slow-consumer policy like
// everything else (batch.write), so a ping flood from a peer that does not
// read its pongs ends in that policy, with what the server holds for it
// bounded by the cap.
func (c *Conn) pong(payload []byte) {
	fr := getFrame()
	fr.plain = bytebufferpool.Get()
	fr.plain.B = codec.AppendFrame(fr.plain.B[:0], true, ws.OpPong, payload)
	c.loop.batch.addConn(c, entry{kind: entryControl, fr: fr})
}
