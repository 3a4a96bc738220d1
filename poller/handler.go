package poller

import (
	"github.com/wsloop/wsloop/codec"
)

// MessageType is the type of a data message (RFC 6455 §5.6).
type MessageType uint8

// Data message types; the values are the frame opcodes.
const (
	Text   MessageType = 1
	Binary MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	if t == Text {
		return "text"
	}
	return "binary"
}

// Message is one complete data message. Data is valid only until the
// OnMessage call it was passed to returns: the buffer is reused afterwards.
// Copy it to keep it.
type Message struct {
	Type MessageType
	Data []byte
}

// Handler receives a connection's events. All three methods run on a worker
// goroutine of the pool (or, with Config.InlineHandlers, on the
// connection's event loop); a connection's events are delivered in order
// and never concurrently with each other: OnOpen first, then each message,
// then OnClose exactly once. Events of different connections run in
// parallel.
type Handler interface {
	OnOpen(c *Conn)
	OnMessage(c *Conn, m Message)
	OnClose(c *Conn, err error)
}

// Events is what a Handler may implement to say that its OnOpen or OnClose
// does nothing: the engine then skips those calls, and a connection's open
// and close cost no hand-off to a worker.
type Events interface {
	HandlesOpen() bool
	HandlesClose() bool
}

// HTTPHandler answers a plain HTTP request (one that is not a WebSocket
// upgrade) received on the WebSocket port, e.g. /healthz. It runs on the
// event loop: it must answer quickly and never block. req is valid only
// during the call. The connection is closed after the response.
type HTTPHandler func(req *codec.Request) HTTPResponse

// HTTPResponse is a complete, small HTTP response.
type HTTPResponse struct {
	Status int
	Header [][2]string
	Body   []byte
}

// upgradeRequired is the default HTTPHandler: RFC 7231 §6.5.15 with the
// version this server speaks (RFC 6455 §4.4).
func upgradeRequired(*codec.Request) HTTPResponse {
	return HTTPResponse{
		Status: 426,
		Header: [][2]string{{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}},
		Body:   []byte("426 Upgrade Required: this is a WebSocket endpoint\n"),
	}
}
