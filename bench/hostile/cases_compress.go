package hostile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// offerPlain is the offer of the compression cases: permessage-deflate
// with no parameter, so the client may compress with a 32 KiB window and
// any context (RFC 7692 §7.1).
const offerPlain = "permessage-deflate"

// compressionCases: permessage-deflate (RFC 7692), on a server that has
// it enabled (wsloop -compress).
func compressionCases() []*Case {
	text := []byte(strings.Repeat("compressible text, ", 64))
	cs := []*Case{
		deflateFail("compression bomb", "a 32 KiB compressed message that inflates to 32 MiB of zeros",
			"RFC 7692 §8.1 (limits apply after decompression), RFC 6455 §7.4.1 (1009), §10.4", closeCodes(1009),
			func() [][]byte {
				return [][]byte{Frame(F{Op: OpBinary, RSV: bitRSV1, Payload: Deflate(make([]byte, 32<<20))})}
			}),
		deflateFail("corrupt deflate data", "RSV1 set and a payload that is not DEFLATE (reserved block type)",
			"RFC 7692 §6.2 (fail on data that does not inflate; no code is named), RFC 6455 §7.4.1 (1007 inconsistent data, or 1002)", closeCodes(1007, 1002),
			frames(Frame(F{Op: OpBinary, RSV: bitRSV1, Payload: []byte{0xff, 0xff, 0xff, 0xff, 0x00}}))),
		deflateFail("RSV1 on a continuation", "a compressed first fragment, then a continuation with RSV1",
			"RFC 7692 §6.1 (RSV1 only on a message's first frame), RFC 6455 §5.2", closeCodes(1002),
			frames(Frame(F{Op: OpText, RSV: bitRSV1, More: true, Payload: Deflate([]byte("first half "))}),
				Frame(F{Op: OpCont, RSV: bitRSV1, Payload: Deflate([]byte("second half"))}))),
		deflateFail("RSV1 on a ping", "a ping with RSV1", "RFC 7692 §6.1 (never on control frames), RFC 6455 §5.2", closeCodes(1002),
			frames(Frame(F{Op: OpPing, RSV: bitRSV1, Payload: Deflate([]byte("ping"))}))),
		deflateFail("compressed invalid UTF-8", "a compressed text message that inflates to 0xC3 0x28",
			"RFC 6455 §8.1 (validity of the inflated text), §7.4.1 (1007)", closeCodes(1007),
			frames(Frame(F{Op: OpText, RSV: bitRSV1, Payload: Deflate([]byte("ok \xc3\x28 bad"))}))),
		deflateEcho("compressed message", "a compressed text message", "RFC 7692 §6",
			[]Msg{textMsg(string(text))}, Frame(F{Op: OpText, RSV: bitRSV1, Payload: Deflate(text)})),
		deflateEcho("compressed message in fragments", "a compressed text message in three fragments", "RFC 7692 §6.1 (RSV1 on the first fragment only)",
			[]Msg{textMsg(string(text))}, compressedFragments(text, 3)),
		deflateEcho("uncompressed message on a deflate connection", "a text message without RSV1", "RFC 7692 §6 (compression is per message)",
			[]Msg{textMsg("plain")}, Text("plain")),
	}
	for bits := 8; bits <= 15; bits++ {
		cs = append(cs, windowBitsCase(bits))
	}
	for _, d := range []struct{ name, offer, why string }{
		{"window bits 7 declined", "permessage-deflate; server_max_window_bits=7", "§7.1.2.1 (8 to 15)"},
		{"window bits without value declined", "permessage-deflate; server_max_window_bits", "§7.1.2.1 (an offer's server_max_window_bits has a value)"},
		{"unknown parameter declined", "permessage-deflate; x-unknown=1", "§7 (a parameter not defined for offers)"},
		{"duplicate parameter declined", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "§7 (the same parameter twice)"},
		{"no_context_takeover with a value declined", "permessage-deflate; client_no_context_takeover=1", "§7.1.1.2 (the parameter has no value)"},
	} {
		cs = append(cs, declineCase(d.name, d.offer, "RFC 7692 §7 (MUST decline an invalid offer), "+d.why))
	}
	cs = append(cs, &Case{
		Name: "bad offer then a good one", Class: ClassCompression, Compress: true,
		Does: "`permessage-deflate; server_max_window_bits=7, permessage-deflate` (two offers)",
		Want: "101 accepting permessage-deflate (the second offer)",
		RFC:  "RFC 7692 §5 (offers are alternatives in preference order), RFC 6455 §9.1",
		Run: func(e *Env) Result {
			return acceptCase(e, "permessage-deflate; server_max_window_bits=7, permessage-deflate", 15)
		},
	})
	return cs
}

// deflateFail is a failCase on a connection with permessage-deflate.
func deflateFail(name, does, rfc string, codes []uint16, writes func() [][]byte) *Case {
	return &Case{Name: name, Class: ClassCompression, Compress: true, Does: does, Want: codeList(codes), RFC: rfc,
		Run: func(e *Env) Result {
			if !e.T.Compress {
				return other("permessage-deflate not enabled on this server")
			}
			return frameSpec{offer: offerPlain, writes: writes(), codes: codes}.run(e)
		}}
}

// frames returns its arguments (the writes of a case, built once).
func frames(w ...[]byte) func() [][]byte { return func() [][]byte { return w } }

