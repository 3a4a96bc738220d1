package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// Cases beyond the Autobahn catalogue: size limits, handshake errors,
// keepalive and shutdown.

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rawHeader encodes a masked frame header with an arbitrary declared length.
func rawHeader(fin bool, op ws.OpCode, length int64) []byte {
	var buf bytes.Buffer
	if err := ws.WriteHeader(&buf, ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: length}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestConformanceLimits(t *testing.T) {
	// The client cannot answer the server's close while it is still in
	// the middle of an oversized frame, so these cases rely on the server
	// dropping TCP after its close timeout.
	_, addr := startServer(t, server.WithMaxMessageSize(16<<20), server.WithCloseTimeout(time.Second))

	// L.1: a frame declaring 2^62 bytes is refused with 1009 as soon as its
	// header arrives, without the server buffering (or reserving) anything.
	for _, op := range []ws.OpCode{ws.OpBinary, ws.OpText} {
		t.Run("L.1/"+opName(op), func(t *testing.T) {
			junk := randomBinary(1 << 20)
			before := heapInUse()
			c := dial(t, addr)
			c.noCloseReply = true
			raw := append(rawHeader(true, op, 1<<62), junk...)
			go c.write(raw)
			c.expectClose(1009)
			after := heapInUse()
			if after > before && after-before > 4<<20 {
				t.Fatalf("heap grew by %d bytes after a 2^62-byte frame header", after-before)
			}
			assertAlive(t, addr)
		})
	}

	// L.2: a single frame just over the default 16 MiB limit.
	t.Run("L.2", func(t *testing.T) {
		c := dial(t, addr)
		c.noCloseReply = true
		go c.write(append(rawHeader(true, ws.OpBinary, 16<<20+1), randomBinary(64<<10)...))
		c.expectClose(1009)
		assertAlive(t, addr)
	})

	// L.3: the largest legal 64-bit length with the MSB set is a protocol
	// error (RFC 6455 5.2), not a size error.
	t.Run("L.3", func(t *testing.T) {
		c := dial(t, addr)
		c.noCloseReply = true
		h := rawHeader(true, ws.OpBinary, 1<<62)
		h[2] |= 0x80 // set the most significant bit of the 64-bit length
		go c.write(h)
		c.expectClose(1002, 1009)
		assertAlive(t, addr)
	})

	// L.4-L.6: limits across fragments, against a 1 MiB server.
	_, small := startServer(t, server.WithMaxMessageSize(1<<20), server.WithCloseTimeout(time.Second))
	t.Run("L.4", func(t *testing.T) {
		// Two 600 KiB fragments: the second header already exceeds the
		// total, so 1009 must come without its payload being sent.
		c := dial(t, small)
		c.noCloseReply = true
		c.mustWrite(encode(false, 0, ws.OpBinary, randomBinary(600<<10)))
		c.mustWrite(rawHeader(true, ws.OpContinuation, 600<<10))
		c.expectClose(1009)
		assertAlive(t, small)
	})
	t.Run("L.5", func(t *testing.T) {
		// Exactly 1 MiB in 64 KiB text fragments is accepted...
		p := randomText(1 << 20)
		c := dial(t, small)
		go c.write(fragment(ws.OpText, p, 64<<10))
		c.expectMessage(ws.OpText, p, largeTimeout)
		c.closeNormally()
	})
	t.Run("L.6", func(t *testing.T) {
		// ...one byte more is not.
		p := randomText(1<<20 + 1)
		c := dial(t, small)
		c.noCloseReply = true
		go c.write(fragment(ws.OpText, p, 64<<10))
		c.expectClose(1009)
		assertAlive(t, small)
	})
	t.Run("L.7", func(t *testing.T) {
		// Many tiny frames (1 byte each) building a legal 64 KiB message.
		p := randomBinary(64 << 10)
		c := dial(t, small)
		go c.write(fragment(ws.OpBinary, p, 1))
		c.expectMessage(ws.OpBinary, p, largeTimeout)
		c.closeNormally()
	})
}

func TestConformanceFraming(t *testing.T) {
	_, addr := startServer(t)

	t.Run("X.1", func(t *testing.T) {
		// Unmasked client frame.
		c := dial(t, addr)
		c.mustWrite(encodeUnmasked(true, ws.OpText, []byte("not masked")))
		c.expectClose(1002)
		assertAlive(t, addr)
	})
	t.Run("X.2", func(t *testing.T) {
		// Frames pipelined in the same write as the upgrade request.
		var frames []byte
		frames = append(frames, encode(true, 0, ws.OpText, []byte("first"))...)
		frames = append(frames, encode(true, 0, ws.OpPing, []byte("p"))...)
		frames = append(frames, encode(true, 0, ws.OpBinary, []byte{1, 2, 3})...)
		c := dial(t, addr, frames...)
		// RFC 6455 does not order a pong relative to data replies, so
		// the pong may come anywhere; the echoes must keep their order.
		var got []string
		for range 3 {
			f := c.mustReadFrame(readTimeout)
			if !f.fin {
				t.Fatalf("unexpected fragment %s", f)
			}
			got = append(got, f.String())
		}
		var echoes []string
		sawPong := false
		for _, g := range got {
			if strings.HasPrefix(g, "PONG") {
				sawPong = g == frame{fin: true, op: ws.OpPong, payload: []byte("p")}.String()
				continue
			}
			echoes = append(echoes, g)
		}
		wantEchoes := []string{
			frame{fin: true, op: ws.OpText, payload: []byte("first")}.String(),
			frame{fin: true, op: ws.OpBinary, payload: []byte{1, 2, 3}}.String(),
		}
		if !sawPong || strings.Join(echoes, "|") != strings.Join(wantEchoes, "|") {
			t.Fatalf("got %q, want the two echoes in order and a pong", got)
		}
		c.closeNormally()
	})
	t.Run("X.3", func(t *testing.T) {
		// Upgrade request and a close frame pipelined together.
		c := dial(t, addr, encode(true, 0, ws.OpClose, closePayload(1000, "bye"))...)
		c.expectClose(1000)
	})
	t.Run("X.5", func(t *testing.T) {
		// A peer that never answers the server's close is dropped once the
		// close timeout expires.
		_, quick := startServer(t, server.WithCloseTimeout(300*time.Millisecond))
		c := dial(t, quick)
		c.noCloseReply = true
		c.mustWrite(encode(true, 0, ws.OpCode(3), nil))
		start := time.Now()
		c.expectClose(1002)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("TCP dropped only after %v with a 300ms close timeout", d)
		}
	})
	t.Run("X.4", func(t *testing.T) {
		// Echo integrity with many concurrent connections on several loops.
		done := make(chan error, 32)
		for i := range 32 {
			go func() {
				c, err := tryDial(addr)
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				p := randomBinary(1000 + i*100)
				for range 20 {
					if _, err := c.Write(encode(true, 0, ws.OpBinary, p)); err != nil {
						done <- err
						return
					}
					c.SetReadDeadline(time.Now().Add(readTimeout))
					h, err := ws.ReadHeader(c.br)
					if err != nil {
						done <- err
						return
					}
					got := make([]byte, h.Length)
					if _, err := readFull(c.br, got); err != nil {
						done <- err
						return
					}
					if !h.Fin || h.OpCode != ws.OpBinary || !bytes.Equal(got, p) {
						done <- errors.New("echo mismatch")
						return
					}
				}
				done <- nil
			}()
		}
		for range 32 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	})
}

