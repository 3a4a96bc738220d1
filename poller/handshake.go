package poller

import (
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
)

// handshake reads the HTTP request head from gnet's buffer without
// consuming anything until the whole head is there, then answers it: 431
// past the head limit, 503 while draining, the HTTP hook for requests that
// are not upgrades, or gobwas/ws's Upgrader (101, or 400/426 for a bad
// handshake). Bytes after the head stay buffered and are decoded as frames.
func (c *Conn) handshake() gnet.Action {
	gc := c.gc
	e := c.eng()
	b, _ := gc.Peek(gc.InboundBuffered())
	end, err := c.loop.scanHead(c, b, e.cfg.MaxHeadSize)
	if err != nil {
		e.logReject(c, 431, err)
		return c.respond(431, nil, []byte("431 Request Header Fields Too Large\n"))
	}
	if end == 0 {
		return gnet.None
	}
	head := b[:end]
	if e.draining.Load() {
		e.logReject(c, 503, errDraining)
		return c.respond(503, [][2]string{{"Retry-After", "1"}}, []byte("503 Service Unavailable: server shutting down\n"))
	}
	if !codec.IsUpgrade(head) {
		req := codec.NewRequest(head)
		resp := e.cfg.HTTP(&req)
		return c.respond(resp.Status, resp.Header, resp.Body)
	}
	l := c.loop
	resp, _, err := codec.Upgrade(&e.upgrader, head, l.scratch[:0])
	l.scratch = resp[:0]
	c.writeLoop(resp)
	if err != nil {
		e.logReject(c, statusOf(resp), err)
		return c.linger()
	}
	t := task{c: c, kind: taskOpen}
	t.open.req = codec.NewRequest(head)
	_, _ = gc.Discard(end)
	c.setState(stateOpen)
	c.set(flagOpened)
	e.open.Add(1)
	e.pool.Push(&c.mbox, t)
	return gnet.None
}

// respond writes a complete HTTP response and closes the connection.
func (c *Conn) respond(status int, header [][2]string, body []byte) gnet.Action {
	l := c.loop
	l.scratch = codec.AppendHTTPResponse(l.scratch[:0], status, header, body)
	c.writeLoop(l.scratch)
	return c.linger()
}

// statusOf reads the status code of an HTTP response line, for logs.
func statusOf(resp []byte) int {
	if len(resp) < 12 {
		return 0
	}
	n, _ := strconv.Atoi(string(resp[9:12]))
	return n
}
