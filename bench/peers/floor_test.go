//go:build linux

package peers_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFloor checks what the common contract (TestPeers) does not reach in
// the floor peer's own frame handling, over raw TCP so that the bytes and
// their split into TCP writes are the test's: upgrade requests and frames
// split at every byte and at random points, every length encoding (also
// non-minimal ones), fragmented messages with control frames in between,
// a thousand pipelined messages in one write, the limit counted over
// fragments, protocol errors answered with close 1002, and refused
// handshakes.
func TestFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := filepath.Join(build(t, "floor"), "floor")
	s := start(t, bin)
	small := start(t, bin, "-max-message", "1000")
	rng := rand.New(rand.NewPCG(3, 4))

	t.Run("split at every byte", func(t *testing.T) {
		var in bytes.Buffer
		var want []frame
		add := func(fin bool, op byte, p []byte, wantOp byte) {
			in.Write(clientFrame(fin, op, p, rng, 0))
			want = append(want, frame{fin, wantOp, p})
		}
		add(true, opText, []byte("hello"), opText)
		add(true, opBinary, bytes.Repeat([]byte{7}, 300), opBinary)
		add(true, opPing, []byte("p"), opPong)
		add(false, opText, []byte("frag-1 "), opText)
		add(true, opPing, nil, opPong)
		add(false, opCont, []byte("frag-2 "), opCont)
		add(true, opCont, []byte("frag-3"), opCont)
		add(true, opBinary, nil, opBinary)
		c, r := rawUpgrade(t, s.addr, 1) // the request head one byte per write, too
		writeChunks(t, c, in.Bytes(), func() int { return 1 })
		expectFrames(t, c, r, want)
	})

	t.Run("random splits and every length encoding", func(t *testing.T) {
		c, r := rawUpgrade(t, s.addr, 7)
		var in bytes.Buffer
		var want []frame
		for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000, 1 << 20} {
			p := payload(websocket.BinaryMessage, n, rng)
			in.Write(clientFrame(true, opBinary, p, rng, 0))
			want = append(want, frame{true, opBinary, p})
		}
		// Non-minimal length encodings: the echo uses the minimal one.
		for _, enc := range []int{126, 127} {
			p := []byte(fmt.Sprintf("encoded with %d", enc))
			in.Write(clientFrame(true, opText, p, rng, enc))
			want = append(want, frame{true, opText, p})
		}
		writeChunks(t, c, in.Bytes(), func() int { return 1 + rng.IntN(3000) })
		expectFrames(t, c, r, want)
	})

	t.Run("pipelined", func(t *testing.T) {
		c, r := rawUpgrade(t, s.addr, 0)
		var in bytes.Buffer
		var want []frame
		for i := range 1000 {
			p := []byte(fmt.Sprintf("message %d", i))
			in.Write(clientFrame(true, opText, p, rng, 0))
			want = append(want, frame{true, opText, p})
		}
		writeChunks(t, c, in.Bytes(), func() int { return in.Len() })
		expectFrames(t, c, r, want)
	})

	t.Run("gorilla fragments", func(t *testing.T) {
		// gorilla sends one frame per write buffer and reassembles the
		// fragmented echo.
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, WriteBufferSize: 1024}
		c, resp, err := d.Dial("ws://"+s.addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		defer c.Close()
		p := payload(websocket.TextMessage, 1<<20, rng)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		w, err := c.NextWriter(websocket.TextMessage)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(p); off += 1000 {
			if _, err := w.Write(p[off:min(off+1000, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		mt, got, err := c.ReadMessage()
		if err != nil || mt != websocket.TextMessage || !bytes.Equal(got, p) {
			t.Fatalf("fragmented 1 MiB echo: type %d, %d B, equal %v, err %v", mt, len(got), bytes.Equal(got, p), err)
		}
	})

	t.Run("close echoed", func(t *testing.T) {
		c, r := rawUpgrade(t, s.addr, 0)
		body := append(binary.BigEndian.AppendUint16(nil, 4000), "bye"...)
		writeChunks(t, c, clientFrame(true, opClose, body, rng, 0), func() int { return 3 })
		expectFrames(t, c, r, []frame{{true, opClose, body}})
		expectEOF(t, c, r)
	})

	const limit = 1009
	refusals := []struct {
		name string
		addr string
		send func() []byte
		code uint16 // the close code expected; 0: 1002
	}{
		{"unmasked", s.addr, func() []byte { return []byte{0x81, 2, 'h', 'i'} }, 0},
		{"RSV1", s.addr, func() []byte { f := clientFrame(true, opText, []byte("x"), rng, 0); f[0] |= 0x40; return f }, 0},
		{"opcode 3", s.addr, func() []byte { return clientFrame(true, 3, nil, rng, 0) }, 0},
		{"continuation first", s.addr, func() []byte { return clientFrame(true, opCont, []byte("x"), rng, 0) }, 0},
		{"text inside a fragmented message", s.addr, func() []byte {
			return append(clientFrame(false, opText, []byte("a"), rng, 0), clientFrame(true, opText, []byte("b"), rng, 0)...)
		}, 0},
		{"ping of 126 B", s.addr, func() []byte { return clientFrame(true, opPing, make([]byte, 126), rng, 0) }, 0},
		{"fragmented ping", s.addr, func() []byte { return clientFrame(false, opPing, nil, rng, 0) }, 0},
		{"close of 1 B", s.addr, func() []byte { return clientFrame(true, opClose, []byte{3}, rng, 0) }, 0},
		{"close 1005", s.addr, func() []byte { return clientFrame(true, opClose, []byte{1005 >> 8, 1005 & 0xff}, rng, 0) }, 0},
		{"length with the top bit", s.addr, func() []byte { return hugeFrameHeader(opBinary, true, 1<<63) }, 0},
		{"length 2^62", s.addr, func() []byte { return hugeFrameHeader(opBinary, true, 1<<62) }, limit},
		{"continuation of 2^63-1", s.addr, func() []byte {
			return append(clientFrame(false, opBinary, []byte("a"), rng, 0), hugeFrameHeader(opCont, true, 1<<63-1)...)
		}, limit},
		{"over the limit", small.addr, func() []byte { return clientFrame(true, opBinary, make([]byte, 1001), rng, 0) }, limit},
		{"over the limit in fragments", small.addr, func() []byte {
			return append(clientFrame(false, opBinary, make([]byte, 600), rng, 0), clientFrame(true, opCont, make([]byte, 401), rng, 0)...)
		}, limit},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			c, r := rawUpgrade(t, tc.addr, 0)
			code := tc.code
			if code == 0 {
				code = 1002
			}
			want := binary.BigEndian.AppendUint16(nil, code)
			in := tc.send()
			writeChunks(t, c, in, func() int { return len(in) })
			var got []frame
			for {
				f, err := readServerFrame(c, r)
				if err != nil {
					t.Fatalf("want close %d, got %v after %d frames", binary.BigEndian.Uint16(want), err, len(got))
				}
				got = append(got, f)
				if f.op == opClose {
					break
				}
			}
			if last := got[len(got)-1]; !bytes.Equal(last.payload, want) {
				t.Fatalf("close payload %x, want %x", last.payload, want)
			}
			expectEOF(t, c, r)
		})
	}

	t.Run("exactly the limit in fragments", func(t *testing.T) {
		c, r := rawUpgrade(t, small.addr, 0)
		a, b := bytes.Repeat([]byte{1}, 600), bytes.Repeat([]byte{2}, 400)
		in := append(clientFrame(false, opBinary, a, rng, 0), clientFrame(true, opCont, b, rng, 0)...)
		writeChunks(t, c, in, func() int { return 100 })
		expectFrames(t, c, r, []frame{{false, opBinary, a}, {true, opCont, b}})
	})

	t.Run("refused handshakes", func(t *testing.T) {
		for _, req := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n",
		} {
			c := dialTCP(t, s.addr)
			writeChunks(t, c, []byte(req), func() int { return len(req) })
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%.40q: %v", req, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Errorf("%.40q: status %d, want 4xx", req, resp.StatusCode)
			}
		}
	})
}

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// clientFrame builds a masked frame; enc 126 or 127 forces that length
// encoding, 0 picks the minimal one.
func clientFrame(fin bool, op byte, p []byte, rng *rand.Rand, enc int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch {
	case enc == 127 || enc == 0 && len(p) > 0xffff:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(len(p)))
	case enc == 126 || enc == 0 && len(p) > 125:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(p)))
	default:
		f = append(f, 0x80|byte(len(p)))
	}
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], rng.Uint32())
	f = append(f, m[:]...)
	for i, c := range p {
		f = append(f, c^m[i%4])
	}
	return f
}

