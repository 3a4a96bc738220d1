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

// flateMode is what a handshake settled for permessage-deflate.
type flateMode uint8

const (
	flateOff flateMode = iota
	// flateFull compresses at Config.CompressLevel: compress/flate's
	// 32 KiB window, which the client did not restrict.
	flateFull
	// flateHuffman compresses Huffman-only (codec.HuffmanOnly): the
	// client allowed the server a window below 32 KiB
	// (server_max_window_bits < 15, RFC 7692 §7.1.2.1), and a stream
	// without back-references stays within any window.
	flateHuffman
)

// flateAccepted reports what the last handshake negotiated.
func (l *loop) flateAccepted() flateMode {
	n := &l.negotiation.flate
	switch {
	case !l.eng.cfg.Compression || !n.Accepted():
		return flateOff
	case codec.DeflateLevelFor(l.eng.cfg.CompressLevel, n.ServerWindowBits()) == codec.HuffmanOnly:
		return flateHuffman
	}
	return flateFull
}
