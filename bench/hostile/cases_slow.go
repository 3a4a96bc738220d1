package hostile

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// How a non-reading client pushes: each write may block this long before
// the server counts as pushing back, and the whole push is bounded.
const (
	pushWriteWait = 2 * time.Second
	pushBudget    = 15 * time.Second
	drainBudget   = 5 * time.Second
)

// pushed is what a non-reader saw.
type pushed struct {
	wrote    int64
	refused  string // how the server stopped taking data: "" (it never did), "blocked" or the error
	close    *Got   // the server's close frame, found in what it had sent
	end      string // how the drain ended without a close
	tcpErr   error  // after our close reply
	rssDelta int64
	// slowCloses is how many connections wsloop closed as slow consumers
	// during the push (-1: not known, a reference server).
	slowCloses float64
}

// slowCounter is wsloop's count of slow-consumer closes.
const slowCounter = "wsloop_slow_consumer_disconnects_total"

// counter reads a wsloop counter (-1 for a server without /metrics).
func counter(t *Target, name string) float64 {
	if t.Admin == "" {
		return -1
	}
	m, err := scrape.Get(context.Background(), t.Admin)
	if err != nil {
		return -1
	}
	return m[name]
}

// counted is the pushed's slowCloses from the counter before and after.
func counted(t *Target, before float64) float64 {
	if before < 0 {
		return -1
	}
	return counter(t, slowCounter) - before
}

// push writes chunk over and over without reading until the server stops
// taking it (an error, or a write blocked for pushWriteWait), limit bytes
// or pushBudget; then it drains what the server had sent, looking for
// its close frame.
func push(e *Env, c *Client, chunk []byte, limit int64) pushed {
	var p pushed
	peak := rssPeak(e.T.PID())
	base, _ := procfs.RSS(e.T.PID())
	slow := counter(e.T, slowCounter)
	deadline := time.Now().Add(pushBudget)
	for p.wrote < limit && time.Now().Before(deadline) {
		_ = c.SetWriteDeadline(time.Now().Add(pushWriteWait))
		n, err := c.Write(chunk)
		p.wrote += int64(n)
		if err != nil {
			p.refused = endOf(err, pushWriteWait)
			if isTimeout(err) {
				p.refused = "blocked"
			}
			break
		}
	}
	p.close, p.end = drainForClose(c)
	if p.close != nil {
		code, _ := p.close.CloseCode()
		if !sendableCode(code) {
			code = 1000
		}
		_ = c.Send(Close(code, ""), ioTimeout)
		p.tcpErr = c.ExpectEOF(6 * time.Second)
	}
	p.rssDelta = peak() - base
	p.slowCloses = counted(e.T, slow)
	return p
}

// drainForClose reads (discarding data) until a close frame, the end of
// TCP, drainBudget or 512 MiB.
func drainForClose(c *Client) (*Got, string) {
	_ = c.SetReadDeadline(time.Now().Add(drainBudget))
	var n int64
	for n < 512<<20 {
		g, err := c.readFrame(true)
		if err != nil {
			return nil, endOf(err, drainBudget)
		}
		if g.Op == OpClose {
			return &g, ""
		}
		n += int64(len(g.Payload)) + 2
	}
	return nil, "512 MiB drained without a close"
}

// judgeSlow: the server must end the push as a slow consumer: close 1008,
// or, since a peer that does not read may never get to that frame, by
// ending TCP (wsloop: with its slow-consumer count up); its RSS growing
// by no more than RSSBound.
func judgeSlow(p pushed) Result {
	what := fmt.Sprintf("after %s written (RSS +%s)", mib(p.wrote), mib(p.rssDelta))
	mem := ""
	if p.rssDelta > RSSBound {
		mem = fmt.Sprintf("; RSS grew %s, over the %s bound", mib(p.rssDelta), mib(RSSBound))
	}
	policy := ""
	switch {
	case p.slowCloses == 0:
		policy = "; " + slowCounter + " did not move"
	case p.slowCloses > 0:
		what += ", counted as a slow consumer"
	}
	switch {
	case p.close != nil:
		code, _ := p.close.CloseCode()
		desc := fmt.Sprintf("%v %s", *p.close, what)
		if code != 1008 {
			return other("%s, want close 1008%s%s", desc, policy, mem)
		}
		if p.tcpErr != nil {
			return other("%s, then %v%s", desc, p.tcpErr, mem)
		}
		if mem != "" || policy != "" {
			return other("%s%s%s", desc, policy, mem)
		}
		return pass("%s", desc)
	case p.end == "TCP closed" || p.end == "TCP reset":
		if mem != "" || policy != "" {
			return other("%s %s%s%s", p.end, what, policy, mem)
		}
		return pass("%s (the close frame could not be read: the client never read) %s", p.end, what)
	case p.refused == "blocked":
		return other("pushes back (stops reading) %s, no close%s%s", what, policy, mem)
	}
	return other("took it all, no close (%s) %s%s%s", p.end, what, policy, mem)
}

