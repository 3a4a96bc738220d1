package poller

import (
	"errors"
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

// Connection states, owned by the event loop.
const (
	stateHandshake uint8 = iota // reading the HTTP request head
	stateOpen                   // upgraded
	stateLinger                 // final HTTP response sent, FIN sent
	stateClosed                 // gnet's OnClose ran
)

// Loop-owned flags.
const (
	flagCloseSent uint8 = 1 << iota // our close frame was handed to gnet
	flagCloseRecv                   // the peer's close frame arrived
	flagPingOut                     // a heartbeat ping awaits any frame
	flagOpened                      // OnOpen was queued for the handler
)

// Pause reasons (Conn.pause bits): why the loop stopped decoding.
const (
	pauseMailbox uint32 = 1 << iota // the mailbox is full
	pauseQueue                      // all mailboxes together are full
)

// Conn is one WebSocket connection. Its fields are split by owner: the event
// loop's fields are touched only on the connection's loop; the rest are
// immutable after the upgrade or atomic.
type Conn struct {
	gc   gnet.Conn
	eng  *Engine
	loop *loop

	// Event-loop owned.
	dec      *codec.Decoder // nil while idle between messages
	scan     codec.HeadScanner
	idx      int32  // position in loop.conns
	state    uint8  // stateHandshake, stateOpen, stateClosed
	flags    uint8  // flag* bits
	lastRead uint32 // clock ticks; set on open and on every read
	timer    uint32 // clock ticks: when the ping or our close frame went out
	closeErr error  // what OnClose will report, once known

	// Shared.
	mbox    workpool.Mailbox[task]
	pause   atomic.Uint32 // pause* bits
	closing atomic.Bool   // Close was called or a close reply was queued
	value   atomic.Pointer[any]
	remote  string
	req     codec.Request
}

// RemoteAddr is the peer's address as "ip:port". Safe from any goroutine.
func (c *Conn) RemoteAddr() string { return c.remote }

// Request is the upgrade request (path, query, headers). It stays valid and
// unchanged for the connection's life. Safe from any goroutine.
func (c *Conn) Request() *codec.Request { return &c.req }

// Value returns what SetValue stored, or nil. Safe from any goroutine.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue attaches a user value (a session, an identity) to the connection.
// Safe from any goroutine.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

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
	if c.closing.Load() {
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
	if c.closing.Swap(true) {
		return ErrClosed
	}
	return c.writeClose(code, reason, false)
}
