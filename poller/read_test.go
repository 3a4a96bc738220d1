package poller

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
)

// countHandler counts messages.
type countHandler struct{ msgs atomic.Int64 }

func (h *countHandler) OnOpen(*Conn)                 {}
func (h *countHandler) OnMessage(_ *Conn, m Message) { h.msgs.Add(1) }
func (h *countHandler) OnClose(*Conn, error)         {}

// openFake returns an open connection on a fake gnet connection of an
// engine whose mailboxes never fill, so decoding never pauses.
func openFake(tb testing.TB, h Handler) (*Conn, *fakeConn) {
	tb.Helper()
	e := New(h, Config{MailboxSize: 1 << 30, MaxQueuedBytes: 1 << 50, Workers: 1, PingInterval: -1})
	tb.Cleanup(e.pool.Close)
	f := new(fakeConn)
	c := &Conn{gc: f, loop: e.loopOf(nil)}
	c.setState(stateOpen)
	c.set(flagOpened)
	f.SetContext(c)
	return c, f
}

// tinyMessages returns n bytes of masked 1-byte text messages (7 bytes
// each), the last frame padded to make exactly n, and the message count.
func tinyMessages(n int) ([]byte, int) {
	one := codec.AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: 1, Masked: true, Mask: [4]byte{1, 2, 3, 4}})
	one = append(one, 'x'^1)
	b := make([]byte, 0, n)
	msgs := 0
	for len(b)+2*len(one) <= n {
		b = append(b, one...)
		msgs++
	}
	// The rest: one message, its length chosen to fill n exactly.
	rest := n - len(b)
	for k := 1; ; k++ {
		h := codec.AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(k), Masked: true})
		if len(h)+k == rest {
			b = append(b, h...)
			b = append(b, make([]byte, k)...)
			msgs++
			return b, msgs
		}
		if len(h)+k > rest {
			// Not reachable for rest >= 7: a 6-byte header fits 1..125.
			panic(fmt.Sprintf("cannot pad %d bytes", rest))
		}
	}
}

// fillWrapped puts backlog into f's ring so that the ring has wrapped: its
// read position is past the start and its data runs round the end, the
// state in which every Peek across the end copies. The first message
// moves to the end to get there.
func fillWrapped(f *fakeConn, backlog []byte) {
	first := 7 // one tiny message
	_, _ = f.ring.Write(backlog[:len(backlog)-first])
	_, _ = f.ring.Write(backlog[len(backlog)-first:])
	_, _ = f.ring.Discard(first)
	_, _ = f.ring.Write(backlog[:first])
}

// drain calls OnTraffic until the connection's input is decoded, as gnet
// would after the connection woke itself, and returns the calls made.
func drain(tb testing.TB, c *Conn, f *fakeConn) int {
	calls := 0
	for f.InboundBuffered() > 0 {
		calls++
		if calls > 1<<20 {
			tb.Fatalf("input not decoded: %d bytes left", f.InboundBuffered())
		}
		c.eng().OnTraffic(f)
		f.endRead()
	}
	return calls
}

// TestDecodeBacklogLinear is the regression test of a loop stalled for
// minutes by one peer: a backlog of tiny messages in gnet's wrapped ring
// was decoded with one Peek of the whole backlog per frame, and gnet
// copies what a Peek asks for once the ring has wrapped, O(n²) in all.
// Decoding must copy at most a few budgets' worth, whatever the backlog,
// and take one budget per call.
func TestDecodeBacklogLinear(t *testing.T) {
	for _, size := range []int{4 << 10, 1 << 20, 4 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			h := new(countHandler)
			c, f := openFake(t, h)
			backlog, msgs := tinyMessages(size)
			fillWrapped(f, backlog)
			budget := c.eng().cfg.ReadBufferCap
			f.tb, f.copyLimit = t, int64(2*budget)
			calls := drain(t, c, f)
			if want := (size + budget - 1) / budget; calls < want || calls > want+1 {
				t.Errorf("decoded in %d calls; one budget (%d bytes) per call makes %d", calls, budget, want)
			}
			if f.wakes < calls-1 {
				t.Errorf("%d wakes for %d calls: a connection with input left must wake itself", f.wakes, calls)
			}
			c.eng().pool.Close()
			if got := h.msgs.Load(); got != int64(msgs) {
				t.Errorf("handler got %d messages, want %d", got, msgs)
			}
		})
	}
}

// BenchmarkDecodeBacklog decodes a backlog of 1-byte messages from gnet's
// wrapped ring, as after a paused connection resumes: the cost per frame
// must not depend on the backlog (it grew with it before: O(n²)). The
// messages go to the worker pool, whose handler does nothing.
func BenchmarkDecodeBacklog(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("backlog=%s", sizeName(size)), func(b *testing.B) {
			h := new(countHandler)
			c, f := openFake(b, h)
			backlog, msgs := tinyMessages(size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				fillWrapped(f, backlog)
				b.StartTimer()
				drain(b, c, f)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*msgs), "ns/frame")
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
