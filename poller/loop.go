package poller

import (
	"context"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/admit"
)

// Errors the sweeps close connections with.
var (
	errPingTimeout  = &codec.CloseError{Code: ws.StatusInternalServerError, Reason: "keepalive ping timeout"}
	errIdleTimeout  = &codec.CloseError{Code: ws.StatusGoingAway, Reason: "idle timeout"}
	errCloseTimeout = &codec.CloseError{Code: ws.StatusAbnormalClosure, Reason: "peer did not complete the closing handshake"}
	errHandshake    = &codec.CloseError{Code: ws.StatusAbnormalClosure, Reason: "handshake timeout"}
)

// loop is the per-event-loop state: the loop's connections in their
// timing wheel, its outbound queue, and scratch space for responses. Only
// its event loop touches it, apart from the queue (q), which is how other
// goroutines reach it, and the counters (stats), which Stats reads.
type loop struct {
	eng     *Engine
	el      gnet.EventLoop
	timers  wheel
	scratch []byte

	// Per-connection state that few connections need at a time, kept
	// here rather than in every Conn: the head scanners of requests that
	// arrived in pieces, and how closing connections ended.
	heads     map[*Conn]codec.HeadScanner
	decoders  map[*Conn]*codec.Decoder
	closeErrs map[*Conn]*codec.CloseError
	limits    map[*Conn]*admit.Inbound

	// Upgrade negotiation state, reset for each handshake.
	negotiation negotiation

	// The outbound path: the queue every other goroutine writes through,
	// the task that drains it, and the frames pending per connection.
	// Fan-out state: the memberships of each subscribed connection and the
	// backlogs of conflating connections that fell behind.
	q         outQueue
	drainTask gnet.Runnable
	batch     batch
	members   map[*Conn][]*Member
	backlogs  map[*Conn]*backlog

	stats loopCounters
}

// takeDecoder returns c's decoder holding a partial frame, or nil.
func (l *loop) takeDecoder(c *Conn) *codec.Decoder {
	if !c.has(flagDecoding) {
		return nil
	}
	d := l.decoders[c]
	delete(l.decoders, c)
	c.clear(flagDecoding)
	return d
}

// parkDecoder keeps a decoder that holds a partial frame or message for
// c's next read, and returns an idle one to the pool.
func (l *loop) parkDecoder(c *Conn, d *codec.Decoder) {
	if d == nil {
		return
	}
	if d.Idle() {
		d.Reset() // clears a sticky error, which Idle does not report
		l.eng.putDecoder(d)
		return
	}
	if l.decoders == nil {
		l.decoders = make(map[*Conn]*codec.Decoder)
	}
	l.decoders[c] = d
	c.set(flagDecoding)
}

// scanHead looks for the end of c's request head, resuming a scan that an
// earlier partial read started.
func (l *loop) scanHead(c *Conn, b []byte, max int) (int, error) {
	s := l.heads[c]
	end, err := s.Scan(b, max)
	if end == 0 && err == nil {
		if l.heads == nil {
			l.heads = make(map[*Conn]codec.HeadScanner)
		}
		l.heads[c] = s
	} else {
		delete(l.heads, c)
	}
	return end, err
}

// setCloseErr records how c ended, unless that is already known.
func (l *loop) setCloseErr(c *Conn, err *codec.CloseError) {
	if l.closeErrs == nil {
		l.closeErrs = make(map[*Conn]*codec.CloseError)
	}
	if _, ok := l.closeErrs[c]; !ok {
		l.closeErrs[c] = err
	}
}

// takeCloseErr returns and forgets how c ended, or nil, and drops its
// other loop-side state.
func (l *loop) takeCloseErr(c *Conn) *codec.CloseError {
	err := l.closeErrs[c]
	delete(l.closeErrs, c)
	delete(l.heads, c)
	return err
}

// execute runs fn on the loop.
func (l *loop) execute(fn func()) error {
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	}))
}
