package server

import (
	"net"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/poller"
)

// Conn is one WebSocket connection as a Handler sees it. Every method is
// safe from any goroutine.
type Conn interface {
	// Send queues a data message, compressed when permessage-deflate was
	// negotiated and the message is long enough. p is copied before Send
	// returns. Messages reach the peer in the order of the Send calls on
	// this connection. done, if not nil, is called exactly once, on the
	// event loop (it must not block): with nil when the frame was written
	// or buffered for the socket, ErrDropped when the slow-consumer policy
	// dropped it, ErrSlowConsumer when the connection was closed as a slow
	// consumer, or ErrClosed when the connection went away first. If Send
	// returns an error, done is not called.
	Send(t MessageType, p []byte, done func(error)) error
	// Close queues a close frame (after everything already sent), waits
	// for the peer's close frame up to the close timeout, and closes TCP.
	// Code 0 sends an empty close body; reason is cut to 123 bytes. A second
	// Close, or Send after Close, returns ErrClosed.
	Close(code StatusCode, reason string) error
	// RemoteAddr is the peer's address.
	RemoteAddr() net.Addr
	// Request is the upgrade request (path, query, headers, cookies)
	// while OnOpen runs; afterwards it is nil unless the server was built
	// WithKeepRequest(true). Copy what you need in OnOpen (SetValue).
	Request() *Request
	// Value returns the user value set with SetValue, or nil.
	Value() any
	// SetValue attaches a user value to the connection.
	SetValue(v any)
	// Subprotocol is the subprotocol negotiated in the upgrade, or "".
	Subprotocol() string
	// Identity is what the auth hook (WithAuth) attached, or nil.
	Identity() any
	// Compressed reports whether permessage-deflate was negotiated.
	Compressed() bool
}

var _ Conn = (*poller.Conn)(nil)

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