// nonReader: a client that never reads pushes chunk (up to limit bytes).
func nonReader(e *Env, chunk []byte, limit int64) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	return judgeSlow(push(e, c, chunk, limit))
}

// neverReads is a client that sends size-byte binary messages nonstop
// (up to 256 MiB or the push's time limit) and never reads the echoes.
func neverReads(sizeName string, size int, want, rfc string) *Case {
	return &Case{
		Name: "never reads echoes of " + sizeName + " messages", Class: ClassSlowReader, Budget: 40 * time.Second,
		Does: sizeName + " binary messages nonstop (up to 256 MiB or 15 s), never reading",
		Want: want, RFC: rfc,
		Run: func(e *Env) Result {
			c, _, err := Upgrade(e.Addr())
			if err != nil {
				return other("handshake: %v", err)
			}
			defer c.Close()
			return judgeSlow(push(e, c, Binary(bytes.Repeat([]byte{7}, size)), 256<<20))
		},
	}
}

// slowReaderCases: clients that read slowly, or not at all.
func slowReaderCases() []*Case {
	const k64 = 64 << 10
	slowWant := "close 1008 \"slow consumer\"; memory bounded"
	slowRFC := "RFC 6455 §7.4.1 (1008: policy), §10.4; wsloop's README (-max-outbound 4 MiB, -slow-consumer close)"
	return []*Case{
		neverReads("64 KiB", k64, slowWant, slowRFC),
		neverReads("1 MiB", 1<<20, slowWant, slowRFC),
		{
			Name: "stops reading mid-message", Class: ClassSlowReader, Budget: 40 * time.Second,
			Does: "an 8 MiB message, reads 1 MiB of its echo, then 64 KiB messages nonstop without reading",
			Want: slowWant, RFC: slowRFC,
			Run: func(e *Env) Result {
				c, _, err := Upgrade(e.Addr())
				if err != nil {
					return other("handshake: %v", err)
				}
				defer c.Close()
				if err := c.Send(Binary(bytes.Repeat([]byte{8}, 8<<20)), 10*time.Second); err != nil {
					return other("send: %v", err)
				}
				if err := c.readPart(1<<20, ioTimeout); err != nil {
					return other("reading the echo: %s", endOf(err, ioTimeout))
				}
				return judgeSlow(push(e, c, Binary(bytes.Repeat([]byte{7}, k64)), 256<<20))
			},
		},
		{
			Name: "reads far slower than it sends", Class: ClassSlowReader, Budget: 40 * time.Second,
			Does: "64 KiB messages at about 8 MiB/s while reading 64 KiB/s",
			Want: slowWant, RFC: slowRFC,
			Run: slowTrickleReader,
		},
		{
			Name: "slow reader that keeps up", Class: ClassSlowReader,
			Does: "100 messages of 64 KiB, one per 20 ms, reading in paced 64 KiB steps",
			Want: "all 100 echoed, no close", RFC: "RFC 6455 §6.2 (a reader within the limits is served)",
			Run: pacedReader,
		},
		{
			Name: "half-close after sending", Class: ClassSlowReader,
			Does: "three text messages, then FIN (shutdown of the write side), reading on",
			Want: "the server ends TCP (its echoes may come first)", RFC: "RFC 6455 §7.1.5 (TCP closed without a close: 1006), §7.1.1",
			Run: func(e *Env) Result {
				c, _, err := Upgrade(e.Addr())
				if err != nil {
					return other("handshake: %v", err)
				}
				defer c.Close()
				if err := c.Send(Join(Text("one"), Text("two"), Text("three")), ioTimeout); err != nil {
					return other("send: %v", err)
				}
				c.HalfClose()
				echoes := 0
				for {
					m, err := c.ReadMsg(5 * time.Second)
					if err != nil {
						if end := endOf(err, 5*time.Second); end == "TCP closed" || end == "TCP reset" {
							return pass("%s after %d echoes", end, echoes)
						} else {
							return other("%s after %d echoes: the half-open connection is kept", end, echoes)
						}
					}
					if m.Op == OpClose {
						if err := c.ExpectEOF(6 * time.Second); err != nil {
							return other("%v, then %v", Got{Op: OpClose, Payload: m.Data}, err)
						}
						return pass("%v after %d echoes, TCP closed", Got{Op: OpClose, Payload: m.Data}, echoes)
					}
					echoes++
				}
			},
		},
	}
}

