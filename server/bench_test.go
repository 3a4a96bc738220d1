package server_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/codec"
)

// BenchmarkEcho measures one connection's round trips through the whole
// server (event loop, decoder, mailbox, worker, Send, AsyncWrite) with a
// window of messages in flight. The client side allocates nothing, so
// allocs/op are the server's per message.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			_, addr := startServer(b)
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
			c.conn.SetDeadline(time.Now().Add(time.Minute))
			b.SetBytes(int64(size))
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
		})
	}
}
