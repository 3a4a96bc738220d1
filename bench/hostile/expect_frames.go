package hostile

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// sentinel is the payload of a ping sent after a case's frames. Its pong
// arriving before any close means the server went on after the frames;
// reading stops shortly after it instead of waiting for a close that
// will not come.
var sentinel = []byte("hostile-sentinel")

// sentinelGrace is how long reading goes on after the sentinel's pong, for
// a close the server queued behind it.
const sentinelGrace = 500 * time.Millisecond

// frameSeen is what a server sent back after a case's frames.
type frameSeen struct {
	before   []Msg // data messages and pongs before the close (sentinel's pong excluded)
	close    *Msg
	end      string // how reading ended without a close
	sentinel bool   // the sentinel's pong came
	tcpErr   error  // after our reply to its close: nil when the server ended TCP
}

// observe reads what the server sends for up to d: until its close
// frame (answered, then the end of TCP awaited), the end of TCP, or
// enough(before) after the sentinel's pong.
func observe(c *Client, d time.Duration, enough func(before []Msg) bool) frameSeen {
	var s frameSeen
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			s.end = fmt.Sprintf("no answer within %v", d)
			return s
		}
		m, err := c.ReadMsg(left)
		if err != nil {
			if s.sentinel && isTimeout(err) {
				s.end = "connection open"
			} else {
				s.end = endOf(err, d)
			}
			return s
		}
		switch {
		case m.Op == OpClose:
			s.close = &m
			code, _ := Got{Op: OpClose, Payload: m.Data}.CloseCode()
			if !sendableCode(code) {
				code = 1000
			}
			_ = c.Send(Close(code, ""), ioTimeout)
			s.tcpErr = c.ExpectEOF(5 * time.Second)
			return s
		case m.Op == OpPing:
		case m.Op == OpPong && bytes.Equal(m.Data, sentinel):
			s.sentinel = true
			if enough == nil {
				deadline = time.Now().Add(sentinelGrace)
			} else if enough(s.before) {
				return s
			}
		default:
			s.before = append(s.before, m)
			if s.sentinel && enough != nil && enough(s.before) {
				return s
			}
		}
	}
}

// sendableCode reports whether a client may send code in a close frame
// (RFC 6455 §7.4.1, §7.4.2).
func sendableCode(code uint16) bool {
	switch {
	case code < 1000 || code >= 5000:
		return false
	case code == 1004 || code == 1005 || code == 1006 || code == 1015:
		return false
	case code >= 1016 && code < 3000:
		return false
	}
	return true
}

func (s frameSeen) closeCode() uint16 {
	code, _ := Got{Op: OpClose, Payload: s.close.Data}.CloseCode()
	return code
}

func (s frameSeen) closeDesc() string {
	g := Got{Op: OpClose, Payload: s.close.Data}
	if _, ok := g.CloseCode(); !ok {
		return fmt.Sprintf("malformed close (%d-byte body)", len(s.close.Data))
	}
	return g.String()
}

// summary describes the messages before the close.
func summary(ms []Msg) string {
	if len(ms) == 0 {
		return "nothing"
	}
	parts := make([]string, 0, 3)
	for i, m := range ms {
		if i == 2 && len(ms) > 3 {
			parts = append(parts, fmt.Sprintf("… %d in all", len(ms)))
			break
		}
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// judgeFail: the server must fail the connection with one of codes.
func judgeFail(s frameSeen, codes []uint16) Result {
	if s.close == nil {
		if len(s.before) > 0 || s.sentinel {
			return looser("no close: sent %s, answered the next ping", summary(s.before))
		}
		return other("%s, no close frame", s.end)
	}
	desc := s.closeDesc()
	if len(s.before) > 0 {
		desc = fmt.Sprintf("%s after %s", desc, summary(s.before))
	}
	if !slices.Contains(codes, s.closeCode()) {
		return other("%s, want %s", desc, codeList(codes))
	}
	if s.tcpErr != nil {
		return other("%s, then %v", desc, s.tcpErr)
	}
	return pass("%s", desc)
}

// judgeEcho: the server must answer with want (data messages and pongs,
// in order) and keep the connection open.
func judgeEcho(s frameSeen, want []Msg) Result {
	got := s.before
	match := len(got) >= len(want)
	for i := 0; match && i < len(want); i++ {
		match = got[i].Op == want[i].Op && bytes.Equal(got[i].Data, want[i].Data)
	}
	switch {
	case match && s.close == nil:
		return pass("%s", summary(want))
	case match:
		return other("answered, then %s", s.closeDesc())
	case s.close != nil:
		return stricter("%s after %s", s.closeDesc(), summary(got))
	}
	return other("got %s, want %s (%s)", summary(got), summary(want), s.end)
}

func codeList(codes []uint16) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprint(c)
	}
	return "close " + strings.Join(parts, "/")
}

// frameSpec is a frame-layer case on an upgraded connection.
type frameSpec struct {
	offer  string   // Sec-WebSocket-Extensions offer ("" none)
	writes [][]byte // sent in this order, one write each
	codes  []uint16 // the connection must fail with one of these
	echo   []Msg    // or: these messages must come back, in order
}

// run upgrades, sends the writes and a sentinel ping, and judges.
func (f frameSpec) run(e *Env) Result {
	var extra []string
	if f.offer != "" {
		extra = append(extra, "Sec-WebSocket-Extensions: "+f.offer)
	}
	c, _, err := Upgrade(e.Addr(), extra...)
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	if f.offer != "" && !c.deflate {
		return other("permessage-deflate not negotiated")
	}
	for _, w := range f.writes {
		if err := c.Send(w, ioTimeout); err != nil {
			return other("send: %s", endOf(err, ioTimeout))
		}
	}
	// The sentinel may find the connection closed already.
	_ = c.Send(Ping(sentinel), ioTimeout)
	if len(f.codes) > 0 {
		return judgeFail(observe(c, ioTimeout, nil), f.codes)
	}
	s := observe(c, ioTimeout, func(before []Msg) bool { return len(before) >= len(f.echo) })
	r := judgeEcho(s, f.echo)
	if r.Verdict == Pass {
		if err := c.CloseClean(); err != nil {
			return other("echoed, but the close handshake: %v", err)
		}
	}
	return r
}

// failCase: the frames must fail the connection with one of codes.
func failCase(name, does, rfc string, codes []uint16, writes ...[]byte) *Case {
	spec := frameSpec{writes: writes, codes: codes}
	return &Case{Name: name, Class: ClassFrame, Does: does, Want: codeList(codes), RFC: rfc, Run: spec.run}
}

// echoCase: the frames are valid and want must come back.
func echoCase(name, does, rfc, wantDesc string, want []Msg, writes ...[]byte) *Case {
	spec := frameSpec{writes: writes, echo: want}
	return &Case{Name: name, Class: ClassFrame, Does: does, Want: wantDesc, RFC: rfc, Run: spec.run}
}

// text and binary messages, and pongs, as expected answers.
func textMsg(s string) Msg            { return Msg{Op: OpText, Data: []byte(s)} }
func binMsg(p []byte) Msg             { return Msg{Op: OpBinary, Data: p} }
func pongMsg(p []byte) Msg            { return Msg{Op: OpPong, Data: p} }
func closeCodes(c ...uint16) []uint16 { return c }