type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func readFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := br.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// tryDial is a goroutine-safe variant of dial (no testing.T).
func tryDial(addr string) (*rawConn, error) {
	conn, err := net.DialTimeout("tcp", addr, readTimeout)
	if err != nil {
		return nil, err
	}
	key := newKey()
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write([]byte(upgradeRequest(addr, key))); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		conn.Close()
		return nil, errors.New("bad upgrade response: " + resp.Status)
	}
	conn.SetDeadline(time.Time{})
	return &rawConn{conn, br}, nil
}

// httpExchange sends raw bytes and parses the HTTP response.
func httpExchange(t *testing.T, addr, req string, chop int) *http.Response {
	t.Helper()
	conn := dialTCP(t, addr)
	conn.SetDeadline(time.Now().Add(readTimeout))
	b := []byte(req)
	if chop <= 0 {
		chop = len(b)
	}
	for len(b) > 0 {
		k := min(chop, len(b))
		if _, err := conn.Write(b[:k]); err != nil {
			t.Fatalf("write request: %v", err)
		}
		b = b[k:]
		if len(b) > 0 && chop < 8 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

func TestConformanceHandshake(t *testing.T) {
	_, addr := startServer(t)
	head := func(lines ...string) string {
		return "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n"
	}
	key := "Sec-WebSocket-Key: " + newKey()
	up, conn, ver := "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"
	filler := "X-Filler: " + strings.Repeat("a", 9<<10)

	cases := []struct {
		id     string
		req    string
		status int
		check  func(t *testing.T, r *http.Response)
	}{
		{id: "H.1/terminated-9KiB-head", req: head(up, conn, key, ver, filler), status: 431},
		{id: "H.2/missing-key", req: head(up, conn, ver), status: 400},
		{id: "H.3/bad-key", req: head(up, conn, "Sec-WebSocket-Key: c2hvcnQ=", ver), status: 400},
		{id: "H.4/version-8", req: head(up, conn, key, "Sec-WebSocket-Version: 8"), status: 426,
			check: func(t *testing.T, r *http.Response) {
				if got := r.Header.Get("Sec-WebSocket-Version"); got != "13" {
					t.Errorf("426 without Sec-WebSocket-Version: 13 (got %q)", got)
				}
			}},
		{id: "H.5/plain-GET", req: head(), status: 426},
		// RFC 6455 4.2.1 lets a request without a version be answered
		// 400 (malformed) or 426 (unsupported version).
		{id: "H.6/missing-version", req: head(up, conn, key), status: 0, check: func(t *testing.T, r *http.Response) {
			if r.StatusCode != 400 && r.StatusCode != 426 {
				t.Errorf("status %d, want 400 or 426", r.StatusCode)
			}
		}},
		{id: "H.7/POST", req: strings.Replace(head(up, conn, key, ver), "GET", "POST", 1), status: 0},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			r := httpExchange(t, addr, tc.req, 0)
			if tc.status == 0 {
				if r.StatusCode < 400 {
					t.Fatalf("status %d, want a 4xx/5xx refusal", r.StatusCode)
				}
			} else if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			assertAlive(t, addr)
		})
	}

	t.Run("H.8/unterminated-9KiB-head", func(t *testing.T) {
		// The head never ends: the server must give up at its limit
		// instead of buffering forever.
		c := dialTCP(t, addr)
		c.SetDeadline(time.Now().Add(readTimeout))
		req := "GET /ws HTTP/1.1\r\nHost: x\r\n"
		for len(req) < 9<<10 {
			req += "X-Filler: " + strings.Repeat("b", 100) + "\r\n"
		}
		go c.Write([]byte(req))
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		if r.StatusCode != 431 {
			t.Fatalf("status %d, want 431", r.StatusCode)
		}
		assertAlive(t, addr)
	})
	t.Run("H.9/head-one-byte-at-a-time", func(t *testing.T) {
		k := newKey()
		conn := dialTCP(t, addr)
		req := []byte(upgradeRequest(addr, k))
		for i := range req {
			conn.SetWriteDeadline(time.Now().Add(readTimeout))
			if _, err := conn.Write(req[i : i+1]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
		br := bufio.NewReader(conn)
		conn.SetReadDeadline(time.Now().Add(readTimeout))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(k) {
			t.Fatalf("status %d accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
		}
		c := &client{t: t, conn: conn, br: br, autoPong: true}
		c.mustWrite(encode(true, 0, ws.OpText, []byte("slow")))
		c.expectMessage(ws.OpText, []byte("slow"), readTimeout)
		c.closeNormally()
	})
}

func TestConformanceKeepalive(t *testing.T) {
	_, addr := startServer(t,
		server.WithPingInterval(100*time.Millisecond),
		server.WithPongTimeout(300*time.Millisecond))

	t.Run("K.1/no-pong", func(t *testing.T) {
		t.Parallel()
		c := dial(t, addr)
		c.autoPong = false
		pings := 0
		deadline := time.Now().Add(5 * time.Second)
		for {
			if time.Now().After(deadline) {
				t.Fatalf("connection not closed after %d unanswered pings", pings)
			}
			f := c.mustReadFrame(2 * time.Second)
			if f.op == ws.OpPing {
				pings++
				continue
			}
			if f.op != ws.OpClose {
				t.Fatalf("unexpected %s", f)
			}
			if code, _ := closeBody(f.payload); code != 1011 {
				t.Fatalf("expected close 1011, got %s", f)
			}
			break
		}
		if pings == 0 {
			t.Fatalf("closed without pinging first")
		}
		c.expectEOF()
	})
	t.Run("K.2/answers-pongs", func(t *testing.T) {
		t.Parallel()
		c := dial(t, addr)
		c.autoPong = false
		pings := 0
		end := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(end) {
			f, err := c.readFrame(time.Until(end))
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if f.op != ws.OpPing {
				t.Fatalf("after %d pings: unexpected %s", pings, f)
			}
			pings++
			c.mustWrite(encode(true, 0, ws.OpPong, f.payload))
		}
		if pings < 3 {
			t.Fatalf("only %d server pings in 1.5s with a 100ms interval", pings)
		}
		c.autoPong = true
		c.mustWrite(encode(true, 0, ws.OpText, []byte("still here")))
		c.expectMessage(ws.OpText, []byte("still here"), readTimeout)
		c.closeNormally()
	})
}

func TestConformanceShutdown(t *testing.T) {
	srv := server.New(server.Echo(), server.WithGoingAwayReason("restart: reconnect"))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	a := dial(t, addr)
	a2 := dial(t, addr)
	// A message in flight before shutdown is still echoed.
	a.mustWrite(encode(true, 0, ws.OpText, []byte("before")))
	a.expectMessage(ws.OpText, []byte("before"), readTimeout)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()

	// S.1: every open connection gets close 1001, with the configured
	// reason.
	for _, c := range []*client{a, a2} {
		f := c.mustReadFrame(readTimeout)
		if code, reason := closeBody(f.payload); f.op != ws.OpClose || code != 1001 || reason != "restart: reconnect" {
			t.Fatalf("S.1: expected close 1001 \"restart: reconnect\", got %s", f)
		}
	}
	// a2 completes the handshake at once.
	a2.mustWrite(encode(true, 0, ws.OpClose, closePayload(1001, "")))
	a2.expectEOF()

	// S.2: while a is still open, a new upgrade is refused with 503 (or
	// the listener is already closed).
	t.Run("S.2", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, readTimeout)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial during shutdown: %v", err)
			}
			t.Log("listener already closed during shutdown (connection refused)")
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(readTimeout))
		conn.Write([]byte(upgradeRequest(addr, newKey())))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("upgrade during shutdown: no HTTP response (%v), want 503", err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("upgrade during shutdown: status %d, want 503", resp.StatusCode)
		}
	})

	// a finishes the closing handshake; Shutdown then completes.
	a.mustWrite(encode(true, 0, ws.OpClose, closePayload(1001, "")))
	a.expectEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("Shutdown did not return after all connections closed")
	}

	// S.3: after Shutdown nothing is served.
	t.Run("S.3", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, readTimeout)
		if err != nil {
			return // refused: fine
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte(upgradeRequest(addr, newKey())))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil && resp.StatusCode == 101 {
			t.Fatalf("upgrade succeeded after Shutdown")
		}
	})
}
