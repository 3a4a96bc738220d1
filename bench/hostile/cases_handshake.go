package hostile

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// handshakeCases: the opening handshake, from well formed to hostile.
// RFC 6455 §4.2.1 lists what a server must find in a client's handshake
// and says to refuse anything else with an HTTP error such as 400; RFC
// 9112 §2.2 and §5 make malformed HTTP framing a 400; RFC 9110 says which
// fields some error statuses must carry.
func handshakeCases() []*Case {
	cs := []*Case{
		// §4.1/§4.2.2: the reference handshake.
		headCase("valid request", "a minimal valid handshake", "RFC 6455 §4.1, §4.2.2", upgrades, NewHead),

		// Issue class 5: loose header parsing.
		headCase("space before colon", "`Upgrade : websocket`", "RFC 9112 §5.1 (MUST reject with 400)", refuse(400),
			func(h string) *Head { return NewHead(h).Set("Upgrade", "Upgrade : websocket") }),
		headCase("0xFF in a field name", "an extra field `X-\\xffBad: 1`", "RFC 9110 §5.1 (field-name is a token), RFC 9112 §2.2", refuse(400),
			func(h string) *Head { return NewHead(h).Add("X-\xffBad: 1") }),
		headCase("space inside a field name", "an extra field `X Bad: 1`", "RFC 9110 §5.1, RFC 9112 §2.2", refuse(400),
			func(h string) *Head { return NewHead(h).Add("X Bad: 1") }),
		headCase("two different keys", "two Sec-WebSocket-Key fields with different values", "RFC 6455 §11.3.1 (MUST NOT appear more than once), §4.2.1", refuse(400),
			func(h string) *Head { return NewHead(h).Add("Sec-WebSocket-Key: " + NewKey()) }),
		headCase("two Host fields", "`Host` twice", "RFC 9112 §3.2 (MUST respond 400)", refuse(400),
			func(h string) *Head { return NewHead(h).Add("Host: other.example") }),
		headCase("key not base64 of 16 bytes", "a 24-character key that decodes to 18 bytes", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head {
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString([]byte("eighteen-bytes-key")))
			}),
		headCase("key not base64", "a 24-character key with characters outside base64", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head {
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==")
			}),
		headCase("non-ASCII key", "a key of UTF-8 letters (24 bytes)", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head {
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: ééééééééééé==")
			}),
		headCase("short key", "base64 of 8 bytes (12 characters)", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head { return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAA=") }),
		headCase("long key", "base64 of 20 bytes", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head {
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 20)))
			}),

		// Missing fields.
		headCase("no Host", "the handshake without Host", "RFC 9112 §3.2 (MUST respond 400), RFC 6455 §4.2.1 item 2", refuse(400),
			func(h string) *Head { return NewHead(h).Set("Host") }),
		headCase("no key", "without Sec-WebSocket-Key", "RFC 6455 §4.2.1 item 5", refuse(400),
			func(h string) *Head { return NewHead(h).Set("Sec-WebSocket-Key") }),
		headCase("no version", "without Sec-WebSocket-Version", "RFC 6455 §4.2.1 item 6, §4.4", refuse(400, 426),
			func(h string) *Head { return NewHead(h).Set("Sec-WebSocket-Version") }),
		headCase("no Upgrade", "without the Upgrade field", "RFC 6455 §4.2.1 item 3; RFC 9110 §15.5.22", refuse(400, 426),
			func(h string) *Head { return NewHead(h).Set("Upgrade") }),
		headCase("no Connection", "without the Connection field", "RFC 6455 §4.2.1 item 4", refuse(400, 426),
			func(h string) *Head { return NewHead(h).Set("Connection") }),
		headCase("Upgrade not websocket", "`Upgrade: h2c`", "RFC 6455 §4.2.1 item 3", refuse(400, 426),
			func(h string) *Head { return NewHead(h).Set("Upgrade", "Upgrade: h2c") }),

		// Version.
		headCase("wrong version", "`Sec-WebSocket-Version: 8`", "RFC 6455 §4.4 (an error such as 426, with Sec-WebSocket-Version), RFC 9110 §15.5.22 (Upgrade in a 426)",
			refuse(426, 400).with("Sec-WebSocket-Version", "13"),
			func(h string) *Head { return NewHead(h).Set("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8") }),
		headCase("non-numeric version", "`Sec-WebSocket-Version: abc`", "RFC 6455 §4.4, RFC 9110 §15.5.22",
			refuse(426, 400).with("Sec-WebSocket-Version", "13"),
			func(h string) *Head { return NewHead(h).Set("Sec-WebSocket-Version", "Sec-WebSocket-Version: abc") }),
		headCase("duplicate version", "Sec-WebSocket-Version: 13 twice", "RFC 6455 §11.3.5 (MUST NOT appear more than once in a request)", refuse(400, 426),
			func(h string) *Head { return NewHead(h).Add("Sec-WebSocket-Version: 13") }),

		// Method and request line.
		rawCase("POST upgrade", "the handshake with POST", "RFC 6455 §4.1 (method GET), RFC 9110 §15.5.6 (Allow in a 405)", refuse(405),
			func(h, key string) string { return strings.Replace(validRaw(h, key), "GET ", "POST ", 1) }),
		rawCase("lowercase method", "`get / HTTP/1.1`", "RFC 9110 §9.1 (methods are case-sensitive), RFC 6455 §4.1", refuse(400, 405, 501),
			func(h, key string) string { return strings.Replace(validRaw(h, key), "GET ", "get ", 1) }),
		rawCase("HTTP/1.0", "the handshake as HTTP/1.0", "RFC 6455 §4.1 (HTTP version at least 1.1)", refuse(400, 426, 505),
			func(h, key string) string { return strings.Replace(validRaw(h, key), "HTTP/1.1", "HTTP/1.0", 1) }),
		rawCase("lowercase http", "`GET / http/1.1`", "RFC 9112 §2.3 (HTTP-name is case-sensitive), §2.2", refuse(400, 505),
			func(h, key string) string { return strings.Replace(validRaw(h, key), "HTTP/1.1", "http/1.1", 1) }),
		rawCase("no HTTP version", "`GET /` as the request line", "RFC 9112 §3, §2.2", refuse(400, 505),
			func(h, key string) string { return strings.Replace(validRaw(h, key), " HTTP/1.1", "", 1) }),
		rawCase("extra spaces in request line", "`GET  /hostile  HTTP/1.1`", "RFC 9112 §3 (single SP; a recipient MAY split on whitespace)", either(400),
			func(h, key string) string {
				return strings.Replace(validRaw(h, key), "GET /hostile HTTP/1.1", "GET  /hostile  HTTP/1.1", 1)
			}),
		rawCase("tabs in request line", "`GET\\t/hostile\\tHTTP/1.1`", "RFC 9112 §3 (a recipient MAY treat HTAB as SP)", either(400),
			func(h, key string) string {
				return strings.Replace(validRaw(h, key), "GET /hostile HTTP/1.1", "GET\t/hostile\tHTTP/1.1", 1)
			}),
		rawCase("absolute-form target", "`GET http://HOST/hostile HTTP/1.1`", "RFC 9112 §3.2.2 (a server MUST accept the absolute-form)", upgrades,
			func(h, key string) string {
				return strings.Replace(validRaw(h, key), "GET /hostile", "GET http://"+h+"/hostile", 1)
			}),

		// Framing of the head.
		headCase("obs-fold", "a field continued on the next line (`X-Fold: a` CRLF SP `b`)", "RFC 9112 §5.2 (reject with 400 or replace the fold by SP)", either(400),
			func(h string) *Head { return NewHead(h).Add("X-Fold: a\r\n b") }),
		headCase("NUL in the key", "a NUL byte inside Sec-WebSocket-Key", "RFC 9110 §5.5 (reject, or replace by SP: then the key is invalid)", refuse(400),
			func(h string) *Head {
				k := NewKey()
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: "+k[:10]+"\x00"+k[11:])
			}),
		headCase("NUL in a field value", "`X-Nul: a\\x00b`", "RFC 9110 §5.5 (reject, or replace NUL by SP)", either(400),
			func(h string) *Head { return NewHead(h).Add("X-Nul: a\x00b") }),
		headCase("bare CR in a field value", "`X-Cr: a\\rb`", "RFC 9112 §2.2 (bare CR: invalid, or replace by SP)", either(400),
			func(h string) *Head { return NewHead(h).Add("X-Cr: a\rb") }),
		headCase("bare CR in the key", "a CR inside Sec-WebSocket-Key", "RFC 9112 §2.2 (invalid, or replaced by SP: then the key is invalid)", refuse(400),
			func(h string) *Head {
				k := NewKey()
				return NewHead(h).Set("Sec-WebSocket-Key", "Sec-WebSocket-Key: "+k[:10]+"\r"+k[11:])
			}),
		headCase("bare LF line endings", "every line ended by LF alone", "RFC 9112 §2.2 (a recipient MAY take a bare LF as a line end; otherwise the head is invalid, or has not ended)",
			answer{upgrade: true, waits: true, status: []int{400}},
			func(h string) *Head { hd := NewHead(h); hd.EOL = "\n"; return hd }),
		rawCase("one bare LF", "one field line ended by LF alone, the rest CRLF", "RFC 9112 §2.2", either(400),
			func(h, key string) string {
				return strings.Replace(validRaw(h, key), "Upgrade: websocket\r\n", "Upgrade: websocket\n", 1)
			}),
		headSizeCase(),
		headCase("whitespace around values", "`Upgrade:   websocket  ` and `Connection:  Upgrade `", "RFC 9110 §5.5 (OWS is not part of the value)", upgrades,
			func(h string) *Head {
				return NewHead(h).Set("Upgrade", "Upgrade:   websocket  ").Set("Connection", "Connection:  Upgrade ")
			}),
		headCase("Connection list", "`Connection: keep-alive, Upgrade`, `Upgrade: WebSocket`", "RFC 6455 §4.2.1 items 3, 4 (token lists, case-insensitive)", upgrades,
			func(h string) *Head {
				return NewHead(h).Set("Connection", "Connection: keep-alive, Upgrade").Set("Upgrade", "Upgrade: WebSocket")
			}),
		// HTTP lets list fields repeat (RFC 9110 §5.3), but RFC 6455
		// §4.2.1 asks for one Upgrade field, and a server facing the
		// internet refuses a repeated handshake field rather than guess
		// which line an intermediary acted on (as for Host, §3.2).
		headCase("duplicate Upgrade", "`Upgrade: websocket` twice", "RFC 6455 §4.2.1 (an |Upgrade| header field), RFC 9112 §3.2 by analogy", refuse(400),
			func(h string) *Head { return NewHead(h).Add("Upgrade: websocket") }),

		// Issue class 4: HTTP framing.
		bodyCase("Content-Length body", "`Content-Length: N` and a body that is a valid masked text frame", bodyLength),
		bodyCase("chunked body", "`Transfer-Encoding: chunked` and a chunk that is a valid masked text frame", bodyChunked),
		bodyCase("Content-Length and chunked", "both `Content-Length` (wrong) and `Transfer-Encoding: chunked`, a chunk that is a valid masked text frame", bodyBoth),
		headCase("negative Content-Length", "`Content-Length: -1`", "RFC 9112 §6.3 item 5 (MUST respond 400)", refuse(400),
			func(h string) *Head { return NewHead(h).Add("Content-Length: -1") }),
		headCase("non-numeric Content-Length", "`Content-Length: abc`", "RFC 9112 §6.3 item 5 (MUST respond 400)", refuse(400),
			func(h string) *Head { return NewHead(h).Add("Content-Length: abc") }),
		headCase("Content-Length 0", "`Content-Length: 0` (no body)", "RFC 9112 §6.3 (a zero-length body is no body)", upgrades,
			func(h string) *Head { return NewHead(h).Add("Content-Length: 0") }),

		// Origin and subprotocols: a server that does not restrict them must
		// still upgrade.
		headCase("Origin", "`Origin: https://evil.example`", "RFC 6455 §4.2.2 (Origin is checked only by a server that restricts it)", upgrades,
			func(h string) *Head { return NewHead(h).Add("Origin: https://evil.example") }),
		headCase("Origin null", "`Origin: null`", "RFC 6455 §4.2.2, §10.2", upgrades,
			func(h string) *Head { return NewHead(h).Add("Origin: null") }),
		noEchoFieldCase("unknown subprotocol", "Sec-WebSocket-Protocol", "x-unknown, y-unknown",
			"RFC 6455 §4.2.2 step 5 item 4 (no Sec-WebSocket-Protocol when none is chosen)"),
		noEchoFieldCase("unknown extension", "Sec-WebSocket-Extensions", "x-unknown; a=1",
			"RFC 6455 §9.1 (only extensions the server uses are listed)"),

		// Delivery of the head.
		splitEveryByteCase(),
		trickleHeadCase(),
		earlyFramesCase(),
		slowlorisCase(),
	}
	return cs
}