// slowTrickleReader sends 64 KiB messages every 8 ms (about 8 MiB/s) and
// reads one frame per second (64 KiB/s) while the server takes them;
// then it drains what the server sent, looking for its close.
func slowTrickleReader(e *Env) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	peak := rssPeak(e.T.PID())
	base, _ := procfs.RSS(e.T.PID())
	msg := Binary(bytes.Repeat([]byte{9}, 64<<10))
	var p pushed
	slow := counter(e.T, slowCounter)
	stopped := make(chan string, 1)
	wrote := make(chan int64, 1)
	go func() {
		var n int64
		t := time.NewTicker(8 * time.Millisecond)
		defer t.Stop()
		deadline := time.Now().Add(pushBudget)
		for time.Now().Before(deadline) {
			<-t.C
			_ = c.SetWriteDeadline(time.Now().Add(pushWriteWait))
			if _, err := c.Write(msg); err != nil {
				stopped <- map[bool]string{true: "blocked", false: endOf(err, pushWriteWait)}[isTimeout(err)]
				wrote <- n
				return
			}
			n += int64(len(msg))
		}
		stopped <- ""
		wrote <- n
	}()
	pace := time.NewTicker(time.Second)
	defer pace.Stop()
reading:
	for {
		select {
		case p.refused = <-stopped:
			break reading
		case <-pace.C:
		}
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		g, err := c.readFrame(true)
		if err != nil {
			p.end = endOf(err, ioTimeout)
			p.refused = <-stopped
			break
		}
		if g.Op == OpClose {
			p.close = &g
			p.refused = <-stopped
			break
		}
	}
	p.wrote = <-wrote
	if p.close == nil && p.end == "" {
		p.close, p.end = drainForClose(c)
	}
	if p.close != nil {
		_ = c.Send(Close(1008, ""), ioTimeout)
		p.tcpErr = c.ExpectEOF(6 * time.Second)
	}
	p.rssDelta = peak() - base
	p.slowCloses = counted(e.T, slow)
	return judgeSlow(p)
}

// pacedReader sends 100 × 64 KiB, one every 20 ms, and reads 64 KiB every
// 15 ms: slow, but faster than it sends.
func pacedReader(e *Env) Result {
	c, _, err := Upgrade(e.Addr())
	if err != nil {
		return other("handshake: %v", err)
	}
	defer c.Close()
	const n = 100
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i)}, 64<<10)
	}
	sent := make(chan error, 1)
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for _, m := range msgs {
			<-t.C
			if err := c.Send(Binary(m), ioTimeout); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range n {
		m, err := c.NextData(10 * time.Second)
		if err != nil {
			<-sent
			return other("%d of %d echoed, then %s", i, n, endOf(err, 10*time.Second))
		}
		if m.Op == OpClose {
			<-sent
			return stricter("%v after %d of %d echoes", Got{Op: OpClose, Payload: m.Data}, i, n)
		}
		if m.Op != OpBinary || !bytes.Equal(m.Data, msgs[i]) {
			<-sent
			return other("echo %d: got %v", i, m)
		}
		time.Sleep(15 * time.Millisecond) // the reader's pace, not a synchronisation
	}
	if err := <-sent; err != nil {
		return other("send: %v", err)
	}
	if err := c.CloseClean(); err != nil {
		return other("all echoed, then %v", err)
	}
	return pass("all %d echoed", n)
}
