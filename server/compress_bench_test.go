package server_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/server"
)

// benchText is a 1 KiB text message shaped like a chat or game update:
// JSON with repeated keys, as compression sees in practice.
func benchText() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<10; i++ {
		fmt.Fprintf(&b, `{"seq":%d,"user":"player-%d","op":"move","pos":{"x":%d,"y":%d},"room":"lobby"},`, i, i%7, i*13%97, i*29%89)
	}
	return b.Bytes()[:1<<10]
}

// BenchmarkCompressedEcho measures one connection's round trips of 1 KiB
// text messages through the whole server with permessage-deflate (the
// client sends them compressed; the server inflates, hands them to the
// handler, and deflates the echo) against the same without compression.
// A window of messages is in flight, as in BenchmarkEcho. The client
// allocates nothing per message, so allocs/op are the server's.
// sent-B/msg and echo-B/msg are the frame bytes on the wire each way.
func BenchmarkCompressedEcho(b *testing.B) {
	p := benchText()
	for _, bc := range []struct {
		name  string
		opts  []server.Option
		level int // the client's; 0: uncompressed
	}{
		{"uncompressed", nil, 0},
		{"deflate-level1", []server.Option{server.WithCompression(1, 0)}, 1},
		{"deflate-level6", []server.Option{server.WithCompression(6, 0)}, 6},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, addr := startServer(b, bc.opts...)
			var hdr []string
			msg := encode(true, 0, ws.OpText, p)
			if bc.level > 0 {
				hdr = append(hdr, offerDeflate)
				msg = encode(true, rsv1, ws.OpText, deflatePayload(p, bc.level))
			}
			res, err := tryHandshake(b, addr, hsReq{header: hdr})
			if err != nil || res.c == nil {
				b.Fatalf("upgrade: %+v %v", res, err)
			}
			c := res.c
			if got := len(res.header.Values("Sec-WebSocket-Extensions")) > 0; got != (bc.level > 0) {
				b.Fatalf("permessage-deflate negotiated: %v", got)
			}
			// One checked round trip before timing.
			if _, err := c.conn.Write(msg); err != nil {
				b.Fatal(err)
			}
			_, got, compressed, err := readDeflated(c, readTimeout)
			if err != nil || !bytes.Equal(got, p) || compressed != (bc.level > 0) {
				b.Fatalf("echo: compressed=%v %s, %v", compressed, short(got), err)
			}

			buf := make([]byte, 2<<10)
			var echoBytes int64
			readEcho := func() {
				hb, err := c.br.Peek(2)
				if err != nil {
					b.Fatal(err)
				}
				need := 2
				if hb[1]&0x7f == 126 {
					need = 4
				}
				if hb, err = c.br.Peek(need); err != nil {
					b.Fatal(err)
				}
				h, n, err := codec.ParseHeader(hb)
				if err != nil || n == 0 || !h.Fin || h.OpCode != ws.OpText || h.Length > int64(len(buf)) {
					b.Fatalf("echo header %+v n=%d err=%v", h, n, err)
				}
				_, _ = c.br.Discard(n)
				if _, err := io.ReadFull(c.br, buf[:h.Length]); err != nil {
					b.Fatal(err)
				}
				echoBytes += int64(n) + h.Length
			}
			b.SetBytes(int64(len(p)))
			pipeline(b, c, msg, 16, readEcho)
			b.StopTimer()
			b.ReportMetric(float64(len(msg)), "sent-B/msg")
			b.ReportMetric(float64(echoBytes)/float64(b.N), "echo-B/msg")
		})
	}
}
