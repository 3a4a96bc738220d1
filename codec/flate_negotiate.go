package codec

import (
	"bytes"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// Extension parameter names of permessage-deflate:
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1
const (
	flateServerNoContextTakeover = "server_no_context_takeover"
	flateClientNoContextTakeover = "client_no_context_takeover"
	flateServerMaxWindowBits     = "server_max_window_bits"
	flateClientMaxWindowBits     = "client_max_window_bits"
)

// The window sizes of permessage-deflate, as base-2 logarithms
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1): 256 bytes to
// 32 KiB. compress/flate compresses with the largest at every level except
// HuffmanOnly, which refers to no window at all.
const (
	flateMinWindowBits = 8
	flateMaxWindowBits = 15
)

// The answers FlateNegotiator gives: flateAnswer to an offer without
// server_max_window_bits, flateAnswerWindow[bits-8] to one with it. They are
// shared by every handshake; ws.Upgrader only reads them.
var (
	flateAnswer = wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
	}.Option()
	flateAnswerWindow = flateWindowAnswers()
)

// flateWindowAnswers returns the answers that repeat server_max_window_bits,
// one per window size.
func flateWindowAnswers() (a [flateMaxWindowBits - flateMinWindowBits + 1]httphead.Option) {
	for i := range a {
		a[i] = wsflate.Parameters{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: true,
			ServerMaxWindowBits:     wsflate.WindowBits(flateMinWindowBits + i),
		}.Option()
	}
	return a
}

// FlateNegotiator is the server side of the permessage-deflate negotiation
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1). Set its Negotiate
// method as ws.Upgrader.Negotiate, run the upgrade, then ask Accepted whether
// compression is on for the connection: if so, decode with
// DecoderConfig.Compression, Inflate messages with RSV1 set and, optionally,
// Deflate outgoing ones at DeflateLevelFor(level, ServerWindowBits()).
//
// It accepts the first permessage-deflate offer it can honour, in the
// client's order of preference
// (https://www.rfc-editor.org/rfc/rfc7692#section-5), and declines (answers
// nothing to) every other offer. Declining is never an error, so a bad offer
// does not fail the handshake: the connection just runs uncompressed or
// with a later offer. An offer is declined when
// (https://www.rfc-editor.org/rfc/rfc7692#section-7):
//   - it has a parameter not defined for an offer, or the same parameter twice;
//   - a parameter has an invalid value: a value on server_no_context_takeover
//     or client_no_context_takeover, server_max_window_bits without a value,
//     or a window size that is not a decimal 8-15 without leading zeros.
//
// The answer always carries server_no_context_takeover and
// client_no_context_takeover (allowed even when not offered,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1), because Deflate and
// Inflate keep no state between messages. It repeats server_max_window_bits
// with the offered value N, 8 to 15, when the offer has it: accepting it
// promises that the server's messages never refer back more than 2^N bytes
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1), and
// ServerWindowBits tells the sender which N. Levels 1-9 keep that promise
// only for N = 15 (compress/flate's window is 32 KiB); HuffmanOnly (no
// back-references) keeps it for every N, which is what DeflateLevelFor picks.
// A peer given level 1-9 output for N < 15 fails with zlib's "invalid
// distance too far back" once a match reaches past its window.
// The answer never carries client_max_window_bits: the server may ignore the
// client's value (Inflate handles any window up to 15 bits), and must not
// send the parameter when it was not offered
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.2).
//
// Extension and parameter names are matched exactly, as wsflate does. This
// replaces wsflate.Extension, which fails the whole handshake on a malformed
// offer instead of declining it, accepts client_max_window_bits twice when the
// first has no value, and accepts window sizes with leading zeros.
//
// The zero value is ready to use. A FlateNegotiator holds the state of one
// handshake: it is not safe for concurrent use; call Reset before reusing it
// (for example from a pool) for another upgrade.
type FlateNegotiator struct {
	accepted bool
	window   uint8 // server_max_window_bits of the accepted offer; 0 if none
}

// Negotiate answers one offered extension; ws.Upgrader calls it once per
// element of Sec-WebSocket-Extensions, in order. It returns the response
// element for an accepted permessage-deflate offer and the zero Option
// (nothing in the response) otherwise. The error is always nil. opt is not
// retained; the returned Option refers to shared immutable bytes and must not
// be modified.
func (n *FlateNegotiator) Negotiate(opt httphead.Option) (httphead.Option, error) {
	if n.accepted || !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	window, ok := checkFlateOffer(&opt.Parameters)
	if !ok {
		return httphead.Option{}, nil
	}
	n.accepted, n.window = true, uint8(window)
	if window != 0 {
		return flateAnswerWindow[window-flateMinWindowBits], nil
	}
	return flateAnswer, nil
}

// Accepted reports whether an offer was accepted, that is whether the upgrade
// response (if the upgrade succeeds) enables permessage-deflate.
func (n *FlateNegotiator) Accepted() bool { return n.accepted }

// ServerWindowBits returns the base-2 logarithm of the LZ77 window the
// server's messages may use on the connection, 8 to 15: the
// server_max_window_bits of the accepted offer, or 15 when that offer did
// not limit it (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1).
// Compress outgoing messages at DeflateLevelFor(level, ServerWindowBits()).
// It is 15 when no offer was accepted.
func (n *FlateNegotiator) ServerWindowBits() int {
	if n.window == 0 {
		return flateMaxWindowBits
	}
	return int(n.window)
}

// Reset prepares n for another handshake.
func (n *FlateNegotiator) Reset() { *n = FlateNegotiator{} }

// checkFlateOffer reports whether an offer with parameters params can be
// accepted, and its server_max_window_bits (8-15), or 0 if it has none.
func checkFlateOffer(params *httphead.Parameters) (window int, ok bool) {
	const (
		seenServerNoContext = 1 << iota
		seenClientNoContext
		seenServerBits
		seenClientBits
	)
	var seen uint8
	ok = true
	params.ForEach(func(key, value []byte) bool {
		var bit uint8
		switch string(key) {
		case flateServerNoContextTakeover:
			bit = seenServerNoContext
			ok = len(value) == 0
		case flateClientNoContextTakeover:
			bit = seenClientNoContext
			ok = len(value) == 0
		case flateServerMaxWindowBits:
			bit = seenServerBits
			window, ok = parseWindowBits(value)
		case flateClientMaxWindowBits:
			bit = seenClientBits
			if len(value) > 0 {
				_, ok = parseWindowBits(value)
			}
		default:
			ok = false
		}
		if seen&bit != 0 {
			ok = false
		}
		seen |= bit
		return ok
	})
	return window, ok
}

// parseWindowBits parses a window size: a decimal integer from 8 to 15
// (flateMinWindowBits to flateMaxWindowBits) without leading zeros
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1). A quoted value
// arrives unquoted, as
// https://www.rfc-editor.org/rfc/rfc6455#section-9.1 requires.
func parseWindowBits(v []byte) (int, bool) {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}
