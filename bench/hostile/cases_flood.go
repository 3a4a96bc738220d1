package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// floodCases: many small frames, as fast as the client can write them.
// Every loop is bounded in count and time.
func floodCases() []*Case {
	return []*Case{
		{
			Name: "1-byte flood from a non-reader (the stall)", Class: ClassFlood, Budget: 45 * time.Second,
			Does: fmt.Sprintf("%d bursts of %d MiB of 1-byte masked text messages, never reading; meanwhile one probe per CPU (so one shares the flooder's event loop) echoes every %v; then RST", stallBursts, stallBurst>>20, stallProbeEvery),
			Want: fmt.Sprintf("every probe echo within %v; the server's CPU idle within %v of the RST", StallProbeMax, StallIdleWithin),
			RFC:  "RFC 6455 §10.4 (protect against resource exhaustion); wsloop's README (no single peer stalls a loop)",
			Run: func(e *Env) Result {
				// wsloop's default: one event loop per CPU; a probe on each.
				rep := RunStall(e.T, runtime.NumCPU())
				if rep.OK() {
					return pass("worst probe %.0f ms; CPU idle %.2f s after the RST", ms(rep.Worst), rep.IdleAfter.Seconds())
				}
				return other("%s", rep)
			},
		},
		{
			Name: "1-byte messages from a reader", Class: ClassFlood,
			Does: "50,000 1-byte text messages in writes of 5,000, reading the echoes meanwhile",
			Want: "all 50,000 echoed, in order", RFC: "RFC 6455 §5.6, §6.2",
			Run: func(e *Env) Result {
				msgs := make([][]byte, 50_000)
				for i := range msgs {
					msgs[i] = []byte{byte('a' + i%26)}
				}
				return pipelined(e, OpText, msgs, 5_000)
			},
		},
		{
			Name: "empty messages from a reader", Class: ClassFlood,
			Does: "20,000 empty text messages, reading meanwhile",
			Want: "20,000 empty echoes", RFC: "RFC 6455 §5.6 (a message may be empty)",
			Run: func(e *Env) Result {
				return pipelined(e, OpText, make([][]byte, 20_000), 5_000)
			},
		},
		{
			Name: "ping flood from a reader", Class: ClassFlood,
			Does: "20,000 pings numbered in their payload, reading meanwhile",
			Want: "pongs in order, the last ping's among them", RFC: "RFC 6455 §5.5.2, §5.5.3 (a pong for at least the most recent ping)",
			Run: pingFloodReader,
		},
		{
			Name: "ping flood from a non-reader", Class: ClassFlood, Budget: 40 * time.Second,
			Does: "125-byte pings nonstop (up to 64 MiB or 15 s), never reading the pongs",
			Want: "close 1008 \"slow consumer\" (or TCP closed); memory bounded",
			RFC:  "RFC 6455 §10.4, §7.4.1 (1008); wsloop's README (pongs count against -max-outbound)",
			Run: func(e *Env) Result {
				ping := Ping(bytes.Repeat([]byte("p"), 125))
				return nonReader(e, Repeat(ping, 512), 64<<20)
			},
		},
		{
			Name: "pong flood", Class: ClassFlood,
			Does: "20,000 unsolicited pongs, then a text message",
			Want: "nothing in answer to the pongs; the text echoed", RFC: "RFC 6455 §5.5.3 (an unsolicited pong needs no response)",
			Run: func(e *Env) Result {
				c, _, err := Upgrade(e.Addr())
				if err != nil {
					return other("handshake: %v", err)
				}
				defer c.Close()
				if err := c.Send(Join(Repeat(Pong([]byte("unsolicited")), 20_000), Text("after the pongs")), 10*time.Second); err != nil {
					return other("send: %s", endOf(err, 10*time.Second))
				}
				m, err := c.ReadMsg(10 * time.Second)
				switch {
				case err != nil:
					return other("no echo: %s", endOf(err, 10*time.Second))
				case m.Op != OpText || string(m.Data) != "after the pongs":
					return other("got %v first", m)
				}
				if err := c.CloseClean(); err != nil {
					return other("echoed, then %v", err)
				}
				return pass("echoed, nothing else")
			},
		},
		{
			Name: "100,000 fragments of one message", Class: ClassFlood,
			Does: "a text message of 100,000 1-byte fragments",
			Want: "the 100,000-byte message echoed", RFC: "RFC 6455 §5.4",
			Run: func(e *Env) Result {
				n := 100_000
				want := []byte(strings.Repeat("f", n))
				return oneMessage(e, fragments(OpText, want, 1), OpText, want)
			},
		},
		{
			Name: "zero-length fragments", Class: ClassFlood,
			Does: "text \"a\", 50,000 empty continuation frames, continuation \"z\" (final)",
			Want: "\"az\" echoed", RFC: "RFC 6455 §5.4 (fragments may be empty)",
			Run: func(e *Env) Result {
				var b bytes.Buffer
				b.Write(Frame(F{Op: OpText, Payload: []byte("a"), More: true}))
				b.Write(Repeat(Frame(F{Op: OpCont, More: true}), 50_000))
				b.Write(Frame(F{Op: OpCont, Payload: []byte("z")}))
				return oneMessage(e, b.Bytes(), OpText, []byte("az"))
			},
		},
		{
			Name: "message trickled one byte per write", Class: ClassFlood,
			Does: "a 300-byte text frame written one byte per segment",
			Want: "echoed", RFC: "RFC 6455 §5 (frames are a byte stream)",
			Run: func(e *Env) Result {
				c, _, err := Upgrade(e.Addr())
				if err != nil {
					return other("handshake: %v", err)
				}
				defer c.Close()
				want := []byte(strings.Repeat("t", 300))
				if err := c.Trickle(Frame(F{Op: OpText, Payload: want}), 10*time.Second); err != nil {
					return other("send: %v", err)
				}
				if err := c.ExpectEcho(OpText, want, ioTimeout); err != nil {
					return other("%v", err)
				}
				if err := c.CloseClean(); err != nil {
					return other("echoed, then %v", err)
				}
				return pass("echoed")
			},
		},
	}
}

