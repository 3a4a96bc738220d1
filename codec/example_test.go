package codec_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
)

// The decode loop as a gnet OnTraffic handler would run it: peek everything
// buffered, decode until EventMore or an error, then discard what was
// consumed.
func ExampleDecoder() {
	var in bytes.Buffer
	for _, f := range []ws.Frame{
		ws.NewFrame(ws.OpText, false, []byte("hel")),
		ws.NewPingFrame([]byte("are you there?")),
		ws.NewFrame(ws.OpContinuation, true, []byte("lo")),
		ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")),
	} {
		_ = ws.WriteFrame(&in, ws.MaskFrame(f))
	}

	d := codec.NewDecoder(codec.DecoderConfig{MaxMessageSize: 1 << 20})
	b := in.Bytes() // c.Peek(-1)
	consumed := 0
	for {
		n, ev, err := d.Decode(b[consumed:])
		consumed += n
		if err != nil {
			e := err.(*codec.CloseError)
			_ = codec.AppendClose(nil, e.Code, e.Reason) // send, then close
			break
		}
		if ev == codec.EventMore {
			break // c.Discard(consumed) and wait for more traffic
		}
		switch ev {
		case codec.EventMessage:
			op, buf, _ := d.TakeMessage()
			fmt.Printf("message op=%d %q\n", op, buf.B)
			codec.PutBuffer(buf)
		case codec.EventPing:
			pong := codec.AppendFrame(nil, true, ws.OpPong, d.Control())
			fmt.Printf("ping %q -> pong of %d bytes\n", d.Control(), len(pong))
		case codec.EventClose:
			fmt.Printf("close %d %q\n", d.CloseCode(), d.CloseReason())
		}
	}
	fmt.Println("consumed all:", consumed == len(b))
	// Output:
	// ping "are you there?" -> pong of 16 bytes
	// message op=1 "hello"
	// close 1000 "bye"
	// consumed all: true
}

// Upgrading as bytes arrive: scan for the end of the head, then hand exactly
// the head to Upgrade; the bytes after it are the first frames.
func ExampleUpgrade() {
	in := []byte("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n\x81\x80\x00\x00\x00\x00")

	var s codec.HeadScanner
	end, err := s.Scan(in, 0)
	if err != nil {
		fmt.Printf("%s", codec.AppendHTTPResponse(nil, 431, nil, nil))
		return
	}
	if !codec.IsUpgrade(in[:end]) {
		return // plain HTTP
	}
	req := codec.NewRequest(in[:end])
	resp, _, err := codec.Upgrade(&ws.Upgrader{}, in[:end], nil)
	fmt.Printf("%s %s err=%v\n%s", req.Method(), req.Path(), err, strings.ReplaceAll(string(resp), "\r\n", "\n"))
	fmt.Printf("frame bytes left: %d\n", len(in)-end)
	// Output:
	// GET /chat err=<nil>
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	//
	// frame bytes left: 6
}
