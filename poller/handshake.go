package poller

import (
	"errors"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/clientaddr"
)

var errProxyHeader = errors.New("wsloop: missing or malformed PROXY protocol header")

// handshake reads the HTTP request head from gnet's buffer without
// consuming anything until the whole head is there, then answers it: 431
// past the head limit, 503 while draining; a request that is not an
// upgrade gets 400 if its head breaks RFC 9112 (codec.CheckRequest),
// otherwise the health check or the HTTP hook; an upgrade goes through
// codec.Upgrade, which applies RFC 9112 and RFC 6455 §4.2.1 strictly
// (400/405/426/505 with the headers each requires) before gobwas/ws's
// Upgrader negotiates; then admission control (Origin, connection limits,
// upgrade rate; see admit) and, with an auth hook, a worker's verdict.
// Bytes after the head stay buffered and are decoded as frames once the
// connection is open.
func (c *Conn) handshake() gnet.Action {
	gc := c.gc
	e := c.eng()
	if c.has(flagAuthing) {
		// The client must wait for our response before sending frames
		// (RFC 6455 §4.1); whatever it sends meanwhile waits, bounded.
		if gc.InboundBuffered() > e.cfg.MaxHeadSize+e.cfg.MaxInboundBuffer {
			return gnet.Close
		}
		return gnet.None
	}
	if e.cfg.ProxyProtocol && !c.has(flagProxied) && e.trusted(c.remote) {
		if act, ok := c.readProxyHeader(); !ok {
			return act
		}
	}
	// No head is longer than MaxHeadSize: Peek no more (a Peek of a
	// wrapped ring copies what it returns).
	b, _ := gc.Peek(min(gc.InboundBuffered(), e.cfg.MaxHeadSize))
	end, err := c.loop.scanHead(c, b, e.cfg.MaxHeadSize)
	if err != nil {
		return c.refuse(UpgradeHeadTooLarge, err, 431, nil, "431 Request Header Fields Too Large\n")
	}
	if end == 0 {
		return gnet.None
	}
	head := b[:end]
	if e.draining.Load() {
		if !codec.IsUpgrade(head) {
			// The health check, and any other plain request.
			return c.respond(503, retryAfter, []byte("503 Service Unavailable: server shutting down\n"))
		}
		return c.refuse(UpgradeDraining, errDraining, 503, retryAfter, "503 Service Unavailable: server shutting down\n")
	}
	// Borrowed: the head stays in gnet's buffer during this call; the
	// connection's own copy is made once it is admitted.
	req := codec.BorrowRequest(head)
	if !codec.IsUpgrade(head) {
		if err := codec.CheckRequest(head); err != nil {
			he := err.(*codec.HTTPError)
			e.count(UpgradeBadRequest)
			e.logReject(c, he.Status, err)
			c.loop.scratch = he.AppendResponse(c.loop.scratch[:0])
			c.writeLoop(c.loop.scratch)
			return c.linger()
		}
		if e.cfg.HealthPath != "-" && req.Path() == e.cfg.HealthPath {
			return c.respond(200, nil, []byte("ok\n"))
		}
		hreq := req // escapes to the hook: copied only on this path
		resp := e.cfg.HTTP(&hreq)
		return c.respond(resp.Status, resp.Header, resp.Body)
	}
	l := c.loop
	l.resetNegotiation()
	resp, hs, err := codec.Upgrade(l.upgrader(), head, l.scratch[:0])
	l.scratch = resp[:0]
	if err != nil {
		c.writeLoop(resp)
		e.count(UpgradeBadRequest)
		e.logReject(c, statusOf(resp), err)
		return c.linger()
	}
	if act, ok := c.admit(&req); !ok {
		return act
	}
	var x connExt
	if e.onOpen || e.cfg.KeepRequest || e.cfg.Auth != nil {
		// Lent to OnOpen and the auth hook, or kept: a copy of the head
		// (it is still in gnet's buffer). Otherwise nobody reads it, and
		// a storm of upgrades makes no garbage of it.
		x.req = codec.NewRequest(head)
	}
	x.agree(nil, hs.Protocol)
	deflate := l.flateAccepted()
	if e.cfg.Auth != nil {
		c.set(flagAuthing)
		e.authenticate(c, end, x, deflate, resp)
		return gnet.None
	}
	if !c.writeLoop(resp) {
		// The 101 could not be written (the client reset the
		// connection): gnet closed it before it was open, so there is
		// no OnOpen, and no OnClose to pair with one.
		return gnet.None
	}
	_, _ = gc.Discard(end)
	c.open(x, deflate)
	return gnet.None
}

// open makes c an open WebSocket connection after its 101 went out and
// queues the handler's OnOpen; on the loop.
func (c *Conn) open(x connExt, deflate flateMode) {
	if c.state() != stateHandshake {
		return // closed meanwhile: OnOpen only for what OnClose will end
	}
	e := c.eng()
	switch deflate {
	case flateFull:
		c.set(flagDeflate)
	case flateHuffman:
		c.set(flagDeflate | flagHuffman)
	}
	c.setState(stateOpen)
	c.set(flagOpened)
	c.loop.schedule(c)
	e.open.Add(1)
	e.count(UpgradeAccepted)
	switch {
	case !e.onOpen:
		// No OnOpen to lend the request to: keep what the connection
		// carries for good (the subprotocol, the auth identity).
		c.ext.Store(x.settled(e.cfg.KeepRequest))
	case e.cfg.InlineHandlers:
		e.run(&task{c: c, kind: taskOpen, open: x})
	default:
		e.pool.Push(&c.mbox, task{c: c, kind: taskOpen, open: x}, 0)
	}
}

// readProxyHeader consumes the PROXY protocol header a trusted proxy sends
// first and takes the client's address from it. ok is false when the
// handshake cannot go on now: more bytes are needed (act None) or the
// header is bad (400).
func (c *Conn) readProxyHeader() (act gnet.Action, ok bool) {
	gc := c.gc
	b, _ := gc.Peek(gc.InboundBuffered())
	n, src, _, err := clientaddr.ParseProxyHeader(b)
	if err != nil {
		return c.refuse(UpgradeProxy, errors.Join(errProxyHeader, err), 400, nil, "400 Bad Request: PROXY protocol header expected\n"), false
	}
	if n == 0 {
		return gnet.None, false
	}
	_, _ = gc.Discard(n)
	c.set(flagProxied)
	if src.IsValid() {
		c.remote = tcpAddr(src)
	}
	return gnet.None, true
}

// refuse answers a request with an error status, counts and logs it, and
// closes the connection after the response.
func (c *Conn) refuse(r UpgradeResult, err error, status int, header [][2]string, body string) gnet.Action {
	e := c.eng()
	e.count(r)
	e.logReject(c, status, err)
	return c.respond(status, header, []byte(body))
}

// retryAfter asks a refused client to wait a second (RFC 9110 §10.2.3).
var retryAfter = [][2]string{{"Retry-After", "1"}}

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
