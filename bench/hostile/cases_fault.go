package hostile

import (
	"fmt"
	"time"
)

// backWithin bounds how long a server may take to forget the connections
// of a fault case: longer than wsloop's close timeout (5 s), which a
// connection whose peer vanished after a close may wait out.
const backWithin = 8 * time.Second

// RFC answers of the fault cases.
const (
	wantForget = "the server drops the connection: its connections return to the baseline"
	wantEOF    = "the server ends TCP"
	rfcRST     = "RFC 6455 §7.1.5, §7.2.1 (TCP gone: the connection is closed, 1006); RFC 9293 §3.10.7.4 (RST)"
	rfcFIN     = "RFC 6455 §7.1.5 (TCP closed without a close frame: 1006), §7.1.1"
)

// faultCases: connections that end badly at every stage. The RST cases
// end with SO_LINGER 0; the FIN cases shut the write side and read on.
func faultCases() []*Case {
	return []*Case{
		resetCase("RST after connect", "TCP connect, then RST", func(e *Env, c *Client) error { return nil }),
		finCase("FIN after connect", "TCP connect, then FIN", func(e *Env, c *Client) error { return nil }),
		resetCase("RST mid-head", "half of a valid handshake, then RST", func(e *Env, c *Client) error {
			b := NewHead(e.Addr()).Bytes()
			return c.Send(b[:len(b)/2], ioTimeout)
		}),
		finCase("FIN mid-head", "half of a valid handshake, then FIN (a 400 may come before the end)", func(e *Env, c *Client) error {
			b := NewHead(e.Addr()).Bytes()
			return c.Send(b[:len(b)/2], ioTimeout)
		}),
		{
			Name: "RST before reading the 101, 200 times", Class: ClassFault,
			Does: "200 × (valid handshake, then RST before the 101 is read)",
			Want: "connections back to exactly the baseline (every open paired with a close)",
			RFC:  rfcRST,
			Run: func(e *Env) Result {
				for i := range 200 {
					c, err := Dial(e.Addr())
					if err != nil {
						return other("dial %d: %v", i, err)
					}
					err = c.Send(NewHead(e.Addr()).Bytes(), ioTimeout)
					c.Reset()
					if err != nil {
						return other("send %d: %v", i, err)
					}
				}
				return e.connsBack(backWithin)
			},
		},
		finCase("FIN after the head", "a valid handshake, then FIN before reading (the 101 may come first)", func(e *Env, c *Client) error {
			return c.Send(NewHead(e.Addr()).Bytes(), ioTimeout)
		}),
		{
			Name: "RST right after the 101, 50 times", Class: ClassFault,
			Does: "50 × (handshake, read the 101, RST)",
			Want: wantForget, RFC: rfcRST,
			Run: func(e *Env) Result {
				for i := range 50 {
					c, _, err := Upgrade(e.Addr())
					if err != nil {
						return other("handshake %d: %v", i, err)
					}
					c.Reset()
				}
				return e.connsBack(backWithin)
			},
		},
		finCase("FIN right after the 101", "handshake, then FIN", upgraded(nil)),
		resetCase("RST mid-frame", "handshake, half of a 1,000-byte text frame, then RST", upgraded(halfFrame)),
		finCase("FIN mid-frame", "handshake, half of a 1,000-byte text frame, then FIN", upgraded(halfFrame)),
		resetCase("RST mid-message", "handshake, 8 MiB of a 16 MiB binary frame, then RST", upgraded(func(c *Client) error {
			f := Frame(F{Op: OpBinary, Payload: make([]byte, 16<<20)})
			return c.Send(f[:8<<20], 10*time.Second)
		})),
		resetCase("RST after sending a close", "handshake, close 1000, then RST at once", upgraded(func(c *Client) error {
			return c.Send(Close(1000, ""), ioTimeout)
		})),
		resetCase("RST after the server's close", "handshake, a reserved opcode, read the server's close, then RST without answering",
			upgraded(readServerClose)),
		finCase("FIN after the server's close", "handshake, a reserved opcode, read the server's close, then FIN without a close frame",
			upgraded(readServerClose)),
		{
			Name: "RST during a flood", Class: ClassFault, Budget: 30 * time.Second,
			Does: "handshake, 1 MiB of 1-byte text messages without reading, RST",
			Want: wantForget + "; its CPU idle within 1 s", RFC: rfcRST,
			Run: func(e *Env) Result {
				c, _, err := Upgrade(e.Addr())
				if err != nil {
					return other("handshake: %v", err)
				}
				flood := Repeat(Text("x"), (1<<20)/7)
				err = c.Send(flood, 10*time.Second)
				c.Reset()
				if err != nil {
					return other("send: %v", endOf(err, 10*time.Second))
				}
				after, idle, windows := waitIdle(e.T.PID(), time.Now())
				if !idle {
					return other("CPU not idle within %v of the RST (CPU per %v: %v)", StallIdleWithin, stallIdleWindow, windows)
				}
				r := e.connsBack(backWithin)
				r.Seen = fmt.Sprintf("CPU idle %.2f s after the RST; %s", after.Seconds(), r.Seen)
				return r
			},
		},
		finCase("FIN during a flood", "handshake, 1 MiB of 1-byte text messages, FIN, then reading on", upgraded(func(c *Client) error {
			return c.Send(Repeat(Text("x"), (1<<20)/7), 10*time.Second)
		})),
	}
}

