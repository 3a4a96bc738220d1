package poller

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/admit"
	"github.com/wsloop/wsloop/internal/clientaddr"
)

// Errors reported to a Send's completion callback by the slow-consumer
// policy (Config.MaxOutbound).
var (
	ErrSlowConsumer = errors.New("wsloop: slow consumer: connection closed")
	ErrDropped      = errors.New("wsloop: slow consumer: message dropped")
)

// Rejection refuses an upgrade from Config.Auth with an HTTP status and a
// reason, sent as the response body.
type Rejection struct {
	Status int
	Reason string
}

// Error returns the status and reason.
func (r *Rejection) Error() string { return strconv.Itoa(r.Status) + " " + r.Reason }

// Reject returns a *Rejection with status and reason.
func Reject(status int, reason string) error { return &Rejection{Status: status, Reason: reason} }

var (
	errOrigin    = errors.New("wsloop: origin not allowed")
	errConnLimit = errors.New("wsloop: connection limit reached")
	errIPLimit   = errors.New("wsloop: connections per IP limit reached")
	errRateLimit = errors.New("wsloop: upgrade rate limit reached")
)

// count records a handshake outcome.
func (e *Engine) count(r UpgradeResult) { e.stats.upgrades[r].Add(1) }

// trusted reports whether addr is a configured trusted proxy.
func (e *Engine) trusted(addr *net.TCPAddr) bool {
	if addr == nil || len(e.cfg.TrustedProxies) == 0 {
		return false
	}
	return e.trustedAddr(addrOf(addr).Addr())
}

func (e *Engine) trustedAddr(ip netip.Addr) bool {
	return clientaddr.TrustedProxies(e.cfg.TrustedProxies).Contains(ip)
}

// admit applies admission control to an upgrade that passed the handshake
// rules, on the loop: the client address from X-Forwarded-For (trusted
// proxies only), the Origin allowlist (403), the connection limits (503,
// 429) and the upgrade rate (503). When it refuses, it answers and ok is
// false; when it admits, c holds a connection slot until it closes.
func (c *Conn) admit(req *codec.Request) (act gnet.Action, ok bool) {
	e := c.eng()
	if e.cfg.ForwardedFor && e.trusted(c.remote) {
		var xff []string
		req.Headers(func(name, value string) bool {
			if strings.EqualFold(name, "X-Forwarded-For") {
				xff = append(xff, value)
			}
			return true
		})
		if len(xff) > 0 {
			remote := addrOf(c.remote)
			if client := clientaddr.ClientAddr(remote.Addr(), xff, e.trustedAddr); client != remote.Addr() {
				c.remote = tcpAddr(netip.AddrPortFrom(client, 0))
			}
		}
	}
	if !e.admit.OriginAllowed(req.Header("Origin")) {
		return c.refuse(UpgradeOrigin, fmt.Errorf("%w: %q", errOrigin, req.Header("Origin")), 403, nil, "403 Forbidden: origin not allowed\n"), false
	}
	switch e.admit.Take(c.clientIP()) {
	case admit.ConnLimit:
		return c.refuse(UpgradeConnLimit, errConnLimit, 503, retryAfter, "503 Service Unavailable: connection limit reached\n"), false
	case admit.IPLimit:
		return c.refuse(UpgradeIPLimit, errIPLimit, 429, retryAfter, "429 Too Many Requests: too many connections from your address\n"), false
	case admit.RateLimit:
		return c.refuse(UpgradeRateLimit, errRateLimit, 503, retryAfter, "503 Service Unavailable: too many new connections, retry shortly\n"), false
	}
	c.set(flagAdmitted)
	return gnet.None, true
}

// release gives back c's admission (its connection slot and per-IP
// count); any goroutine, once per admitted connection.
func (c *Conn) release() {
	if !c.has(flagAdmitted) {
		return
	}
	c.clear(flagAdmitted)
	c.eng().admit.Release(c.clientIP())
}

// clientIP is the address the per-IP limit counts c under (the zero Addr
// when unknown). c.remote is final once admission starts.
func (c *Conn) clientIP() netip.Addr {
	if c.remote == nil {
		return netip.Addr{}
	}
	return addrOf(c.remote).Addr()
}

// authReply carries an auth hook's verdict back to the loop, through its
// outbound queue: the response (101 or the refusal), which the loop writes
// before it finishes the handshake.
type authReply struct {
	c       *Conn
	buf     *bytebufferpool.ByteBuffer
	head    int // request head length, still in gnet's buffer
	x       connExt
	deflate flateMode
	err     error // nil: accepted
	status  int
}

// authenticate runs the auth hook for c on a worker; resp is the 101 the
// loop prepared, sent only if the hook accepts. On the loop.
func (e *Engine) authenticate(c *Conn, head int, x connExt, deflate flateMode, resp []byte) {
	r := &authReply{c: c, head: head, x: x, deflate: deflate, buf: bytebufferpool.Get()}
	r.buf.B = append(r.buf.B[:0], resp...)
	e.pool.Push(&c.mbox, task{c: c, kind: taskAuth, arg: r}, 0)
}

// runAuth is the worker's side of authenticate.
func (e *Engine) runAuth(r *authReply) {
	c := r.c
	if c.state() == stateClosed {
		codec.PutBuffer(r.buf)
		return
	}
	id, err := e.callAuth(r)
	if err != nil {
		r.err = err
		r.status, r.buf.B = refusal(err, r.buf.B[:0])
	} else {
		r.x.agree(id, "")
	}
	c.loop.enqueue(outItem{kind: outAuth, auth: r})
}

// callAuth calls the hook, turning a panic into a 500.
func (e *Engine) callAuth(r *authReply) (id any, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.cfg.Logger.Error("auth hook panic", "remote", r.c.remote, "panic", fmt.Sprint(p))
			id, err = nil, &Rejection{Status: 500, Reason: "internal error"}
		}
	}()
	return e.cfg.Auth(&r.x.req, r.c.RemoteAddr())
}

// refusal writes the response for an auth hook's error: a *Rejection's
// status (4xx or 5xx) and reason, or 403 for any other error, whose text
// stays in the log rather than going to the client.
func refusal(err error, dst []byte) (int, []byte) {
	status, reason := 403, "forbidden"
	var rj *Rejection
	if errors.As(err, &rj) {
		status, reason = rj.Status, rj.Reason
		if status < 400 || status > 599 {
			status = 403
		}
	}
	return status, codec.AppendHTTPResponse(dst, status, nil, []byte(strconv.Itoa(status)+" "+reason+"\n"))
}

// finish writes the response and ends the handshake; on the loop.
func (r *authReply) finish() {
	c := r.c
	defer codec.PutBuffer(r.buf)
	if c.state() != stateHandshake || !c.writeLoop(r.buf.B) {
		return
	}
	c.clear(flagAuthing)
	if r.err != nil {
		e := c.eng()
		e.count(UpgradeAuth)
		e.logReject(c, r.status, r.err)
		c.release()
		if c.linger() == gnet.Close {
			_ = c.loop.el.Close(c.gc)
		}
		return
	}
	_, _ = c.gc.Discard(r.head)
	c.open(r.x, r.deflate)
	if c.gc.InboundBuffered() > 0 {
		c.resume()
	}
}

// addrOf returns a *net.TCPAddr as a netip.AddrPort (unmapped).
func addrOf(a *net.TCPAddr) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// tcpAddr returns ap as a *net.TCPAddr.
func tcpAddr(ap netip.AddrPort) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}
