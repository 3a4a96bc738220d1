package server_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/server"
)

// edgeOptions turn on every admission, rate and backpressure feature with
// limits too generous to bite, and compression that this client does not
// negotiate: what they cost when unused.
var edgeOptions = []server.Option{
	server.WithCompression(1, 0),
	server.WithOrigins("*"),
	server.WithMaxConns(1 << 30),
	server.WithMaxConnsPerIP(1 << 30),
	server.WithUpgradeRate(1e9, 0),
	server.WithInboundRate(1e9, 1e15, 1),
	server.WithMaxOutbound(1<<30, server.SlowClose),
}

// BenchmarkEcho measures one connection's round trips through the whole
// server (event loop, decoder, mailbox, worker, Send, the loop's queue) with a
// window of messages in flight, bare and with the edge features enabled
// but unused. The client side allocates nothing, so allocs/op are the
// server's per message.
func BenchmarkEcho(b *testing.B) {
	for _, v := range []struct {
		name string
		opts []server.Option
	}{{"bare", nil}, {"edge", edgeOptions}} {
		for _, size := range []int{64, 1 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%dB", v.name, size), func(b *testing.B) { benchEcho(b, size, v.opts) })
		}
	}
}

func benchEcho(b *testing.B, size int, opts []server.Option) {
	_, addr := startServer(b, opts...)
	c := dial(b, addr)
	defer c.conn.Close()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	msg := encode(true, 0, ws.OpBinary, payload)
	const window = 16
	buf := make([]byte, size)
	readEcho := func() {
		hb, err := c.br.Peek(2)
		if err != nil {
			b.Fatal(err)
		}
		need := 2
		if hb[1]&0x7f == 126 {
			need = 4
		} else if hb[1]&0x7f == 127 {
			need = 10
		}
		if hb, err = c.br.Peek(need); err != nil {
			b.Fatal(err)
		}
		h, n, err := codec.ParseHeader(hb)
		if err != nil || n == 0 || h.Length != int64(size) {
			b.Fatalf("echo header %+v n=%d err=%v", h, n, err)
		}
		_, _ = c.br.Discard(n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	pipeline(b, c, msg, window, readEcho)
}

// pipeline writes msg b.N times on c, keeping window messages in flight:
// readEcho reads one reply. It resets the timer and reports allocations.
func pipeline(b *testing.B, c *client, msg []byte, window int, readEcho func()) {
	c.conn.SetDeadline(time.Now().Add(5 * time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	inflight := 0
	for i := 0; i < b.N; i++ {
		if _, err := c.conn.Write(msg); err != nil {
			b.Fatal(err)
		}
		if inflight++; inflight == window {
			readEcho()
			inflight--
		}
	}
	for ; inflight > 0; inflight-- {
		readEcho()
	}
}
