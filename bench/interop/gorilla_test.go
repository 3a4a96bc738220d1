package interop

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsloop/wsloop/server"
)

func gorillaDial(t testing.TB, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("gorilla dial %s: %v", url, err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("gorilla dial: status %d", resp.StatusCode)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func gorillaEcho(t testing.TB, c *websocket.Conn, typ int, payload []byte) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	_ = c.SetWriteDeadline(deadline)
	_ = c.SetReadDeadline(deadline)
	errc := make(chan error, 1)
	go func() { errc <- c.WriteMessage(typ, payload) }()
	gt, got, err := c.ReadMessage()
	if werr := <-errc; werr != nil {
		t.Fatalf("write %d bytes: %v", len(payload), werr)
	}
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(payload), err)
	}
	if gt != typ {
		t.Fatalf("echo type = %d, want %d", gt, typ)
	}
	sameBytes(t, "echo", got, payload)
}

func TestGorillaEcho(t *testing.T) {
	url := startEcho(t)
	c := gorillaDial(t, url, nil)
	for _, n := range testSizes {
		t.Run("text/"+sizeName(n), func(t *testing.T) {
			gorillaEcho(t, c, websocket.TextMessage, makeText(n))
		})
		t.Run("binary/"+sizeName(n), func(t *testing.T) {
			gorillaEcho(t, c, websocket.BinaryMessage, makeBinary(n, byte(n)))
		})
	}
}

// TestGorillaFragmented sends messages through NextWriter with a small write
// buffer, so gorilla emits many continuation frames, some of which split
// multi-byte UTF-8 characters of a text message.
func TestGorillaFragmented(t *testing.T) {
	url := startEcho(t)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 1024}
	c := gorillaDial(t, url, d)
	for _, tc := range []struct {
		name  string
		typ   int
		data  []byte
		chunk int
	}{
		{"text-200KiB-chunk333", websocket.TextMessage, makeText(200 << 10), 333},
		{"binary-1MiB-chunk4096", websocket.BinaryMessage, makeBinary(1<<20, 7), 4096},
		{"text-3-chunk1", websocket.TextMessage, []byte("€"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			errc := make(chan error, 1)
			go func() {
				w, err := c.NextWriter(tc.typ)
				if err != nil {
					errc <- err
					return
				}
				for off := 0; off < len(tc.data); off += tc.chunk {
					end := min(off+tc.chunk, len(tc.data))
					if _, err := w.Write(tc.data[off:end]); err != nil {
						errc <- err
						return
					}
				}
				errc <- w.Close()
			}()
			typ, got, err := c.ReadMessage()
			if werr := <-errc; werr != nil {
				t.Fatalf("fragmented write: %v", werr)
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ != tc.typ {
				t.Fatalf("type = %d, want %d", typ, tc.typ)
			}
			sameBytes(t, "fragmented echo", got, tc.data)
		})
	}
}

func TestGorillaPing(t *testing.T) {
	url := startEcho(t)
	c := gorillaDial(t, url, nil)
	for _, payload := range [][]byte{nil, []byte("hello"), makeBinary(125, 3)} {
		pongs := make(chan string, 1)
		c.SetPongHandler(func(s string) error {
			pongs <- s
			return nil
		})
		if err := c.WriteControl(websocket.PingMessage, payload, time.Now().Add(5*time.Second)); err != nil {
			t.Fatalf("write ping: %v", err)
		}
		// Pongs are delivered while reading, so keep echoing until the pong
		// handler has run (bounded in count and time).
		var got string
		ok := false
		for i := 0; i < 50 && !ok; i++ {
			gorillaEcho(t, c, websocket.TextMessage, []byte("after ping"))
			select {
			case got = <-pongs:
				ok = true
			case <-time.After(10 * time.Millisecond):
			}
		}
		if !ok {
			t.Fatalf("no pong for ping with %d-byte payload", len(payload))
		}
		sameBytes(t, "pong payload", []byte(got), payload)
	}
}

