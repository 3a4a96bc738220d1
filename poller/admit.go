package poller

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/clientaddr"
	"golang.org/x/time/rate"
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

// admission is the engine's handshake-time admission control: everything
// here runs before a connection has any buffer or handler state.
type admission struct {
	origins  originList
	upgrades *rate.Limiter // nil: no rate limit
	slots    atomic.Int64  // connections holding a slot (flagAdmitted)
	ipMu     sync.Mutex
	perIP    map[netip.Addr]int32
}

func (a *admission) init(cfg *Config) {
	a.origins = parseOrigins(cfg.Origins)
	if cfg.UpgradeRate > 0 {
		burst := cfg.UpgradeBurst
		if burst <= 0 {
			burst = max(1, int(cfg.UpgradeRate))
		}
		a.upgrades = rate.NewLimiter(rate.Limit(cfg.UpgradeRate), burst)
	}
	a.perIP = make(map[netip.Addr]int32)
}

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
	a := &e.admit
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
	if !a.origins.allowed(req.Header("Origin")) {
		return c.refuse(UpgradeOrigin, fmt.Errorf("%w: %q", errOrigin, req.Header("Origin")), 403, nil, "403 Forbidden: origin not allowed\n"), false
	}
	if max := e.cfg.MaxConns; max > 0 {
		if a.slots.Add(1) > int64(max) {
			a.slots.Add(-1)
			return c.refuse(UpgradeConnLimit, errConnLimit, 503, retryAfter, "503 Service Unavailable: connection limit reached\n"), false
		}
	} else {
		a.slots.Add(1)
	}
	c.set(flagAdmitted)
	if max := e.cfg.MaxConnsPerIP; max > 0 && c.remote != nil {
		ip := addrOf(c.remote).Addr()
		a.ipMu.Lock()
		n := a.perIP[ip]
		if n < int32(max) {
			a.perIP[ip] = n + 1
		}
		a.ipMu.Unlock()
		if n >= int32(max) {
			c.release(false)
			return c.refuse(UpgradeIPLimit, errIPLimit, 429, retryAfter, "429 Too Many Requests: too many connections from your address\n"), false
		}
	}
	if a.upgrades != nil && !a.upgrades.Allow() {
		c.release(true)
		return c.refuse(UpgradeRateLimit, errRateLimit, 503, retryAfter, "503 Service Unavailable: too many new connections, retry shortly\n"), false
	}
	return gnet.None, true
}

// release gives back c's connection slot (and its per-IP count when
// perIP is set); any goroutine, once per admitted connection.
func (c *Conn) release(perIP bool) {
	if !c.has(flagAdmitted) {
		return
	}
	c.clear(flagAdmitted)
	e := c.eng()
	a := &e.admit
	a.slots.Add(-1)
	if perIP && e.cfg.MaxConnsPerIP > 0 && c.remote != nil {
		ip := addrOf(c.remote).Addr()
		a.ipMu.Lock()
		if n := a.perIP[ip] - 1; n > 0 {
			a.perIP[ip] = n
		} else {
			delete(a.perIP, ip)
		}
		a.ipMu.Unlock()
	}
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
		c.release(true)
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

// originList is the Origin allowlist (Config.Origins): full origins matched
// exactly (RFC 6454 §6.2 serialization, case-insensitive), host names, and
// "*.domain" patterns matching subdomains.
type originList struct {
	any      bool
	exact    map[string]bool
	hosts    map[string]bool
	suffixes []string
}

func parseOrigins(patterns []string) originList {
	var o originList
	if len(patterns) == 0 {
		o.any = true
		return o
	}
	o.exact = make(map[string]bool)
	o.hosts = make(map[string]bool)
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "/"))
		switch {
		case p == "*":
			o.any = true
		case strings.Contains(p, "://"):
			o.exact[p] = true
		case strings.HasPrefix(p, "*."):
			o.suffixes = append(o.suffixes, p[1:])
		case p != "":
			o.hosts[p] = true
		}
	}
	return o
}

// allowed reports whether a request with this Origin may upgrade. Requests
// without one come from non-browser clients, which could send any Origin
// they like anyway: the check protects browsers' users from other sites
// (RFC 6455 §10.2), so they pass.
func (o *originList) allowed(origin string) bool {
	if o.any || origin == "" {
		return true
	}
	origin = strings.ToLower(origin)
	if o.exact[origin] {
		return true
	}
	_, hostport, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if o.hosts[host] {
		return true
	}
	for _, s := range o.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}
