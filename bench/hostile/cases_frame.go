package hostile

import (
	"fmt"
	"strings"
	"time"
)

// The server's message limit the suite expects: wsloop's default
// (-max-message-size, 16 MiB), also the references' configured limit.
const maxMessage = 16 << 20

// frameCases: the framing rules of RFC 6455 §5 and the UTF-8 and close
// rules of §5.5.1, §7.4 and §8.1, one violation per case, on an upgraded
// connection.
func frameCases() []*Case {
	p1002 := closeCodes(1002)
	cs := []*Case{
		failCase("unmasked frame", "a text frame without the mask bit", "RFC 6455 §5.1 (the server MUST close on an unmasked frame), §7.4.1", p1002,
			Frame(F{Op: OpText, Payload: []byte("naked"), Unmask: true})),
		failCase("reserved data opcode 3", "a frame with opcode 0x3", "RFC 6455 §5.2 (unknown opcode: MUST fail)", p1002,
			Frame(F{Op: 0x3, Payload: []byte("x")})),
		failCase("reserved control opcode 0xB", "a frame with opcode 0xB", "RFC 6455 §5.2", p1002,
			Frame(F{Op: 0xB, Payload: []byte("x")})),
		failCase("RSV1 without extension", "a text frame with RSV1, nothing negotiated", "RFC 6455 §5.2 (MUST fail)", p1002,
			Frame(F{Op: OpText, Payload: []byte("x"), RSV: bitRSV1})),
		failCase("RSV2 set", "a text frame with RSV2", "RFC 6455 §5.2", p1002,
			Frame(F{Op: OpText, Payload: []byte("x"), RSV: bitRSV2})),
		failCase("RSV3 set", "a text frame with RSV3", "RFC 6455 §5.2", p1002,
			Frame(F{Op: OpText, Payload: []byte("x"), RSV: bitRSV3})),
		failCase("control frame over 125 bytes", "a ping with a 126-byte payload", "RFC 6455 §5.5 (control payload ≤ 125 bytes)", p1002,
			Ping(make([]byte, 126))),
		failCase("fragmented control frame", "a ping with FIN clear, then its continuation", "RFC 6455 §5.5 (control frames MUST NOT be fragmented)", p1002,
			Frame(F{Op: OpPing, Payload: []byte("a"), More: true}), Frame(F{Op: OpCont, Payload: []byte("b")})),
		failCase("continuation without a start", "a continuation frame with no message begun", "RFC 6455 §5.4", p1002,
			Frame(F{Op: OpCont, Payload: []byte("orphan")})),
		failCase("new message inside a fragmented one", "text (FIN clear), then another text frame", "RFC 6455 §5.4 (fragments of one message only)", p1002,
			Frame(F{Op: OpText, Payload: []byte("first"), More: true}), Text("second")),
		failCase("64-bit length with the MSB set", "a binary frame declaring 2^63 + 5 bytes", "RFC 6455 §5.2 (the most significant bit MUST be 0)", p1002,
			Frame(F{Op: OpBinary, Len: 1<<63 | 5, Payload: []byte("12345")})),
		failCase("declared length over the limit", fmt.Sprintf("a binary frame header declaring %d bytes (16 MiB + 1); no payload sent", maxMessage+1),
			"RFC 6455 §7.4.1 (1009: message too big), §10.4", closeCodes(1009),
			headerOnly(OpBinary, maxMessage+1)),
		{
			Name: "fragments over the limit", Class: ClassFrame,
			Does: "a message of 16 MiB in one fragment, then one more byte", Want: codeList(closeCodes(1009)), RFC: "RFC 6455 §7.4.1 (1009), §10.4",
			Run: func(e *Env) Result {
				return frameSpec{codes: closeCodes(1009), writes: [][]byte{
					Frame(F{Op: OpBinary, Payload: make([]byte, maxMessage), More: true}), Frame(F{Op: OpCont, Payload: []byte{1}}),
				}}.run(e)
			},
		},
		failCase("invalid UTF-8 text", "a text frame with 0xC3 0x28", "RFC 6455 §8.1 (MUST fail), §7.4.1 (1007)", closeCodes(1007),
			Frame(F{Op: OpText, Payload: []byte("ab\xc3\x28cd")})),
		failCase("invalid UTF-8 split across fragments", "valid first fragment ending in 0xE2 0x82, then 0x28", "RFC 6455 §8.1, §7.4.1 (1007)", closeCodes(1007),
			Frame(F{Op: OpText, Payload: []byte("euro \xe2\x82"), More: true}), Frame(F{Op: OpCont, Payload: []byte("\x28 bad")})),
		failCase("UTF-8 surrogate", "a text frame with an encoded surrogate (ED A0 80)", "RFC 6455 §8.1 (RFC 3629: surrogates are not UTF-8)", closeCodes(1007),
			Frame(F{Op: OpText, Payload: []byte("\xed\xa0\x80")})),
		echoCase("UTF-8 split across fragments", "a 3-byte character split over two fragments", "RFC 6455 §5.4, §8.1 (validity is of the whole message)",
			"the whole text echoed", []Msg{textMsg("euro € sign")},
			Frame(F{Op: OpText, Payload: []byte("euro \xe2\x82"), More: true}), Frame(F{Op: OpCont, Payload: []byte("\xac sign")})),
		echoCase("ping between fragments", "text fragment, ping, final fragment", "RFC 6455 §5.4 (control frames MAY be injected), §5.5.2",
			"pong with the ping's payload, then the message echoed", []Msg{pongMsg([]byte("mid")), textMsg("frag one, frag two")},
			Frame(F{Op: OpText, Payload: []byte("frag one, "), More: true}), Ping([]byte("mid")), Frame(F{Op: OpCont, Payload: []byte("frag two")})),
		echoCase("ping with 125 bytes", "a ping with the largest control payload", "RFC 6455 §5.5.2, §5.5.3 (pong with the same payload)",
			"pong with the same 125 bytes", []Msg{pongMsg([]byte(strings.Repeat("p", 125)))},
			Ping([]byte(strings.Repeat("p", 125)))),
		echoCase("empty text message", "a text frame with no payload", "RFC 6455 §5.6", "an empty text message back", []Msg{textMsg("")}, Text("")),
		echoCase("binary that is not UTF-8", "a binary frame 0xFF 0xFE 0xC3", "RFC 6455 §5.6 (binary is not validated)", "echoed unchanged",
			[]Msg{binMsg([]byte{0xff, 0xfe, 0xc3})}, Binary([]byte{0xff, 0xfe, 0xc3})),
		{
			Name: "non-minimal length encoding", Class: ClassFrame,
			Does: "a 5-byte text frame with its length in the 64-bit form",
			Want: "echoed, or close 1002 (the sender broke a MUST; the receiver is not told what to do)",
			RFC:  "RFC 6455 §5.2 (the minimal number of bytes MUST be used)",
			Run: func(e *Env) Result {
				r := frameSpec{echo: []Msg{textMsg("short")}, writes: [][]byte{Frame(F{Op: OpText, Payload: []byte("short"), Len: 5, Len64: true})}}.run(e)
				if r.Verdict == Stricter && strings.HasPrefix(r.Seen, "close 1002") {
					return pass("%s", r.Seen)
				}
				return r
			},
		},
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 5000} {
		cs = append(cs, failCase(fmt.Sprintf("close code %d", code), fmt.Sprintf("a close frame with status %d", code),
			"RFC 6455 §7.4.1, §7.4.2 (codes a peer must not send), §7.1.7", p1002,
			Frame(F{Op: OpClose, Payload: CloseBody(code, "")})))
	}
	cs = append(cs,
		failCase("close reason not UTF-8", "close 1000 with reason 0xFF 0xFE", "RFC 6455 §5.5.1 (the reason is UTF-8), §8.1, §7.4.1 (1007)", closeCodes(1007),
			Frame(F{Op: OpClose, Payload: CloseBody(1000, "\xff\xfe")})),
		failCase("close with a 1-byte body", "a close frame whose payload is one byte", "RFC 6455 §5.5.1 (a body starts with a 2-byte code)", p1002,
			Frame(F{Op: OpClose, Payload: []byte{0x03}})),
		closeEchoCase("close 1000", "close 1000 with reason \"bye\"", 1000, "bye"),
		closeEchoCase("close 4000", "close 4000 (private use)", 4000, ""),
		closeEchoCase("close 3000", "close 3000 (registered use)", 3000, ""),
		dataAfterCloseCase(),
	)
	return cs
}

