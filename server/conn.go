package server

import (
	"net"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/poller"
)

// Conn is one WebSocket connection. Handlers receive it, and it stays
// valid (its methods return ErrClosed) after the connection closed; it may
// be kept, compared and used as a map key. Every method is safe from any
// goroutine.
type Conn poller.Conn

// conn is c as the engine knows it (the same memory).
func (c *Conn) conn() *poller.Conn { return (*poller.Conn)(c) }

// Send queues a data message, compressed when permessage-deflate was
// negotiated and the message is long enough, on the connection's event
// loop, behind everything queued for it before (Sends, Group messages).
// p is copied before Send returns. Messages reach the peer in the order
// of the Send calls on this connection. done, if not nil, is called
// exactly once, on the event loop (it must not block): with nil when the
// frame was written or buffered for the socket, ErrDropped when the
// slow-consumer policy dropped it, ErrSlowConsumer when the connection was
// closed as a slow consumer, or ErrClosed when the connection went away
// first. If Send returns an error, done is not called.
func (c *Conn) Send(t MessageType, p []byte, done func(error)) error {
	return c.conn().Send(t, p, done)
}

// Close queues a close frame (after everything already sent), waits for
// the peer's close frame up to the close timeout, and closes TCP (RFC 6455
// §7.1.2). Code 0 sends an empty close body; reason is cut to 123 bytes. A
// second Close, or Send after Close, returns ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error { return c.conn().Close(code, reason) }

// RemoteAddr is the peer's address: the client's, behind a trusted proxy
// (WithProxyProtocol, WithForwardedFor).
func (c *Conn) RemoteAddr() net.Addr { return c.conn().RemoteAddr() }

// Request is the upgrade request (path, query, headers, cookies) while
// OnOpen runs; afterwards it is nil unless the server was built
// WithKeepRequest(true). Copy what you need in OnOpen (SetValue).
func (c *Conn) Request() *Request { return c.conn().Request() }

// Value returns the user value set with SetValue, or nil.
func (c *Conn) Value() any { return c.conn().Value() }

// SetValue attaches a user value to the connection.
func (c *Conn) SetValue(v any) { c.conn().SetValue(v) }

// Subprotocol is the subprotocol negotiated in the upgrade, or "".
func (c *Conn) Subprotocol() string { return c.conn().Subprotocol() }

// Identity is what the auth hook (WithAuth) attached, or nil.
func (c *Conn) Identity() any { return c.conn().Identity() }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.conn().Compressed() }

// Types shared with the lower layers.
type (
	// Message is a complete data message; Data is valid only until
	// OnMessage returns.
	Message = poller.Message
	// MessageType is Text or Binary.
	MessageType = poller.MessageType
	// Request is the HTTP request head of an upgrade or a plain request.
	Request = codec.Request
	// CloseError is how a connection ended: the close code and reason the
	// peer sent, the protocol error the server failed it with, or 1006 for
	// a connection lost without a close frame.
	CloseError = codec.CloseError
	// StatusCode is a close code (RFC 6455 §7.4).
	StatusCode = ws.StatusCode
	// HTTPHandler answers plain HTTP requests on the WebSocket port.
	HTTPHandler = poller.HTTPHandler
	// HTTPResponse is what an HTTPHandler returns.
	HTTPResponse = poller.HTTPResponse
)

// Message types.
const (
	Text   = poller.Text
	Binary = poller.Binary
)

// Close codes used most (RFC 6455 §7.4.1).
const (
	StatusNormalClosure   = ws.StatusNormalClosure
	StatusGoingAway       = ws.StatusGoingAway
	StatusProtocolError   = ws.StatusProtocolError
	StatusUnsupportedData = ws.StatusUnsupportedData
	StatusInvalidPayload  = ws.StatusInvalidFramePayloadData
	StatusPolicyViolation = ws.StatusPolicyViolation
	StatusMessageTooBig   = ws.StatusMessageTooBig
	StatusInternalError   = ws.StatusInternalServerError
)

// ErrClosed is returned by Send and Close on a closing or closed connection.
var ErrClosed = poller.ErrClosed