// upgraded turns a step on an upgraded connection into a case step (the
// handshake first; nil: nothing more).
func upgraded(step func(c *Client) error) func(e *Env, c *Client) error {
	return func(e *Env, c *Client) error {
		if _, err := c.Handshake(NewHead(e.Addr())); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if step == nil {
			return nil
		}
		return step(c)
	}
}

// halfFrame sends the first half of a 1,000-byte text frame.
func halfFrame(c *Client) error {
	f := Frame(F{Op: OpText, Payload: make([]byte, 1000)})
	return c.Send(f[:len(f)/2], ioTimeout)
}

// readServerClose makes the server fail the connection and reads its
// close frame.
func readServerClose(c *Client) error {
	if err := c.Send(Frame(F{Op: 0x3, Payload: []byte("x")}), ioTimeout); err != nil {
		return err
	}
	m, err := c.NextData(ioTimeout)
	if err != nil {
		return fmt.Errorf("no close from the server: %s", endOf(err, ioTimeout))
	}
	if m.Op != OpClose {
		return fmt.Errorf("%v instead of a close", m)
	}
	return nil
}

// resetCase: step, then RST; the server must forget the connection.
func resetCase(name, does string, step func(e *Env, c *Client) error) *Case {
	return &Case{
		Name: name, Class: ClassFault, Does: does, Want: wantForget, RFC: rfcRST,
		Run: func(e *Env) Result {
			c, err := Dial(e.Addr())
			if err != nil {
				return other("dial: %v", err)
			}
			err = step(e, c)
			c.Reset()
			if err != nil {
				return other("%v", err)
			}
			return e.connsBack(backWithin)
		},
	}
}

// finCase: step, then FIN; the server must end TCP, and forget the
// connection.
func finCase(name, does string, step func(e *Env, c *Client) error) *Case {
	return &Case{
		Name: name, Class: ClassFault, Does: does, Want: wantEOF + "; " + wantForget, RFC: rfcFIN,
		Run: func(e *Env) Result {
			c, err := Dial(e.Addr())
			if err != nil {
				return other("dial: %v", err)
			}
			defer c.Close()
			if err := step(e, c); err != nil {
				return other("%v", err)
			}
			c.HalfClose()
			if err := c.ExpectEOF(backWithin); err != nil {
				return other("%v", err)
			}
			return e.connsBack(backWithin)
		},
	}
}
