package poller

import (
	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
)

// negotiation is a loop's upgrader with the per-handshake permessage-deflate
// negotiator bound to it; only its event loop uses it.
type negotiation struct {
	up    ws.Upgrader
	flate codec.FlateNegotiator
	ready bool
}

// upgrader returns the loop's ws.Upgrader: the engine's, plus the
// permessage-deflate negotiation when compression is on.
func (l *loop) upgrader() *ws.Upgrader {
	n := &l.negotiation
	if !n.ready {
		n.up = l.eng.upgrader
		if l.eng.cfg.Compression {
			n.up.Negotiate = n.flate.Negotiate
		}
		n.ready = true
	}
	return &n.up
}

// resetNegotiation prepares for the next handshake.
func (l *loop) resetNegotiation() { l.negotiation.flate.Reset() }

// deflateAccepted reports whether the last handshake negotiated
// permessage-deflate.
func (l *loop) deflateAccepted() bool {
	return l.eng.cfg.Compression && l.negotiation.flate.Accepted()
}