// fragments splits payload into frames of size bytes (the first with op,
// the rest continuations).
func fragments(op byte, payload []byte, size int) []byte {
	var b bytes.Buffer
	for i := 0; i < len(payload); i += size {
		end := min(i+size, len(payload))
		f := F{Op: OpCont, Payload: payload[i:end], More: end < len(payload)}
		if i == 0 {
			f.Op = op
		}
		b.Write(Frame(f))
	}
	return b.Bytes()
}

// oneMessage sends raw (one message's frames) and expects the message
// back.
func oneMessage(e *Env, raw []byte, op byte, want []byte) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	sent := make(chan error, 1)
	go func() { sent <- c.Send(raw, 10*time.Second) }()
	m, err := c.NextData(10 * time.Second)
	if serr := <-sent; serr != nil {
		return other("send: %s", endOf(serr, 10*time.Second))
	}
	switch {
	case err != nil:
		return other("no echo: %s", endOf(err, 10*time.Second))
	case m.Op == OpClose:
		return stricter("%v", Got{Op: OpClose, Payload: m.Data})
	case m.Op != op || !bytes.Equal(m.Data, want):
		return other("got %v, want %v", m, Msg{Op: op, Data: want})
	}
	if err := c.CloseClean(); err != nil {
		return other("echoed, then %v", err)
	}
	return pass("echoed (%d bytes, %d frames back)", len(m.Data), m.Frames)
}

// pipelined sends msgs in writes of batch messages while reading the
// echoes, which must all come back in order within 20 s.
func pipelined(e *Env, op byte, msgs [][]byte, batch int) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	sent := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(deadline)
		for i := 0; i < len(msgs); i += batch {
			var b bytes.Buffer
			for _, m := range msgs[i:min(i+batch, len(msgs))] {
				b.Write(Frame(F{Op: op, Payload: m}))
			}
			if _, err := c.Write(b.Bytes()); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	got := 0
	for got < len(msgs) {
		m, err := c.NextData(time.Until(deadline))
		if err != nil {
			<-sent
			return other("%d of %d echoed, then %s", got, len(msgs), endOf(err, 20*time.Second))
		}
		if m.Op == OpClose {
			<-sent
			return stricter("%v after %d of %d echoes", Got{Op: OpClose, Payload: m.Data}, got, len(msgs))
		}
		if m.Op != op || !bytes.Equal(m.Data, msgs[got]) {
			<-sent
			return other("echo %d: got %v, want %v", got, m, Msg{Op: op, Data: msgs[got]})
		}
		got++
	}
	if err := <-sent; err != nil {
		return other("send: %v", err)
	}
	if err := c.CloseClean(); err != nil {
		return other("all echoed, then %v", err)
	}
	return pass("all %d echoed in order", len(msgs))
}

// pingFloodReader: numbered pings; the pongs must come in order and
// include the last.
func pingFloodReader(e *Env) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	const n = 20_000
	var b bytes.Buffer
	for i := range uint32(n) {
		b.Write(Ping(binary.BigEndian.AppendUint32(nil, i)))
	}
	deadline := time.Now().Add(20 * time.Second)
	sent := make(chan error, 1)
	go func() { sent <- c.Send(b.Bytes(), 20*time.Second) }()
	pongs, last := 0, -1
	for last < n-1 {
		m, err := c.ReadMsg(time.Until(deadline))
		if err != nil {
			<-sent
			return other("%d pongs, last #%d, then %s", pongs, last, endOf(err, 20*time.Second))
		}
		if m.Op == OpClose {
			<-sent
			return stricter("%v after %d pongs", Got{Op: OpClose, Payload: m.Data}, pongs)
		}
		if m.Op != OpPong || len(m.Data) != 4 {
			<-sent
			return other("got %v", m)
		}
		seq := int(binary.BigEndian.Uint32(m.Data))
		if seq <= last {
			<-sent
			return other("pong #%d after #%d", seq, last)
		}
		pongs, last = pongs+1, seq
	}
	if err := <-sent; err != nil {
		return other("send: %v", err)
	}
	if err := c.CloseClean(); err != nil {
		return other("pongs, then %v", err)
	}
	return pass("%d pongs in order, the last included", pongs)
}
