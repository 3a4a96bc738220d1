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

// flateMaxWindowBits is the only window compress/flate compresses with: 32 KiB.
const flateMaxWindowBits = 15

// The two answers FlateNegotiator gives. They are shared by every handshake;
// ws.Upgrader only reads them.
var (
	flateAnswer = wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
	}.Option()
	flateAnswerWindow = wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
		ServerMaxWindowBits:     flateMaxWindowBits,
	}.Option()
)

// FlateNegotiator is the server side of the permessage-deflate negotiation
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1). Set its Negotiate
// method as ws.Upgrader.Negotiate, run the upgrade, then ask Accepted whether
// compression is on for the connection: if so, decode with
// DecoderConfig.Compression, Inflate messages with RSV1 set and, optionally,
// Deflate outgoing ones.
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
//     or a window size that is not a decimal 8-15 without leading zeros;
//   - server_max_window_bits is below 15, which compress/flate cannot honour
//     (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1).
//
// The answer always carries server_no_context_takeover and
// client_no_context_takeover (allowed even when not offered,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1), because Deflate and
// Inflate keep no state between messages. It repeats server_max_window_bits=15
// when the offer has it. It never carries client_max_window_bits: the server
// may ignore the client's value (Inflate handles any window up to 15 bits),
// and must not send the parameter when it was not offered
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
	n.accepted = true
	if window {
		return flateAnswerWindow, nil
	}
	return flateAnswer, nil
}

// Accepted reports whether an offer was accepted, that is whether the upgrade
// response (if the upgrade succeeds) enables permessage-deflate.
func (n *FlateNegotiator) Accepted() bool { return n.accepted }

// Reset prepares n for another handshake.
func (n *FlateNegotiator) Reset() { n.accepted = false }

// checkFlateOffer reports whether an offer with parameters params can be
// accepted, and whether it has server_max_window_bits (then 15).
func checkFlateOffer(params *httphead.Parameters) (window, ok bool) {
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
			bits, valid := parseWindowBits(value)
			ok = valid && bits == flateMaxWindowBits
			window = true
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
// without leading zeros
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