// hugeFrameHeader is the header of a masked frame announcing n payload
// bytes in the 64-bit length (none follow).
func hugeFrameHeader(op byte, fin bool, n uint64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	return append(binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, n), 1, 2, 3, 4)
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawUpgrade dials addr and upgrades, writing the request in chunks of
// chunk bytes (0: at once), and checks the 101 and its accept value.
func rawUpgrade(t *testing.T, addr string, chunk int) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialTCP(t, addr)
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	req := "GET /floor?x=1 HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
	if chunk == 0 {
		chunk = len(req)
	}
	writeChunks(t, c, []byte(req), func() int { return chunk })
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		t.Fatalf("upgrade: status %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("upgrade negotiated %q", ext)
	}
	return c, r
}

// writeChunks writes p in pieces of next() bytes, each its own write (and,
// with TCP_NODELAY, usually its own segment), from a goroutine, so that a
// large write cannot deadlock against the echoes the test reads meanwhile.
func writeChunks(t *testing.T, c net.Conn, p []byte, next func() int) {
	t.Helper()
	var sizes []int
	for rest := len(p); rest > 0; {
		n := min(max(next(), 1), rest)
		sizes = append(sizes, n)
		rest -= n
	}
	errc := make(chan error, 1)
	t.Cleanup(func() {
		_ = c.Close() // ends a write the server no longer reads
		if err := <-errc; err != nil {
			t.Errorf("write: %v", err)
		}
	})
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		off := 0
		for _, n := range sizes {
			if _, err := c.Write(p[off : off+n]); err != nil {
				if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
					err = nil // the test or the server ended the connection first
				}
				errc <- err
				return
			}
			off += n
		}
		errc <- nil
	}()
}

