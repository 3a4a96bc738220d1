package hostile

import (
	"fmt"
	"slices"
	"strings"
)

// answer is what the RFC allows in reply to a handshake.
type answer struct {
	waits   bool        // no answer (the head is incomplete to the server) is an RFC answer
	upgrade bool        // a 101 (and a working connection) is an RFC answer
	status  []int       // refusal statuses that are RFC answers
	headers [][2]string // extra fields a refusal must carry: name, token
}

// upgrades: the request is valid and must be upgraded.
var upgrades = answer{upgrade: true}

// refuse: the request must be refused with one of these statuses.
func refuse(status ...int) answer { return answer{status: status} }

// either: the RFC allows both a refusal with status and the upgrade.
func either(status ...int) answer { return answer{upgrade: true, status: status} }

// with adds a field a refusal must carry.
func (a answer) with(name, token string) answer {
	a.headers = append(slices.Clone(a.headers), [2]string{name, token})
	return a
}

// requiredOn are the fields any response with that status must carry:
// Upgrade on a 426 (RFC 9110 §15.5.22), Allow on a 405 (RFC 9110 §15.5.6;
// the handshake's method is GET, RFC 6455 §4.1).
var requiredOn = map[int][][2]string{
	426: {{"Upgrade", "websocket"}},
	405: {{"Allow", "GET"}},
}

// hsSeen is what a server did with a handshake.
type hsSeen struct {
	resp      *Response
	noResp    string // how the connection ended without a response
	switchErr error  // a 101 that fails the client's checks
	echoErr   error  // after a valid 101: the echo probe
	echoed    string // what the probe saw
}

// sendHead is how a case writes its request: at once by default.
type sendHead func(c *Client, b []byte) error

func sendAll(c *Client, b []byte) error { return c.Send(b, ioTimeout) }

// tryHead sends raw (whose key is key) and reads the answer; after a 101
// it probes the connection with an echo, then closes it.
func tryHead(addr string, raw []byte, key string, send sendHead) hsSeen {
	var s hsSeen
	c, err := Dial(addr)
	if err != nil {
		s.noResp = "dial: " + err.Error()
		return s
	}
	defer c.Close()
	if send == nil {
		send = sendAll
	}
	if err := send(c, raw); err != nil {
		s.noResp = "send: " + endOf(err, ioTimeout)
		return s
	}
	resp, err := c.ReadResponse(ioTimeout)
	if err != nil {
		s.noResp = endOf(err, ioTimeout)
		return s
	}
	s.resp = resp
	if resp.Status != 101 {
		return s
	}
	// A 101 is probed even when it fails the client's checks: a case
	// that replaced the key judges it as an upgrade all the same.
	s.switchErr = checkSwitch(resp, key)
	c.deflate = resp.Has("Sec-WebSocket-Extensions", "permessage-deflate")
	payload := []byte("hostile echo probe")
	s.echoErr = c.Echo(OpText, payload)
	if s.echoErr == nil {
		s.echoErr = c.CloseClean()
	}
	return s
}

// judgeHead compares s with the RFC's answer a.
func judgeHead(s hsSeen, a answer) Result {
	if s.resp == nil {
		if a.waits && strings.HasPrefix(s.noResp, "no answer") {
			return pass("no answer: waits for the end of the head")
		}
		return other("no response: %s", s.noResp)
	}
	st := s.resp.Status
	if st == 101 {
		switch {
		case !a.upgrade && s.echoErr == nil:
			return looser("upgraded (101, echo works)")
		case !a.upgrade:
			return looser("upgraded (101; then %v)", s.echoErr)
		case s.switchErr != nil:
			return other("101 but %v", s.switchErr)
		case s.echoErr != nil:
			return other("101 but %v", s.echoErr)
		}
		return pass("101, echo works")
	}
	desc := statusDesc(s.resp)
	if slices.Contains(a.status, st) {
		need := append(slices.Clone(requiredOn[st]), a.headers...)
		var missing []string
		for _, h := range need {
			if !s.resp.Has(h[0], h[1]) {
				missing = append(missing, h[0]+": "+h[1])
			}
		}
		if len(missing) > 0 {
			return other("%s without %s", desc, strings.Join(missing, ", "))
		}
		return pass("%s", desc)
	}
	if a.upgrade && len(a.status) == 0 && st >= 400 {
		return stricter("refused: %s", desc)
	}
	if len(a.status) > 0 {
		return other("%s, want %s", desc, statusList(a.status))
	}
	return other("%s", desc)
}

// statusDesc is a response's status and the fields a reader of the
// table wants to see.
func statusDesc(r *Response) string {
	out := fmt.Sprint(r.Status)
	for _, name := range []string{"Upgrade", "Allow", "Sec-WebSocket-Version"} {
		if v := r.Get(name); v != "" {
			out += fmt.Sprintf(" %s: %s", name, v)
		}
	}
	return out
}

func statusList(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "/")
}

// wantDesc is the Want column of a handshake case.
func (a answer) wantDesc() string {
	var parts []string
	if len(a.status) > 0 {
		s := statusList(a.status)
		var hs []string
		for _, st := range a.status {
			for _, h := range requiredOn[st] {
				hs = append(hs, fmt.Sprintf("%s: %s on a %d", h[0], h[1], st))
			}
		}
		for _, h := range a.headers {
			hs = append(hs, h[0]+": "+h[1])
		}
		if len(hs) > 0 {
			s += " with " + strings.Join(hs, ", ")
		}
		parts = append(parts, s)
	}
	if a.upgrade {
		parts = append(parts, "101 and echo works")
	}
	if a.waits {
		parts = append(parts, "no answer (the head has not ended for a server that needs CRLF)")
	}
	return strings.Join(parts, ", or ")
}

// headCase is a handshake case: make builds the request for the
// server's address; the answer is judged against a.
func headCase(name, does, rfc string, a answer, build func(host string) *Head) *Case {
	return &Case{
		Name: name, Class: ClassHandshake, Does: does, Want: a.wantDesc(), RFC: rfc,
		Run: func(e *Env) Result {
			h := build(e.Addr())
			return judgeHead(tryHead(e.Addr(), h.Bytes(), h.Key(), nil), a)
		},
	}
}

// rawCase is a handshake case whose request is raw bytes (with a valid
// key from NewKey, so that a 101 can be checked).
func rawCase(name, does, rfc string, a answer, raw func(host, key string) string) *Case {
	return &Case{
		Name: name, Class: ClassHandshake, Does: does, Want: a.wantDesc(), RFC: rfc,
		Run: func(e *Env) Result {
			key := NewKey()
			return judgeHead(tryHead(e.Addr(), []byte(raw(e.Addr(), key)), key, nil), a)
		},
	}
}
