package poller

import (
	"bytes"
	"testing"
)

// browserHead is an upgrade request as Chromium sends it.
const browserHead = "GET /chat?room=1 HTTP/1.1\r\n" +
	"Host: example.com:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://example.com\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

// handshakeFake returns a connection in its handshake on a fake gnet
// connection, as OnOpen leaves it.
func handshakeFake(t *testing.T) (*Conn, *fakeConn) {
	t.Helper()
	e := New(new(countHandler), Config{Workers: 1, PingInterval: -1})
	t.Cleanup(e.pool.Close)
	f := new(fakeConn)
	c := &Conn{gc: f, loop: e.loopOf(nil)}
	f.SetContext(c)
	return c, f
}

// TestHandshakeSplitAtEveryByte feeds a valid upgrade request to the loop
// in two reads split at every byte, and in one read per byte: the request
// head is found across reads and the connection upgrades, once.
func TestHandshakeSplitAtEveryByte(t *testing.T) {
	head := []byte(browserHead)
	feed := func(t *testing.T, parts [][]byte) {
		t.Helper()
		c, f := handshakeFake(t)
		for _, p := range parts {
			f.buffer = p
			c.eng().OnTraffic(f)
			f.endRead()
		}
		if c.state() != stateOpen {
			t.Fatalf("state %d after the whole head, want open", c.state())
		}
		if !bytes.HasPrefix(f.out, []byte("HTTP/1.1 101 ")) || bytes.Count(f.out, []byte("HTTP/1.1")) != 1 {
			t.Fatalf("response %q", f.out)
		}
		if f.InboundBuffered() != 0 {
			t.Fatalf("%d bytes of the head left in the buffer", f.InboundBuffered())
		}
	}
	for k := 1; k < len(head); k++ {
		feed(t, [][]byte{head[:k], head[k:]})
	}
	var bytewise [][]byte
	for i := range head {
		bytewise = append(bytewise, head[i:i+1])
	}
	feed(t, bytewise)
}