// readServerFrame reads one frame, which must be unmasked, with no RSV bit
// and the minimal length encoding.
func readServerFrame(c net.Conn, r *bufio.Reader) (frame, error) {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	if h[0]&0x70 != 0 || h[1]&0x80 != 0 {
		return frame{}, fmt.Errorf("bad server frame header %x", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, err
		}
		if n = uint64(binary.BigEndian.Uint16(b[:])); n <= 125 {
			return frame{}, fmt.Errorf("length %d not minimally encoded", n)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, err
		}
		if n = binary.BigEndian.Uint64(b[:]); n <= 0xffff || n > 64<<20 {
			return frame{}, fmt.Errorf("length %d not minimally encoded or too large", n)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return frame{}, err
	}
	return frame{h[0]&0x80 != 0, h[0] & 0x0f, p}, nil
}

func expectFrames(t *testing.T, c net.Conn, r *bufio.Reader, want []frame) {
	t.Helper()
	for i, w := range want {
		f, err := readServerFrame(c, r)
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, len(want), err)
		}
		if f.fin != w.fin || f.op != w.op || !bytes.Equal(f.payload, w.payload) {
			t.Fatalf("frame %d: fin %v op %d %d B, want fin %v op %d %d B (equal payloads %v)",
				i, f.fin, f.op, len(f.payload), w.fin, w.op, len(w.payload), bytes.Equal(f.payload, w.payload))
		}
	}
}

// expectEOF checks that the server closed the connection after its close
// frame, without sending anything more.
func expectEOF(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := r.ReadByte()
	if err == nil {
		t.Fatalf("byte %#x after the close frame, want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open 10s after the close frame")
	}
}