// deflateEcho is an echoCase on a connection with permessage-deflate.
func deflateEcho(name, does, rfc string, want []Msg, writes ...[]byte) *Case {
	spec := frameSpec{offer: offerPlain, writes: writes, echo: want}
	return &Case{Name: name, Class: ClassCompression, Compress: true, Does: does, Want: "echoed", RFC: rfc,
		Run: func(e *Env) Result {
			if !e.T.Compress {
				return other("permessage-deflate not enabled on this server")
			}
			return spec.run(e)
		}}
}

// compressedFragments compresses p and sends it as n fragments.
func compressedFragments(p []byte, n int) []byte {
	z := Deflate(p)
	size := (len(z) + n - 1) / n
	var b bytes.Buffer
	for i := 0; i < len(z); i += size {
		end := min(i+size, len(z))
		f := F{Op: OpCont, Payload: z[i:end], More: end < len(z)}
		if i == 0 {
			f.Op, f.RSV = OpText, bitRSV1
		}
		b.Write(Frame(f))
	}
	return b.Bytes()
}

// extParams parses the first extension of a Sec-WebSocket-Extensions
// value: its name and parameters (name → value, "" for none).
func extParams(v string) (string, map[string]string) {
	first, _, _ := strings.Cut(v, ",")
	parts := strings.Split(first, ";")
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return strings.ToLower(strings.TrimSpace(parts[0])), params
}

// windowBitsCase: an offer of server_max_window_bits=bits must be
// accepted with the parameter (the same or a smaller value; only 15 may
// be left out).
func windowBitsCase(bits int) *Case {
	offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d", bits)
	return &Case{
		Name: fmt.Sprintf("server_max_window_bits=%d", bits), Class: ClassCompression, Compress: true,
		Does: "offer `" + offer + "`",
		Want: fmt.Sprintf("101 accepting permessage-deflate with server_max_window_bits ≤ %d; the compressed echo works and refers no further back than that window", bits),
		RFC:  "RFC 7692 §7.1.2.1 (the server accepts by answering the same or a smaller value)",
		Run:  func(e *Env) Result { return acceptCase(e, offer, bits) },
	}
}

// acceptCase: offer must be accepted, with server_max_window_bits at most
// bits (absent only when bits is 15), and a compressed message must echo.
func acceptCase(e *Env, offer string, bits int) Result {
	if !e.T.Compress {
		return other("permessage-deflate not enabled on this server")
	}
	c, resp, err := Upgrade(e.Addr(), "Sec-WebSocket-Extensions: "+offer)
	if err != nil {
		if resp != nil && resp.Status >= 400 {
			return stricter("refused: %s", statusDesc(resp))
		}
		return other("handshake: %v", err)
	}
	defer c.Close()
	ext := resp.Get("Sec-WebSocket-Extensions")
	name, params := extParams(ext)
	if name != "permessage-deflate" {
		return stricter("declined (101 with Sec-WebSocket-Extensions %q)", ext)
	}
	got, ok := params["server_max_window_bits"]
	if ok {
		n, err := strconv.Atoi(got)
		if err != nil || n < 8 || n > bits {
			return looser("accepted with server_max_window_bits=%q for an offer of %d", got, bits)
		}
	} else if bits < 15 {
		return looser("accepted without server_max_window_bits (a 32 KiB window) for an offer of %d", bits)
	}
	agreed := 15
	if got != "" {
		agreed, _ = strconv.Atoi(got)
	}
	// A block repeated at a distance just over the agreed window: a
	// compressor that keeps to the window cannot refer back to it.
	block := make([]byte, 1<<agreed+512)
	rng := rand.New(rand.NewPCG(uint64(bits), 7))
	for i := range block {
		block[i] = byte(rng.IntN(256))
	}
	payload := append(append([]byte(nil), block...), block...)
	if err := c.Send(Frame(F{Op: OpBinary, RSV: bitRSV1, Payload: Deflate(payload)}), ioTimeout); err != nil {
		return other("accepted (%s), then send: %v", ext, err)
	}
	m, err := c.NextData(ioTimeout)
	switch {
	case err != nil:
		return other("accepted (%s), then no echo: %s", ext, endOf(err, ioTimeout))
	case m.Op != OpBinary || !bytes.Equal(m.Data, payload):
		return other("accepted (%s), then %v", ext, m)
	}
	seen := "echo not compressed"
	if m.Compressed {
		_, dist, err := Distances(append(m.Raw, deflateTail...), m.History)
		if err != nil {
			return other("accepted (%s), the echo's DEFLATE stream: %v", ext, err)
		}
		if dist > 1<<agreed {
			return looser("accepted (%s) but the echo refers %d bytes back, past the %d-byte window", ext, dist, 1<<agreed)
		}
		seen = fmt.Sprintf("echo refers at most %d bytes back", dist)
	}
	if err := c.CloseClean(); err != nil {
		return other("accepted (%s), echoed, then %v", ext, err)
	}
	return pass("accepted: %s; %s", ext, seen)
}

// declineCase: an invalid offer must be declined: 101 without the
// extension.
func declineCase(name, offer, rfc string) *Case {
	return &Case{
		Name: name, Class: ClassCompression, Compress: true,
		Does: "offer `" + offer + "`",
		Want: "101 without Sec-WebSocket-Extensions (declined), echo works",
		RFC:  rfc,
		Run: func(e *Env) Result {
			h := NewHead(e.Addr()).Add("Sec-WebSocket-Extensions: " + offer)
			s := tryHead(e.Addr(), h.Bytes(), h.Key(), nil)
			r := judgeHead(s, upgrades)
			if r.Verdict == Pass && s.resp.Get("Sec-WebSocket-Extensions") != "" {
				return looser("accepted: %s", s.resp.Get("Sec-WebSocket-Extensions"))
			}
			return r
		},
	}
}