// headerOnly is a masked frame header declaring n payload bytes, without
// the payload.
func headerOnly(op byte, n uint64) []byte {
	b := Frame(F{Op: op, Len: n, Payload: nil})
	return b
}

// closeEchoCase: a valid close must be answered with a close (the same
// code, RFC 6455 §5.5.1 "typically echos") and the server ends TCP
// (§7.1.1).
func closeEchoCase(name, does string, code uint16, reason string) *Case {
	return &Case{
		Name: name, Class: ClassFrame, Does: does,
		Want: fmt.Sprintf("close %d back, then the server ends TCP", code),
		RFC:  "RFC 6455 §5.5.1 (answer a close with a close), §7.1.1 (the server closes TCP first)",
		Run: func(e *Env) Result {
			c, _, err := Upgrade(e.Addr())
			if err != nil {
				return other("handshake: %v", err)
			}
			defer c.Close()
			if err := c.Send(Close(code, reason), ioTimeout); err != nil {
				return other("send: %v", err)
			}
			m, err := c.NextData(ioTimeout)
			if err != nil {
				return other("no close: %s", endOf(err, ioTimeout))
			}
			if m.Op != OpClose {
				return other("%v instead of a close", m)
			}
			g := Got{Op: OpClose, Payload: m.Data}
			if got, _ := g.CloseCode(); got != code {
				return other("%v, want close %d", g, code)
			}
			if err := c.ExpectEOF(5 * time.Second); err != nil {
				return other("%v, then %v", g, err)
			}
			return pass("%v, TCP closed", g)
		},
	}
}

// dataAfterCloseCase: after its close, a client's data is not delivered.
func dataAfterCloseCase() *Case {
	return &Case{
		Name: "data after close", Class: ClassFrame,
		Does: "close 1000, then a text frame in the same write",
		Want: "close 1000 back; the text is not echoed",
		RFC:  "RFC 6455 §5.5.1 (no data frames after a close), §1.4",
		Run: func(e *Env) Result {
			c, _, err := Upgrade(e.Addr())
			if err != nil {
				return other("handshake: %v", err)
			}
			defer c.Close()
			if err := c.Send(Join(Close(1000, ""), Text("after close")), ioTimeout); err != nil {
				return other("send: %v", err)
			}
			s := observe(c, ioTimeout, nil)
			r := judgeFail(s, closeCodes(1000))
			if r.Verdict == Pass && len(s.before) > 0 {
				return looser("%s", r.Seen)
			}
			return r
		},
	}
}