func TestGorillaClose(t *testing.T) {
	url := startEcho(t)
	for _, code := range []int{websocket.CloseNormalClosure, 4000} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			c := gorillaDial(t, url, nil)
			gorillaEcho(t, c, websocket.TextMessage, []byte("before close"))
			msg := websocket.FormatCloseMessage(code, "bye")
			if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
				t.Fatalf("write close: %v", err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("after close: got %v, want a close frame", err)
			}
			if ce.Code != code {
				t.Fatalf("echoed close code = %d, want %d", ce.Code, code)
			}
			// The server must then close the TCP connection.
			expectTCPClosed(t, c.NetConn())
		})
	}
}

func TestGorillaTooBig(t *testing.T) {
	url := startServer(t, server.WithMaxMessageSize(1024))
	for _, tc := range []struct {
		name     string
		fragment bool
	}{{"single-frame", false}, {"fragmented", true}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 256}
			c := gorillaDial(t, url, d)
			gorillaEcho(t, c, websocket.BinaryMessage, makeBinary(1024, 1)) // at the limit: fine
			data := makeBinary(1025, 2)
			go func() {
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if tc.fragment {
					if w, err := c.NextWriter(websocket.BinaryMessage); err == nil {
						for off := 0; off < len(data); off += 100 {
							if _, err := w.Write(data[off:min(off+100, len(data))]); err != nil {
								return
							}
						}
						_ = w.Close()
					}
					return
				}
				_ = c.WriteMessage(websocket.BinaryMessage, data)
			}()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("oversized message: got %v, want close 1009", err)
			}
			if ce.Code != websocket.CloseMessageTooBig {
				t.Fatalf("close code = %d, want 1009", ce.Code)
			}
		})
	}
}

// TestGorillaConcurrentOrder runs many clients at once, each pipelining
// messages of varying size and checking they come back in order.
func TestGorillaConcurrentOrder(t *testing.T) {
	const clients, msgs = 200, 100
	url := startEcho(t)
	runClients(t, clients, func(i int) error { return gorillaOrdered(url, i, msgs) })
}

func orderedPayload(client, seq int) []byte {
	size := []int{0, 10, 125, 126, 1000, 4000, 16000}[seq%7]
	b := makeText(size + 16)
	copy(b, fmt.Sprintf("%05d:%05d:", client, seq))
	return b
}

func gorillaOrdered(url string, id, n int) error {
	start := time.Now()
	d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return fmt.Errorf("client %d: dial (after %v): %w", id, time.Since(start).Round(time.Millisecond), err)
	}
	defer c.Close()
	deadline := time.Now().Add(120 * time.Second)
	_ = c.SetReadDeadline(deadline)
	_ = c.SetWriteDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		for seq := range n {
			if err := c.WriteMessage(websocket.TextMessage, orderedPayload(id, seq)); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for seq := range n {
		_, got, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("client %d: read %d (%v since start): %w", id, seq, time.Since(start).Round(time.Millisecond), err)
		}
		want := orderedPayload(id, seq)
		if string(got) != string(want) {
			return fmt.Errorf("client %d: message %d out of order or corrupt: got prefix %.12q (%d bytes), want %.12q (%d bytes)",
				id, seq, got, len(got), want, len(want))
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("client %d: write (%v since start): %w", id, time.Since(start).Round(time.Millisecond), err)
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(5*time.Second))
	return nil
}

// TestGorillaTooBigLeavesOthersAlone alternates a connection that sends an
// oversized single-frame message (its unread remainder looks like garbage
// frames to the server) with a fresh connection that must echo normally:
// one connection's failure must not leak into another's state.
func TestGorillaTooBigLeavesOthersAlone(t *testing.T) {
	url := startServer(t, server.WithMaxMessageSize(1024))
	for i := range 30 {
		bad := gorillaDial(t, url, nil)
		_ = bad.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = bad.WriteMessage(websocket.BinaryMessage, makeBinary(8000, byte(i)))
		_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := bad.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("round %d: oversized message: got %v, want close 1009", i, err)
		}
		bad.Close()

		good := gorillaDial(t, url, nil)
		for range 3 {
			gorillaEcho(t, good, websocket.BinaryMessage, makeBinary(1000, byte(i)))
		}
		good.Close()
	}
}
