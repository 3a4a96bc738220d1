package client

import (
	"errors"
	"strconv"
)

// MessageType is a WebSocket data message's type.
type MessageType byte

// Message types (the RFC 6455 opcodes).
const (
	Text   MessageType = 1
	Binary MessageType = 2
)

// Message is a received data message. Data is valid only during the
// OnMessage callback (WithChannel delivers copies).
type Message struct {
	Type MessageType
	Data []byte
}

// CloseError is the close frame a connection ended with (RFC 6455 §7.4):
// the server's code and reason, or 1006 when TCP ended without one.
type CloseError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	return "websocket: close " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Errors of Send, Subscribe and the connection.
var (
	ErrNotConnected  = errors.New("client: not connected")
	ErrClosed        = errors.New("client: closed")
	ErrQueueFull     = errors.New("client: outgoing queue full")
	ErrPongTimeout   = errors.New("client: heartbeat: no pong")
	ErrTooLarge      = errors.New("client: message too large")
	ErrProtocol      = errors.New("client: protocol error")
	ErrSubscribed    = errors.New("client: already subscribed")
	ErrDeltaOptions  = errors.New("client: Delta needs Snapshot, and not Conflate")
	ErrNotSubscribed = errors.New("client: not subscribed")
	ErrStarted       = errors.New("client: already started")
)