// validRaw is a valid handshake as one string.
func validRaw(host, key string) string {
	return "GET /hostile HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// noEchoFieldCase: an offer of a subprotocol or extension the server does
// not know must upgrade without the field in the 101.
func noEchoFieldCase(name, field, value, rfc string) *Case {
	return &Case{
		Name: name, Class: ClassHandshake, Does: "`" + field + ": " + value + "`", RFC: rfc,
		Want: "101 without " + field + ", echo works",
		Run: func(e *Env) Result {
			h := NewHead(e.Addr()).Add(field + ": " + value)
			s := tryHead(e.Addr(), h.Bytes(), h.Key(), nil)
			r := judgeHead(s, upgrades)
			if r.Verdict == Pass && s.resp.Get(field) != "" {
				return looser("101 with %s: %s", field, s.resp.Get(field))
			}
			return r
		},
	}
}

// How a bodyCase frames its body.
type bodyKind int

const (
	bodyLength  bodyKind = iota // Content-Length
	bodyChunked                 // Transfer-Encoding: chunked
	bodyBoth                    // both, Content-Length wrong (RFC 9112 §6.1: TE wins, or refuse)
)

// bodyCase (issue class 4): a GET upgrade that carries a body. The body
// is HTTP content, never WebSocket frames: the server refuses the
// request, or reads the body as HTTP and upgrades after it. The body
// holds a valid masked text frame "smuggled", so a server that decodes
// it as frames echoes it (or fails on the chunk framing): looser.
func bodyCase(name, does string, kind bodyKind) *Case {
	rfc := "RFC 9112 §6 (the body is part of the request), RFC 9110 §9.3.1, §7.8 (the protocol switches after the request)"
	refusals := refuse(400, 413, 501)
	if kind == bodyBoth {
		rfc = "RFC 9112 §6.1 (MAY refuse; else Transfer-Encoding wins; MUST close after the response), §6.3"
	}
	return &Case{
		Name: name, Class: ClassHandshake, Does: does, RFC: rfc,
		Want: "400 (or 413/501), or 101 with the body consumed as HTTP: it is never decoded as frames",
		Run: func(e *Env) Result {
			smuggled := Text("smuggled")
			h := NewHead(e.Addr())
			switch kind {
			case bodyLength:
				h.Add(fmt.Sprintf("Content-Length: %d", len(smuggled)))
				h.Body = smuggled
			case bodyChunked, bodyBoth:
				h.Add("Transfer-Encoding: chunked")
				h.Body = fmt.Appendf(nil, "%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
				if kind == bodyBoth {
					h.Add("Content-Length: 3")
				}
			}
			c, err := Dial(e.Addr())
			if err != nil {
				return other("dial: %v", err)
			}
			defer c.Close()
			resp, err := c.Handshake(h)
			if resp == nil {
				return other("%v", err)
			}
			if resp.Status != 101 {
				return judgeHead(hsSeen{resp: resp}, refusals)
			}
			if err != nil {
				return other("101 but %v", err)
			}
			if err := c.Send(Text("after the body"), ioTimeout); err != nil {
				return other("101, then send: %v", err)
			}
			m, err := c.NextData(ioTimeout)
			switch {
			case err != nil:
				return other("101, then %s", endOf(err, ioTimeout))
			case m.Op == OpText && string(m.Data) == "smuggled":
				return looser("101 and the body decoded as a frame (echoed %q)", m.Data)
			case m.Op == OpClose:
				return looser("101 and the body decoded as frames (%v)", Got{Op: OpClose, Payload: m.Data})
			case m.Op == OpText && string(m.Data) == "after the body":
				if err := c.CloseClean(); err != nil {
					return other("101, body skipped, then %v", err)
				}
				return pass("101, body consumed as HTTP")
			}
			return other("101, then %v", m)
		},
	}
}

// splitEveryByteCase: the valid handshake sent in two writes, split at
// every byte, on one connection per split point.
func splitEveryByteCase() *Case {
	return &Case{
		Name: "split at every byte", Class: ClassHandshake,
		Does: "a valid handshake in two writes, split after byte i, for every i (one connection each)",
		Want: "101 and echo works for every split", RFC: "RFC 9112 §2 (a message is a byte stream), RFC 6455 §4.2.1",
		Run: func(e *Env) Result {
			n := len(NewHead(e.Addr()).Bytes())
			for i := 1; i < n; i++ {
				h := NewHead(e.Addr())
				split := func(c *Client, b []byte) error {
					if err := c.Send(b[:i], ioTimeout); err != nil {
						return err
					}
					return c.Send(b[i:], ioTimeout)
				}
				r := judgeHead(tryHead(e.Addr(), h.Bytes(), h.Key(), split), upgrades)
				if r.Verdict != Pass {
					r.Seen = fmt.Sprintf("split after byte %d of %d: %s", i, n, r.Seen)
					return r
				}
			}
			return pass("101 and echo for all %d splits", n-1)
		},
	}
}

// trickleHeadCase: one byte per write.
func trickleHeadCase() *Case {
	return &Case{
		Name: "one byte per write", Class: ClassHandshake,
		Does: "a valid handshake written one byte per segment",
		Want: "101 and echo works", RFC: "RFC 9112 §2, RFC 6455 §4.2.1",
		Run: func(e *Env) Result {
			h := NewHead(e.Addr())
			trickle := func(c *Client, b []byte) error { return c.Trickle(b, ioTimeout) }
			return judgeHead(tryHead(e.Addr(), h.Bytes(), h.Key(), trickle), upgrades)
		},
	}
}

// earlyFramesCase: frames pipelined in the same write as the head. A
// client must wait for the 101 (RFC 6455 §4.1), but nothing lets a
// server lose them; the brief of this suite (and wsloop's README) is to
// decode them.
func earlyFramesCase() *Case {
	return &Case{
		Name: "frames right after the head", Class: ClassHandshake,
		Does: "the handshake and two text frames in one write",
		Want: "101, then both frames echoed",
		RFC:  "RFC 6455 §4.1 (the client MUST wait for the 101, but nothing lets the server drop bytes that follow the head: they are the connection's frames), §5; wsloop's README",
		Run: func(e *Env) Result {
			h := NewHead(e.Addr())
			h.Body = Join(Text("early one"), Text("early two"))
			c, err := Dial(e.Addr())
			if err != nil {
				return other("dial: %v", err)
			}
			defer c.Close()
			if resp, err := c.Handshake(h); err != nil {
				if resp != nil && resp.Status >= 400 {
					return stricter("refused: %s", statusDesc(resp))
				}
				return other("%v", err)
			}
			for _, want := range []string{"early one", "early two"} {
				if err := c.ExpectEcho(OpText, []byte(want), ioTimeout); err != nil {
					return other("101, then %v", err)
				}
			}
			if err := c.CloseClean(); err != nil {
				return other("echoed, then %v", err)
			}
			return pass("101, both echoed")
		},
	}
}

// headSizeCase: a head over the server's limit gets 431. The limit is
// the server's own (wsloop's is 8 KiB); one whose limit is larger than the
// head upgrades it.
func headSizeCase() *Case {
	const size = 9 << 10
	return &Case{
		Name: "head over 8 KiB", Class: ClassHandshake,
		Does: "a handshake with a 9 KiB field (wsloop's limit is 8 KiB)",
		Want: "431 from a server whose limit is under 9 KiB; 101 from one whose limit is larger",
		RFC:  "RFC 6585 §5 (431 Request Header Fields Too Large), RFC 9112 §2.3",
		Run: func(e *Env) Result {
			h := NewHead(e.Addr()).Add("X-Big: " + strings.Repeat("a", size))
			a := refuse(431)
			if e.T.HeadLimit > len(h.Bytes()) {
				a = upgrades
			}
			r := judgeHead(tryHead(e.Addr(), h.Bytes(), h.Key(), nil), a)
			if e.T.HeadLimit > 0 {
				r.Seen += fmt.Sprintf(" (its limit: %d bytes)", e.T.HeadLimit)
			}
			return r
		},
	}
}
