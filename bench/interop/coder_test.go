package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsloop/wsloop/server"
)

func coderDial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("coder dial %s: %v", url, err)
	}
	c.SetReadLimit(2 * maxMessage)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func coderEcho(t testing.TB, c *websocket.Conn, typ websocket.MessageType, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Write(ctx, typ, payload) }()
	gt, got, err := c.Read(ctx)
	if werr := <-errc; werr != nil {
		t.Fatalf("write %d bytes: %v", len(payload), werr)
	}
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(payload), err)
	}
	if gt != typ {
		t.Fatalf("echo type = %v, want %v", gt, typ)
	}
	sameBytes(t, "echo", got, payload)
}

func TestCoderEcho(t *testing.T) {
	url := startEcho(t)
	c := coderDial(t, url)
	for _, n := range testSizes {
		t.Run("text/"+sizeName(n), func(t *testing.T) {
			coderEcho(t, c, websocket.MessageText, makeText(n))
		})
		t.Run("binary/"+sizeName(n), func(t *testing.T) {
			coderEcho(t, c, websocket.MessageBinary, makeBinary(n, byte(n)))
		})
	}
}

// TestCoderFragmented streams messages through Conn.Writer: each Write call
// becomes one frame, so the server sees a first frame and continuations.
func TestCoderFragmented(t *testing.T) {
	url := startEcho(t)
	c := coderDial(t, url)
	for _, tc := range []struct {
		name  string
		typ   websocket.MessageType
		data  []byte
		chunk int
	}{
		{"text-100KiB-chunk1001", websocket.MessageText, makeText(100 << 10), 1001},
		{"binary-1MiB-chunk65536", websocket.MessageBinary, makeBinary(1<<20, 9), 65536},
		{"text-4-chunk1", websocket.MessageText, []byte("𝄞"), 1},
		{"binary-empty-frames", websocket.MessageBinary, []byte("abc"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				w, err := c.Writer(ctx, tc.typ)
				if err != nil {
					errc <- err
					return
				}
				if tc.chunk == 0 {
					// Empty frames between data frames.
					for _, p := range [][]byte{nil, tc.data[:1], nil, tc.data[1:], nil} {
						if _, err := w.Write(p); err != nil {
							errc <- err
							return
						}
					}
					errc <- w.Close()
					return
				}
				for off := 0; off < len(tc.data); off += tc.chunk {
					if _, err := w.Write(tc.data[off:min(off+tc.chunk, len(tc.data))]); err != nil {
						errc <- err
						return
					}
				}
				errc <- w.Close()
			}()
			typ, got, err := c.Read(ctx)
			if werr := <-errc; werr != nil {
				t.Fatalf("fragmented write: %v", werr)
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ != tc.typ {
				t.Fatalf("type = %v, want %v", typ, tc.typ)
			}
			sameBytes(t, "fragmented echo", got, tc.data)
		})
	}
}

func TestCoderPing(t *testing.T) {
	url := startEcho(t)
	c := coderDial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Pongs are handled by a concurrent reader.
	type msg struct {
		data []byte
		err  error
	}
	msgs := make(chan msg, 16)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			msgs <- msg{b, err}
			if err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.Ping(pctx)
		pcancel()
		if err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	// The connection still echoes after the pings.
	if err := c.Write(ctx, websocket.MessageText, []byte("after pings")); err != nil {
		t.Fatal(err)
	}
	m := <-msgs
	if m.err != nil || string(m.data) != "after pings" {
		t.Fatalf("echo after pings = %q, %v", m.data, m.err)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestCoderClose(t *testing.T) {
	url := startEcho(t)
	for _, code := range []websocket.StatusCode{websocket.StatusNormalClosure, 4000} {
		t.Run(fmt.Sprint(int(code)), func(t *testing.T) {
			c := coderDial(t, url)
			coderEcho(t, c, websocket.MessageText, []byte("before close"))
			// Close returns nil only when the peer's close frame carries
			// the same status code.
			if err := c.Close(code, "bye"); err != nil {
				t.Fatalf("close handshake with code %d: %v", code, err)
			}
		})
	}
}

func TestCoderTooBig(t *testing.T) {
	url := startServer(t, server.WithMaxMessageSize(1024))
	for _, fragment := range []bool{false, true} {
		t.Run(fmt.Sprintf("fragmented=%v", fragment), func(t *testing.T) {
			c := coderDial(t, url)
			coderEcho(t, c, websocket.MessageBinary, makeBinary(1024, 1)) // at the limit
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			data := makeBinary(4000, 2)
			go func() {
				if !fragment {
					_ = c.Write(ctx, websocket.MessageBinary, data)
					return
				}
				w, err := c.Writer(ctx, websocket.MessageBinary)
				if err != nil {
					return
				}
				for off := 0; off < len(data); off += 500 {
					if _, err := w.Write(data[off : off+500]); err != nil {
						return
					}
				}
				_ = w.Close()
			}()
			_, _, err := c.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
				t.Fatalf("oversized message: read error %v (close status %d), want close 1009", err, got)
			}
		})
	}
}

func TestCoderConcurrentOrder(t *testing.T) {
	const clients, msgs = 200, 100
	url := startEcho(t)
	runClients(t, clients, func(i int) error { return coderOrdered(url, i, msgs) })
}

func coderOrdered(url string, id, n int) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("client %d: dial (after %v): %w", id, time.Since(start).Round(time.Millisecond), err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	werr := make(chan error, 1)
	go func() {
		for seq := range n {
			typ := websocket.MessageText
			if seq%2 == 1 {
				typ = websocket.MessageBinary
			}
			if err := c.Write(ctx, typ, orderedPayload(id, seq)); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for seq := range n {
		typ, got, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("client %d: read %d (%v since start): %w", id, seq, time.Since(start).Round(time.Millisecond), err)
		}
		want := orderedPayload(id, seq)
		if string(got) != string(want) {
			return fmt.Errorf("client %d: message %d out of order or corrupt: got prefix %.12q (%d bytes), want %.12q (%d bytes)",
				id, seq, got, len(got), want, len(want))
		}
		if wantTyp := websocket.MessageType(1 + seq%2); typ != wantTyp {
			return fmt.Errorf("client %d: message %d type %v, want %v", id, seq, typ, wantTyp)
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("client %d: write (%v since start): %w", id, time.Since(start).Round(time.Millisecond), err)
	}
	closeStart := time.Now()
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		return fmt.Errorf("client %d: close (after %v, %v since start): %w", id, time.Since(closeStart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}
