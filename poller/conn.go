package poller

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/workpool"
)

// ErrClosed is reported by Send and Close on a connection that is closing or
// closed, and to a send's completion callback when the connection went away
// before the frame could be handed to the kernel.
var ErrClosed = errors.New("wsloop: connection closed")

// Conn.bits layout. The state and most flags are written on the
// connection's loop; flagFailed and flagInflateFailed also by the worker
// that fails a message; the pause bits by the loop and the workers;
// bitClosing from anywhere. They share one atomic word (every change is
// atomic) to keep an idle Conn small.
const (
	stateHandshake uint32 = iota // reading the HTTP request head
	stateOpen                    // upgraded
	stateLinger                  // final HTTP response sent, FIN sent
	stateClosed                  // gnet's OnClose ran
	stateMask      uint32 = 3

	flagCloseSent     uint32 = 1 << 2  // our close frame was handed to gnet
	flagCloseRecv     uint32 = 1 << 3  // the peer's close frame arrived
	flagPingOut       uint32 = 1 << 4  // a heartbeat ping awaits any frame
	flagOpened        uint32 = 1 << 5  // OnOpen was queued for the handler
	flagDecoding      uint32 = 1 << 9  // a decoder holds a partial frame: see loop.decoders
	flagFailed        uint32 = 1 << 10 // a protocol error was found: input dropped
	flagCloseQueued   uint32 = 1 << 11 // our close frame is queued: data messages dropped
	flagDeflate       uint32 = 1 << 12 // permessage-deflate negotiated
	flagSlowClosed    uint32 = 1 << 14 // closed as a slow consumer
	flagAuthing       uint32 = 1 << 15 // the auth hook is running: input waits
	flagAdmitted      uint32 = 1 << 16 // holds a connection slot (MaxConns, MaxConnsPerIP)
	flagProxied       uint32 = 1 << 17 // the PROXY protocol header was read
	flagInflateFailed uint32 = 1 << 18 // a worker failed a message: later ones are dropped
	flagResume        uint32 = 1 << 19 // the loop woke the connection to decode the rest of its input
	flagHuffman       uint32 = 1 << 20 // with flagDeflate: compress Huffman-only (a window below 32 KiB)
	flagSoon          uint32 = 1 << 21 // on the timing wheel's soon list

	pauseMailbox uint32 = 1 << 6 // decoding paused: the mailbox is full
	pauseQueue   uint32 = 1 << 7 // decoding paused: all mailboxes are full
	pauseMask           = pauseMailbox | pauseQueue

	bitClosing uint32 = 1 << 8 // a close frame is queued or sent: no more Sends
)

// Conn is one WebSocket connection. It is kept small (64 bytes) because a
// server holds up to a million of them: buffers, decoder state and mailboxes
// exist only while data is moving, and what only connections in the middle
// of something need (a partial request head or frame, how a closing
// connection ended) lives in maps on the loop.
type Conn struct {
	gc       gnet.Conn
	loop     *loop
	outq     atomic.Int32  // bytes of frames queued by Send, not yet taken by the loop
	lastRead uint32        // event loop only: clock ticks of the last read
	timer    uint32        // event loop only: ticks when the connection opened (during the handshake), or our ping or close went out
	bits     atomic.Uint32 // state, flags, pause and closing bits; see above

	mbox   workpool.Box[task]
	remote *net.TCPAddr // immutable
	ext    atomic.Pointer[connExt]
}

func (c *Conn) state() uint32     { return c.bits.Load() & stateMask }
func (c *Conn) has(f uint32) bool { return c.bits.Load()&f != 0 }
func (c *Conn) set(f uint32)      { c.bits.Or(f) }
func (c *Conn) clear(f uint32)    { c.bits.And(^f) }
func (c *Conn) closing() bool     { return c.has(bitClosing) }
func (c *Conn) paused() bool      { return c.has(pauseMask) }
func (c *Conn) eng() *Engine      { return c.loop.eng }

// setState moves c to state s; stateClosed is final: gnet may close a
// connection inside any write on the loop (OnClose runs there), and the
// code after the write must not bring it back.
func (c *Conn) setState(s uint32) {
	for {
		old := c.bits.Load()
		if old&stateMask == stateClosed {
			return
		}
		if c.bits.CompareAndSwap(old, old&^stateMask|s) {
			return
		}
	}
}

// startClosing sets bitClosing and reports whether this call set it: the
// one caller that does sends the close frame.
func (c *Conn) startClosing() bool {
	for {
		old := c.bits.Load()
		if old&bitClosing != 0 {
			return false
		}
		if c.bits.CompareAndSwap(old, old|bitClosing) {
			return true
		}
	}
}

// RemoteAddr is the peer's address. Safe from any goroutine.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote == nil {
		return nil
	}
	return c.remote
}

// connExt holds what only some connections have: the upgrade request
// while OnOpen runs (or for good with Config.KeepRequest), the negotiated
// subprotocol, the identity from the auth hook and a user value. It is
// replaced, never modified, so readers need no lock.
type connExt struct {
	req    codec.Request // empty Head when not kept
	value  any
	agreed *agreed // nil when neither is set
}

