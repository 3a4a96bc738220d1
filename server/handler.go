package server

import "github.com/wsloop/wsloop/poller"

// Handler receives a connection's events. All methods run on a worker
// goroutine of the server's bounded pool, never on an event loop, so they
// may block (holding that worker). One connection's events arrive in order
// and never concurrently: OnOpen, then each message, then OnClose exactly
// once. Different connections' events run in parallel.
type Handler interface {
	// OnOpen is called once the upgrade completed.
	OnOpen(c *Conn)
	// OnMessage is called for each complete message. m.Data is valid only
	// until OnMessage returns; copy it to keep it.
	OnMessage(c *Conn, m Message)
	// OnClose is called once, after the last OnMessage, when the connection
	// has ended. err is a *CloseError (see CloseError).
	OnClose(c *Conn, err error)
}

// HandlerFuncs is a Handler built from functions; nil fields do nothing,
// and cost nothing: without Open (Closed), a connection's open (close)
// involves no worker at all.
type HandlerFuncs struct {
	Open    func(c *Conn)
	Message func(c *Conn, m Message)
	Closed  func(c *Conn, err error)
}

// OnOpen calls f.Open if set.
func (f HandlerFuncs) OnOpen(c *Conn) {
	if f.Open != nil {
		f.Open(c)
	}
}

// OnMessage calls f.Message if set.
func (f HandlerFuncs) OnMessage(c *Conn, m Message) {
	if f.Message != nil {
		f.Message(c, m)
	}
}

// OnClose calls f.Closed if set.
func (f HandlerFuncs) OnClose(c *Conn, err error) {
	if f.Closed != nil {
		f.Closed(c, err)
	}
}

// Echo returns a Handler that sends every message back with its type.
func Echo() Handler {
	return HandlerFuncs{Message: func(c *Conn, m Message) {
		_ = c.Send(m.Type, m.Data, nil)
	}}
}

// adapter lets a Handler of this package serve the poller.
type adapter struct{ h Handler }

// Events is what a Handler may also implement to say that its OnOpen or
// OnClose does nothing: the server then skips the call, and a connection's
// open (close) costs no hand-off to a worker. HandlerFuncs implements it
// from its nil fields.
type Events interface {
	HandlesOpen() bool
	HandlesClose() bool
}

// HandlesOpen reports whether f.Open is set.
func (f HandlerFuncs) HandlesOpen() bool { return f.Open != nil }

// HandlesClose reports whether f.Closed is set.
func (f HandlerFuncs) HandlesClose() bool { return f.Closed != nil }

// HandlesOpen asks the handler (see Events); without Events, yes.
func (a adapter) HandlesOpen() bool {
	ev, ok := a.h.(Events)
	return !ok || ev.HandlesOpen()
}

// HandlesClose asks the handler (see Events); without Events, yes.
func (a adapter) HandlesClose() bool {
	ev, ok := a.h.(Events)
	return !ok || ev.HandlesClose()
}

func (a adapter) OnOpen(c *poller.Conn)               { a.h.OnOpen((*Conn)(c)) }
func (a adapter) OnMessage(c *poller.Conn, m Message) { a.h.OnMessage((*Conn)(c), m) }
func (a adapter) OnClose(c *poller.Conn, err error)   { a.h.OnClose((*Conn)(c), err) }
