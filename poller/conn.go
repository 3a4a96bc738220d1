package poller

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/workpool"
)

// ErrClosed is reported by Send and Close on a connection that is closing or
// closed, and to a send's completion callback when the connection went away
// before the frame could be handed to the kernel.
var ErrClosed = errors.New("wsloop: connection closed")

// Conn.bits layout. The state and the flags are written only on the
// connection's loop; the pause bits by the loop and the workers; bitClosing
// from anywhere. They share one atomic word to keep an idle Conn small.
const (
	stateHandshake uint32 = iota // reading the HTTP request head
	stateOpen                    // upgraded
	stateLinger                  // final HTTP response sent, FIN sent
	stateClosed                  // gnet's OnClose ran
	stateMask      uint32 = 3

	flagCloseSent   uint32 = 1 << 2  // our close frame was handed to gnet
	flagCloseRecv   uint32 = 1 << 3  // the peer's close frame arrived
	flagPingOut     uint32 = 1 << 4  // a heartbeat ping awaits any frame
	flagOpened      uint32 = 1 << 5  // OnOpen was queued for the handler
	flagDecoding    uint32 = 1 << 9  // a decoder holds a partial frame: see loop.decoders
	flagFailed      uint32 = 1 << 10 // a protocol error was found: input dropped
	flagCloseQueued uint32 = 1 << 11 // our close frame is queued: data messages dropped

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
	idx      int32         // event loop only: position in loop.conns
	lastRead uint32        // event loop only: clock ticks of the last read
	timer    uint32        // event loop only: ticks when our ping or close went out
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
func (c *Conn) setState(s uint32) {
	for {
		old := c.bits.Load()
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
// while OnOpen runs (or for good with Config.KeepRequest) and a user value.
// It is replaced, never modified, so readers need no lock.
type connExt struct {
	req   codec.Request // empty Head when not kept
	value any
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
		if x.req.Head() != "" || x.value != nil {
			next = new(connExt)
			*next = x
		}
		if c.ext.CompareAndSwap(old, next) {
			return
		}
	}
}

// endOpen takes back the request lent to ext for OnOpen (open lives in a
// pooled task), keeping a copy of it only if keep is set, and of any value
// OnOpen stored.
func (c *Conn) endOpen(open *connExt, keep bool) {
	if c.ext.CompareAndSwap(open, nil) {
		if keep {
			c.ext.Store(&connExt{req: open.req})
		}
		return
	}
	if !keep {
		// SetValue ran during OnOpen and copied the request along.
		c.updateExt(func(x *connExt) { x.req = codec.Request{} })
	}
}

// Send queues one data message for the peer. p is copied before Send
// returns, so the caller may reuse it at once. Messages sent on one
// connection reach the peer in the order of the Send calls that queued them.
// Safe from any goroutine.
//
// done, if not nil, is called exactly once: with nil when the frame was
// written to the socket or buffered for it, or with an error when it was not
// (ErrClosed, or a write error). done runs on the connection's event loop: it
// must be quick and must not block. When Send itself returns an error, done
// is not called.
func (c *Conn) Send(t MessageType, p []byte, done func(error)) error {
	if c.closing() {
		return ErrClosed
	}
	if t != Text && t != Binary {
		return errors.New("wsloop: Send needs Text or Binary")
	}
	return c.write(ws.OpCode(t), p, done)
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