// agreed is what the handshake settled beyond the request: the
// subprotocol and the auth hook's identity. Set once, before OnOpen.
type agreed struct {
	identity any
	protocol string
}

// agree records an identity or a subprotocol (empty values are ignored).
func (x *connExt) agree(identity any, protocol string) {
	if identity == nil && protocol == "" {
		return
	}
	a := new(agreed)
	if x.agreed != nil {
		*a = *x.agreed
	}
	if identity != nil {
		a.identity = identity
	}
	if protocol != "" {
		a.protocol = protocol
	}
	x.agreed = a
}

func (x *connExt) empty() bool {
	return x.req.Head() == "" && x.value == nil && x.agreed == nil
}

// Request returns the upgrade request (path, query, headers, cookies) while
// OnOpen runs. Afterwards it returns nil, unless the engine keeps requests
// (Config.KeepRequest): a million idle connections should not each pin a
// copy of their request. Copy what you need in OnOpen (see SetValue).
// Safe from any goroutine.
func (c *Conn) Request() *codec.Request {
	if x := c.ext.Load(); x != nil && x.req.Head() != "" {
		return &x.req
	}
	return nil
}

// Value returns what SetValue stored, or nil. Safe from any goroutine.
func (c *Conn) Value() any {
	if x := c.ext.Load(); x != nil {
		return x.value
	}
	return nil
}

// SetValue attaches a user value (a session, an identity) to the
// connection. Safe from any goroutine.
func (c *Conn) SetValue(v any) {
	c.updateExt(func(x *connExt) { x.value = v })
}

// updateExt replaces ext with a modified copy (nil when empty).
func (c *Conn) updateExt(fn func(*connExt)) {
	for {
		old := c.ext.Load()
		var x connExt
		if old != nil {
			x = *old
		}
		fn(&x)
		var next *connExt
		if !x.empty() {
			next = new(connExt)
			*next = x
		}
		if c.ext.CompareAndSwap(old, next) {
			return
		}
	}
}

// endOpen takes back the request shown in ext during OnOpen: ext is
// replaced by a copy of what it holds (without the request unless keep is
// set), or nil when nothing is left, which is the common case and
// allocates nothing.
func (c *Conn) endOpen(keep bool) {
	for {
		old := c.ext.Load()
		var next *connExt
		if old != nil {
			next = old.settled(keep)
		}
		if c.ext.CompareAndSwap(old, next) {
			return
		}
	}
}

// settled is what a connection keeps of x once OnOpen is over (or skipped):
// a copy without the request unless keep, or nil when nothing is left.
func (x connExt) settled(keep bool) *connExt {
	if !keep {
		x.req = codec.Request{}
	}
	if x.empty() {
		return nil
	}
	return &x
}

// Subprotocol returns the subprotocol negotiated in the upgrade
// (Sec-WebSocket-Protocol, RFC 6455 §4.2.2), or "". Safe from any goroutine.
func (c *Conn) Subprotocol() string {
	if x := c.ext.Load(); x != nil && x.agreed != nil {
		return x.agreed.protocol
	}
	return ""
}

// Identity returns what the auth hook attached to the connection, or nil.
// Safe from any goroutine.
func (c *Conn) Identity() any {
	if x := c.ext.Load(); x != nil && x.agreed != nil {
		return x.agreed.identity
	}
	return nil
}

// Compressed reports whether permessage-deflate was negotiated. Safe from
// any goroutine.
func (c *Conn) Compressed() bool { return c.has(flagDeflate) }

// Send queues one data message for the peer, compressed when
// permessage-deflate was negotiated and p is at least Config.CompressMin
// long. p is copied before Send returns, so the caller may reuse it at
// once. Messages sent on one connection reach the peer in the order of the
// Send calls that queued them. Safe from any goroutine.
//
// done, if not nil, is called exactly once, on the connection's event loop
// (it must be quick and must not block): with nil when the frame was written
// to the socket or buffered for it; with ErrDropped when the slow-consumer
// policy SlowDrop dropped it; with ErrSlowConsumer when the connection was
// closed as a slow consumer (SlowClose); with ErrClosed when the connection
// went away first. When Send itself returns an error, done is not called.
func (c *Conn) Send(t MessageType, p []byte, done func(error)) error {
	if c.closing() {
		return ErrClosed
	}
	if t != Text && t != Binary {
		return errors.New("wsloop: Send needs Text or Binary")
	}
	return c.sendData(ws.OpCode(t), p, done)
}

// Close starts the closing handshake (RFC 6455 §7.1.2): it queues a close
// frame with code and reason after every message already sent, then waits
// for the peer's close frame (at most the configured close timeout) and
// closes TCP. Code 0 sends an empty close body; reason is cut to 123 bytes.
// Later Sends fail with ErrClosed. Safe from any goroutine; a second call
// returns ErrClosed.
func (c *Conn) Close(code ws.StatusCode, reason string) error {
	if !c.startClosing() {
		return ErrClosed
	}
	return c.writeClose(code, reason, thenWait)
}
