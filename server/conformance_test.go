package server_test

// Autobahn-style conformance suite for the wsloop server.
//
// Every case drives the real server over loopback with a raw TCP client
// that builds masked frames by hand, so that malformed, fragmented and
// chopped traffic can be produced at will. Case ids follow the numbering of
// the Autobahn testsuite (categories 1-7, 9 and 10); cases outside the
// Autobahn catalogue use a letter prefix (H handshake, L limits,
// K keepalive, S shutdown, X misc).

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

const (
	readTimeout  = 5 * time.Second
	largeTimeout = 60 * time.Second
	wsGUID       = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// ---------------------------------------------------------------------------
// Server lifecycle

func startServer(t testing.TB, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	return startAPI(t, server.Echo(), opts...)
}

// ---------------------------------------------------------------------------
// Raw client

type frame struct {
	fin     bool
	rsv     byte
	op      ws.OpCode
	payload []byte
}

func (f frame) String() string {
	p := f.payload
	suffix := ""
	if len(p) > 48 {
		p, suffix = p[:48], fmt.Sprintf("...(%d bytes)", len(f.payload))
	}
	s := fmt.Sprintf("%s fin=%v rsv=%d payload=%q%s", opName(f.op), f.fin, f.rsv, p, suffix)
	if f.op == ws.OpClose {
		code, reason := closeBody(f.payload)
		s += fmt.Sprintf(" [code=%d reason=%q]", code, reason)
	}
	return s
}

func opName(op ws.OpCode) string {
	switch op {
	case ws.OpContinuation:
		return "CONT"
	case ws.OpText:
		return "TEXT"
	case ws.OpBinary:
		return "BINARY"
	case ws.OpClose:
		return "CLOSE"
	case ws.OpPing:
		return "PING"
	case ws.OpPong:
		return "PONG"
	}
	return fmt.Sprintf("OP%d", op)
}

// closeBody returns the status code (0 when absent, -1 when malformed).
func closeBody(p []byte) (int, string) {
	switch {
	case len(p) == 0:
		return 0, ""
	case len(p) == 1:
		return -1, ""
	}
	return int(p[0])<<8 | int(p[1]), string(p[2:])
}

type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	// autoPong answers server-initiated pings transparently (the main
	// suite is about client-driven traffic).
	autoPong bool
	// sentClose records that the client has sent a close frame; until it
	// has, a close from the server is answered like a compliant peer
	// (and like Autobahn's client) would.
	sentClose bool
	// noCloseReply suppresses that answer.
	noCloseReply bool
}

func dialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, readTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func upgradeRequest(addr, key string) string {
	return "GET /ws HTTP/1.1\r\n" +
		"Host: " + addr + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"
}

// dial opens a WebSocket connection, optionally pipelining extra bytes
// right behind the request head in the same write.
func dial(t testing.TB, addr string, pipelined ...byte) *client {
	t.Helper()
	conn := dialTCP(t, addr)
	key := newKey()
	req := append([]byte(upgradeRequest(addr, key)), pipelined...)
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write(req); err != nil {
		t.Fatalf("write upgrade request: %v", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d %s, want 101", resp.StatusCode, resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("upgrade: Upgrade header %q", resp.Header.Get("Upgrade"))
	}
	if !strings.Contains(strings.ToLower(resp.Header.Get("Connection")), "upgrade") {
		t.Fatalf("upgrade: Connection header %q", resp.Header.Get("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(key); got != want {
		t.Fatalf("upgrade: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return &client{t: t, conn: conn, br: br, autoPong: true}
}

// encode builds one masked client frame.
func encode(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(payload))}
	var buf bytes.Buffer
	buf.Grow(ws.HeaderSize(h) + len(payload))
	if err := ws.WriteHeader(&buf, h); err != nil {
		panic(err)
	}
	start := buf.Len()
	buf.Write(payload)
	b := buf.Bytes()
	ws.Cipher(b[start:], h.Mask, 0)
	return b
}

// encodeUnmasked builds a frame the way a server would (illegal from a client).
func encodeUnmasked(fin bool, op ws.OpCode, payload []byte) []byte {
	var buf bytes.Buffer
	_ = ws.WriteHeader(&buf, ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload))})
	buf.Write(payload)
	return buf.Bytes()
}

func closePayload(code int, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

func (c *client) write(b []byte) error {
	c.noteClose(b)
	return c.rawWrite(b)
}

func (c *client) rawWrite(b []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(largeTimeout))
	_, err := c.conn.Write(b)
	return err
}

func (c *client) mustWrite(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// noteClose records whether b (a sequence of whole client frames, or the
// start of one) carries a close frame.
func (c *client) noteClose(b []byte) {
	for len(b) >= 2 {
		if ws.OpCode(b[0]&0x0f) == ws.OpClose {
			c.sentClose = true
			return
		}
		n := int(b[1] & 0x7f)
		hl := 2
		switch n {
		case 126:
			if len(b) < 4 {
				return
			}
			n, hl = int(b[2])<<8|int(b[3]), 4
		case 127:
			return // large data frame: never followed by anything we parse
		}
		if b[1]&0x80 != 0 {
			hl += 4
		}
		if len(b) < hl+n {
			return
		}
		b = b[hl+n:]
	}
}

// writeChopped writes b in chunks of size n, pausing between chunks when
// pause > 0. It stops at the first write error (the server may legitimately
// have closed the connection) and returns it.
func (c *client) writeChopped(b []byte, n int, pause time.Duration) error {
	c.noteClose(b)
	for len(b) > 0 {
		k := min(n, len(b))
		if err := c.rawWrite(b[:k]); err != nil {
			return err
		}
		b = b[k:]
		if pause > 0 && len(b) > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

func (c *client) readFrame(timeout time.Duration) (frame, error) {
	for {
		c.conn.SetReadDeadline(time.Now().Add(timeout))
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return frame{}, err
		}
		if h.Masked {
			return frame{}, fmt.Errorf("server sent a masked frame (%s)", opName(h.OpCode))
		}
		if h.Length > 64<<20 {
			return frame{}, fmt.Errorf("server frame too large: %d", h.Length)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return frame{}, fmt.Errorf("reading %d-byte payload of %s: %w", h.Length, opName(h.OpCode), err)
		}
		f := frame{fin: h.Fin, rsv: h.Rsv, op: h.OpCode, payload: p}
		if f.op == ws.OpPing && c.autoPong {
			c.mustWrite(encode(true, 0, ws.OpPong, f.payload))
			continue
		}
		return f, nil
	}
}

func (c *client) mustReadFrame(timeout time.Duration) frame {
	c.t.Helper()
	f, err := c.readFrame(timeout)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// readMessage reads one data message, reassembling server-side
// fragmentation. Any control frame in between is an error.
func (c *client) readMessage(timeout time.Duration) (ws.OpCode, []byte, error) {
	f, err := c.readFrame(timeout)
	if err != nil {
		return 0, nil, err
	}
	if f.op != ws.OpText && f.op != ws.OpBinary {
		return 0, nil, fmt.Errorf("expected a data message, got %s", f)
	}
	if f.rsv != 0 {
		return 0, nil, fmt.Errorf("server frame with RSV=%d", f.rsv)
	}
	op, data := f.op, f.payload
	for !f.fin {
		if f, err = c.readFrame(timeout); err != nil {
			return 0, nil, err
		}
		if f.op != ws.OpContinuation {
			return 0, nil, fmt.Errorf("expected continuation, got %s", f)
		}
		data = append(data, f.payload...)
	}
	return op, data, nil
}

func (c *client) expectMessage(op ws.OpCode, want []byte, timeout time.Duration) {
	c.t.Helper()
	gotOp, got, err := c.readMessage(timeout)
	if err != nil {
		c.t.Fatalf("expected %s message of %d bytes: %v", opName(op), len(want), err)
	}
	if gotOp != op {
		c.t.Fatalf("expected %s message, got %s", opName(op), opName(gotOp))
	}
	if !bytes.Equal(got, want) {
		c.t.Fatalf("echo mismatch: got %d bytes %s, want %d bytes %s", len(got), short(got), len(want), short(want))
	}
}

func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

func (c *client) expectControl(op ws.OpCode, payload []byte) {
	c.t.Helper()
	f := c.mustReadFrame(readTimeout)
	if f.op != op || !f.fin || f.rsv != 0 || !bytes.Equal(f.payload, payload) {
		c.t.Fatalf("expected %s %q, got %s", opName(op), payload, f)
	}
}

// expectClose reads the next frame, requires it to be a close frame with
// one of the codes (0 means "empty body"), then requires the server to
// drop TCP.
func (c *client) expectClose(codes ...int) {
	c.t.Helper()
	f, err := c.readFrame(readTimeout)
	if err != nil {
		c.t.Fatalf("expected close %v, got read error: %v", codes, err)
	}
	c.finishClose(f, codes...)
}

// finishClose checks that f is a close frame with one of codes, answers it
// unless the client already sent a close, and expects the TCP close.
func (c *client) finishClose(f frame, codes ...int) {
	c.t.Helper()
	if f.op != ws.OpClose {
		c.t.Fatalf("expected close %v, got %s", codes, f)
	}
	code, _ := closeBody(f.payload)
	ok := false
	for _, want := range codes {
		ok = ok || code == want
	}
	if !ok {
		c.t.Fatalf("expected close code %v, got %s", codes, f)
	}
	if !c.sentClose && !c.noCloseReply {
		// Complete the closing handshake the server started; it may then
		// drop TCP at once instead of waiting for its close timeout.
		_ = c.write(encode(true, 0, ws.OpClose, f.payload))
	}
	c.expectEOF()
}

// expectEOF requires that the server closes the TCP connection without
// sending anything else.
func (c *client) expectEOF() {
	c.t.Helper()
	f, err := c.readFrame(readTimeout)
	if err == nil {
		c.t.Fatalf("expected TCP close, got frame %s", f)
	}
	if !isClosedErr(err) {
		c.t.Fatalf("expected TCP close, got %v", err)
	}
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// expectSilence requires that nothing arrives within d.
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	f, err := c.readFrame(d)
	if err == nil {
		c.t.Fatalf("expected nothing for %v, got %s", d, f)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("expected nothing for %v, got %v", d, err)
	}
}

// closeNormally runs the client-initiated closing handshake and checks that
// the server echoes the code and closes TCP.
func (c *client) closeNormally() {
	c.t.Helper()
	c.mustWrite(encode(true, 0, ws.OpClose, closePayload(1000, "")))
	c.expectClose(1000)
}

// assertAlive checks that the server still serves new connections.
func assertAlive(t testing.TB, addr string) {
	t.Helper()
	c := dial(t, addr)
	msg := []byte("still alive?")
	c.mustWrite(encode(true, 0, ws.OpText, msg))
	c.expectMessage(ws.OpText, msg, readTimeout)
	c.closeNormally()
}

// ---------------------------------------------------------------------------
// Table-driven cases

// act is one step of a scripted case: a frame to send or a pause.
type act struct {
	raw   []byte
	pause time.Duration
}

func fr(fin bool, op ws.OpCode, payload string) act {
	return act{raw: encode(fin, 0, op, []byte(payload))}
}

func frb(fin bool, op ws.OpCode, payload []byte) act {
	return act{raw: encode(fin, 0, op, payload)}
}

func frRsv(rsv byte, op ws.OpCode, payload string) act {
	return act{raw: encode(true, rsv, op, []byte(payload))}
}

func pause(d time.Duration) act { return act{pause: d} }

// Chop modes.
const (
	chopWhole    = 0  // everything between pauses in one write
	chopPerFrame = -1 // one write per frame
)

type exp struct {
	op      ws.OpCode
	payload []byte
}

func msg(op ws.OpCode, p string) exp { return exp{op: op, payload: []byte(p)} }
func pong(p string) exp              { return exp{op: ws.OpPong, payload: []byte(p)} }

type tcase struct {
	id   string
	acts []act
	chop int // chopWhole, chopPerFrame or a chunk size in bytes
	want []exp
	// fail is the close code the server must fail the connection with;
	// 0 means the connection must stay healthy and is closed normally.
	fail int
}

const octetPause = 200 * time.Microsecond

func runCase(t *testing.T, addr string, tc tcase) {
	t.Helper()
	c := dial(t, addr)
	var pending []byte
	var werr error
	flush := func() {
		if werr != nil || len(pending) == 0 {
			pending = pending[:0]
			return
		}
		switch {
		case tc.chop == chopWhole || tc.chop == chopPerFrame:
			werr = c.write(pending)
		default:
			p := time.Duration(0)
			if tc.chop <= 4 {
				p = octetPause
			}
			werr = c.writeChopped(pending, tc.chop, p)
		}
		pending = pending[:0]
	}
	for _, a := range tc.acts {
		if a.pause > 0 {
			flush()
			time.Sleep(a.pause)
			continue
		}
		pending = append(pending, a.raw...)
		if tc.chop == chopPerFrame {
			flush()
		}
	}
	flush()
	if werr != nil && tc.fail == 0 {
		t.Fatalf("write: %v", werr)
	}
	for _, e := range tc.want {
		switch e.op {
		case ws.OpText, ws.OpBinary:
			c.expectMessage(e.op, e.payload, readTimeout)
		default:
			c.expectControl(e.op, e.payload)
		}
	}
	if tc.fail != 0 {
		c.expectClose(tc.fail)
		assertAlive(t, addr)
		return
	}
	c.closeNormally()
}

func runTable(t *testing.T, addr string, cases []tcase) {
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			runCase(t, addr, tc)
		})
	}
}

func repeatTo(pattern string, n int) []byte {
	b := bytes.Repeat([]byte(pattern), n/len(pattern)+1)
	return b[:n]
}

// randomText returns n bytes of printable ASCII.
func randomText(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'A' + b[i]%58
	}
	return b
}

func randomBinary(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// ---------------------------------------------------------------------------
// The suite

func TestConformance(t *testing.T) {
	_, addr := startServer(t, server.WithMaxMessageSize(16<<20))

	t.Run("1", func(t *testing.T) { conformance1(t, addr) })
	t.Run("2", func(t *testing.T) { conformance2(t, addr) })
	t.Run("3", func(t *testing.T) { conformance3(t, addr) })
	t.Run("4", func(t *testing.T) { conformance4(t, addr) })
	t.Run("5", func(t *testing.T) { conformance5(t, addr) })
	t.Run("6", func(t *testing.T) { conformance6(t, addr) })
	t.Run("7", func(t *testing.T) { conformance7(t, addr) })
	t.Run("9", func(t *testing.T) { conformance9(t, addr) })
	t.Run("10", func(t *testing.T) { conformance10(t, addr) })
}

// 1.x Framing: text and binary echo of various lengths.
func conformance1(t *testing.T, addr string) {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	var cases []tcase
	for i, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
		for j, n := range sizes {
			var p []byte
			if op == ws.OpText {
				p = repeatTo("*", n)
			} else {
				p = bytes.Repeat([]byte{0xfe}, n)
			}
			cases = append(cases, tcase{
				id:   fmt.Sprintf("1.%d.%d", i+1, j+1),
				acts: []act{frb(true, op, p)},
				want: []exp{{op, p}},
			})
		}
		// 1.x.8: 65536 bytes written in chops of 997 octets.
		var p []byte
		if op == ws.OpText {
			p = repeatTo("*", 65536)
		} else {
			p = bytes.Repeat([]byte{0xfe}, 65536)
		}
		cases = append(cases, tcase{
			id:   fmt.Sprintf("1.%d.8", i+1),
			acts: []act{frb(true, op, p)},
			chop: 997,
			want: []exp{{op, p}},
		})
	}
	runTable(t, addr, cases)
}

// 2.x Pings and pongs.
func conformance2(t *testing.T, addr string) {
	bin := string([]byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff})
	p125 := string(bytes.Repeat([]byte{0xfe}, 125))
	p126 := string(bytes.Repeat([]byte{0xfe}, 126))
	var tenPings []act
	var tenPongs []exp
	for i := range 10 {
		p := fmt.Sprintf("payload-%d", i)
		tenPings = append(tenPings, fr(true, ws.OpPing, p))
		tenPongs = append(tenPongs, pong(p))
	}
	cases := []tcase{
		{id: "2.1", acts: []act{fr(true, ws.OpPing, "")}, want: []exp{pong("")}},
		{id: "2.2", acts: []act{fr(true, ws.OpPing, "Hello, world!")}, want: []exp{pong("Hello, world!")}},
		{id: "2.3", acts: []act{fr(true, ws.OpPing, bin)}, want: []exp{pong(bin)}},
		{id: "2.4", acts: []act{fr(true, ws.OpPing, p125)}, want: []exp{pong(p125)}},
		{id: "2.5", acts: []act{fr(true, ws.OpPing, p126)}, fail: 1002},
		{id: "2.6", acts: []act{fr(true, ws.OpPing, p125)}, chop: 1, want: []exp{pong(p125)}},
		{id: "2.7", acts: []act{fr(true, ws.OpPong, "")}},
		{id: "2.8", acts: []act{fr(true, ws.OpPong, "unsolicited pong payload")}},
		{id: "2.9", acts: []act{fr(true, ws.OpPong, "unsolicited pong payload"), fr(true, ws.OpPing, "ping payload")}, want: []exp{pong("ping payload")}},
		{id: "2.10", acts: tenPings, want: tenPongs},
		{id: "2.11", acts: tenPings, chop: 1, want: tenPongs},
	}
	runTable(t, addr, cases)
}

// 3.x Reserved bits.
func conformance3(t *testing.T, addr string) {
	const hello = "Hello, world!"
	cases := []tcase{
		{id: "3.1", acts: []act{frRsv(1, ws.OpText, hello)}, fail: 1002},
		{id: "3.2", acts: []act{fr(true, ws.OpText, hello), frRsv(2, ws.OpText, hello), fr(true, ws.OpPing, "")},
			want: []exp{msg(ws.OpText, hello)}, fail: 1002},
		{id: "3.3", acts: []act{fr(true, ws.OpText, hello), frRsv(3, ws.OpText, hello), fr(true, ws.OpPing, "")},
			chop: chopPerFrame, want: []exp{msg(ws.OpText, hello)}, fail: 1002},
		{id: "3.4", acts: []act{fr(true, ws.OpText, hello), frRsv(4, ws.OpText, hello), fr(true, ws.OpPing, "")},
			chop: 1, want: []exp{msg(ws.OpText, hello)}, fail: 1002},
		{id: "3.5", acts: []act{frRsv(5, ws.OpBinary, string(bytes.Repeat([]byte{0xff}, 8)))}, fail: 1002},
		{id: "3.6", acts: []act{frRsv(6, ws.OpPing, hello)}, fail: 1002},
		{id: "3.7", acts: []act{{raw: encode(true, 7, ws.OpClose, closePayload(1000, ""))}}, fail: 1002},
	}
	runTable(t, addr, cases)
}

// 4.x Reserved opcodes.
func conformance4(t *testing.T, addr string) {
	const hello = "Hello, world!"
	var cases []tcase
	for g, ops := range [][]ws.OpCode{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", g+1, i+1)
			payload := ""
			if i > 0 {
				payload = "reserved opcode payload"
			}
			if i < 2 {
				cases = append(cases, tcase{id: id, acts: []act{fr(true, op, payload)}, fail: 1002})
				continue
			}
			// text, reserved opcode, ping: the echo arrives, then 1002,
			// and the ping after the bad frame is not answered.
			cases = append(cases, tcase{
				id:   id,
				acts: []act{fr(true, ws.OpText, hello), fr(true, op, payload), fr(true, ws.OpPing, "")},
				chop: chopPerFrame,
				want: []exp{msg(ws.OpText, hello)},
				fail: 1002,
			})
		}
	}
	runTable(t, addr, cases)
}

// 5.x Fragmentation.
func conformance5(t *testing.T, addr string) {
	const d = 100 * time.Millisecond
	f1 := fr(false, ws.OpText, "fragment1")
	f2 := fr(true, ws.OpContinuation, "fragment2")
	ping := fr(true, ws.OpPing, "ping payload")
	joined := msg(ws.OpText, "fragment1fragment2")
	noStart := []act{fr(true, ws.OpContinuation, "non-continuation payload"), fr(true, ws.OpText, "Hello, world!")}
	noStartOpen := []act{fr(false, ws.OpContinuation, "non-continuation payload"), fr(true, ws.OpText, "Hello, world!")}
	rep := func(a []act, n int) []act {
		var out []act
		for range n {
			out = append(out, a...)
		}
		return out
	}
	c16 := []act{fr(false, ws.OpContinuation, "fragment1"), fr(false, ws.OpText, "fragment2"), fr(true, ws.OpContinuation, "fragment3")}
	c17 := []act{fr(true, ws.OpContinuation, "fragment1"), fr(false, ws.OpText, "fragment2"), fr(true, ws.OpContinuation, "fragment3")}
	five := func(delay time.Duration) []act {
		return []act{
			fr(false, ws.OpText, "fragment1"), pause(delay),
			fr(false, ws.OpContinuation, "fragment2"), pause(delay),
			fr(true, ws.OpPing, "pongme 1!"), pause(delay),
			fr(false, ws.OpContinuation, "fragment3"), pause(delay),
			fr(false, ws.OpContinuation, "fragment4"), pause(delay),
			fr(true, ws.OpPing, "pongme 2!"), pause(delay),
			fr(true, ws.OpContinuation, "fragment5"),
		}
	}
	fiveWant := []exp{pong("pongme 1!"), pong("pongme 2!"), msg(ws.OpText, "fragment1fragment2fragment3fragment4fragment5")}
	cases := []tcase{
		{id: "5.1", acts: []act{fr(false, ws.OpPing, "fragment1"), fr(true, ws.OpContinuation, "fragment2")}, fail: 1002},
		{id: "5.2", acts: []act{fr(false, ws.OpPong, "fragment1"), fr(true, ws.OpContinuation, "fragment2")}, fail: 1002},
		{id: "5.3", acts: []act{f1, f2}, want: []exp{joined}},
		{id: "5.4", acts: []act{f1, pause(d), f2}, want: []exp{joined}},
		{id: "5.5", acts: []act{f1, f2}, chop: 1, want: []exp{joined}},
		{id: "5.6", acts: []act{f1, ping, f2}, want: []exp{pong("ping payload"), joined}},
		{id: "5.7", acts: []act{f1, pause(d), ping, pause(d), f2}, want: []exp{pong("ping payload"), joined}},
		{id: "5.8", acts: []act{f1, ping, f2}, chop: 1, want: []exp{pong("ping payload"), joined}},
		{id: "5.9", acts: noStart, fail: 1002},
		{id: "5.10", acts: noStart, chop: chopPerFrame, fail: 1002},
		{id: "5.11", acts: noStart, chop: 1, fail: 1002},
		{id: "5.12", acts: noStartOpen, fail: 1002},
		{id: "5.13", acts: noStartOpen, chop: chopPerFrame, fail: 1002},
		{id: "5.14", acts: noStartOpen, chop: 1, fail: 1002},
		{id: "5.15", acts: []act{f1, f2, fr(false, ws.OpContinuation, "fragment3"), fr(true, ws.OpText, "fragment4")},
			want: []exp{joined}, fail: 1002},
		{id: "5.16", acts: rep(c16, 2), fail: 1002},
		{id: "5.17", acts: rep(c17, 2), fail: 1002},
		{id: "5.18", acts: []act{fr(false, ws.OpText, "fragment1"), fr(true, ws.OpText, "fragment2")}, fail: 1002},
		{id: "5.19", acts: five(d), want: fiveWant},
		{id: "5.20", acts: five(0), chop: chopPerFrame, want: fiveWant},
		// Extra: the whole of 5.19 one octet at a time.
		{id: "5.20/octets", acts: five(0), chop: 1, want: fiveWant},
	}
	runTable(t, addr, cases)
}

// 7.x Close handling.
func conformance7(t *testing.T, addr string) {
	const hello = "Hello World!"
	closeAct := func(code int, reason string) act {
		return act{raw: encode(true, 0, ws.OpClose, closePayload(code, reason))}
	}
	// Client-initiated closes: the server answers with close and drops TCP
	// without sending anything else.
	type closeCase struct {
		id    string
		acts  []act
		want  []exp
		codes []int
	}
	cc := []closeCase{
		{"7.1.1", []act{fr(true, ws.OpText, hello), closeAct(1000, "")}, []exp{msg(ws.OpText, hello)}, []int{1000}},
		{"7.1.2", []act{closeAct(1000, ""), closeAct(1000, "")}, nil, []int{1000}},
		{"7.1.3", []act{closeAct(1000, ""), fr(true, ws.OpPing, "")}, nil, []int{1000}},
		{"7.1.4", []act{closeAct(1000, ""), fr(true, ws.OpText, hello)}, nil, []int{1000}},
		{"7.1.5", []act{fr(false, ws.OpText, "fragment1"), closeAct(1000, ""), fr(true, ws.OpContinuation, "fragment2")}, nil, []int{1000}},
		{"7.3.1", []act{{raw: encode(true, 0, ws.OpClose, nil)}}, nil, []int{0, 1000}},
		{"7.3.3", []act{closeAct(1000, "")}, nil, []int{1000}},
		{"7.3.4", []act{closeAct(1000, hello)}, nil, []int{1000}},
		{"7.3.5", []act{closeAct(1000, string(repeatTo("*", 123)))}, nil, []int{1000}},
	}
	// 7.7.x valid codes must be echoed. Autobahn's list, plus the
	// IANA-registered 1012-1014 and a few more in the valid ranges.
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}
	for i, code := range valid {
		cc = append(cc, closeCase{fmt.Sprintf("7.7.%d", i+1), []act{closeAct(code, "")}, nil, []int{code}})
	}
	for _, code := range []int{1012, 1013, 1014, 3500, 4500} {
		cc = append(cc, closeCase{fmt.Sprintf("7.7.x-%d", code), []act{closeAct(code, "")}, nil, []int{code}})
	}
	for _, c := range cc {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			cl := dial(t, addr)
			var raw []byte
			for _, a := range c.acts {
				raw = append(raw, a.raw...)
			}
			cl.mustWrite(raw)
			for _, e := range c.want {
				cl.expectMessage(e.op, e.payload, readTimeout)
			}
			cl.expectClose(c.codes...)
			assertAlive(t, addr)
		})
	}

	// Failures: the server fails the connection with a code.
	var fail []tcase
	fail = append(fail,
		tcase{id: "7.3.2", acts: []act{{raw: encode(true, 0, ws.OpClose, []byte{0x2a})}}, fail: 1002},
		tcase{id: "7.3.6", acts: []act{closeAct(1000, string(repeatTo("*", 124)))}, fail: 1002},
		tcase{id: "7.5.1", acts: []act{closeAct(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")}, fail: 1007},
		tcase{id: "7.13.1", acts: []act{closeAct(5000, "")}, fail: 1002},
		tcase{id: "7.13.2", acts: []act{closeAct(65535, "")}, fail: 1002},
	)
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		fail = append(fail, tcase{id: fmt.Sprintf("7.9.%d", i+1), acts: []act{closeAct(code, "")}, fail: 1002})
	}
	for _, code := range []int{1015, 1999, 2500} {
		fail = append(fail, tcase{id: fmt.Sprintf("7.9.x-%d", code), acts: []act{closeAct(code, "")}, fail: 1002})
	}
	runTable(t, addr, fail)

	// 7.1.6: 256 KiB message, small message, close, ping. Whether the echoes
	// arrive before the close is implementation defined; the close must be
	// 1000, and no pong may follow.
	t.Run("7.1.6", func(t *testing.T) {
		t.Parallel()
		cl := dial(t, addr)
		big := repeatTo("BAsd7&jh23", 256<<10)
		var raw []byte
		raw = append(raw, encode(true, 0, ws.OpText, big)...)
		raw = append(raw, encode(true, 0, ws.OpText, []byte(hello))...)
		raw = append(raw, encode(true, 0, ws.OpClose, closePayload(1000, ""))...)
		raw = append(raw, encode(true, 0, ws.OpPing, nil)...)
		cl.mustWrite(raw)
		wantSeq := []exp{msg(ws.OpText, string(big)), msg(ws.OpText, hello)}
		for i := 0; ; i++ {
			f := cl.mustReadFrame(readTimeout)
			if f.op == ws.OpClose {
				if code, _ := closeBody(f.payload); code != 1000 {
					t.Fatalf("expected close 1000, got %s", f)
				}
				break
			}
			if i >= len(wantSeq) || f.op != wantSeq[i].op || !f.fin || !bytes.Equal(f.payload, wantSeq[i].payload) {
				t.Fatalf("unexpected frame #%d: %s", i, f)
			}
		}
		cl.expectEOF()
		assertAlive(t, addr)
	})
}

// 9.x Limits and performance (correctness only).
func conformance9(t *testing.T, addr string) {
	// Run the heavy groups one at a time, but in parallel with the rest of
	// the suite.
	t.Run("big", func(t *testing.T) {
		t.Parallel()
		big := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
		if testing.Short() {
			big = big[:4]
		}
		for g, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			for i, n := range big {
				t.Run(fmt.Sprintf("9.%d.%d", g+1, i+1), func(t *testing.T) {
					p := payloadFor(op, n)
					c := dial(t, addr)
					go c.write(encode(true, 0, op, p))
					c.expectMessage(op, p, largeTimeout)
					c.closeNormally()
				})
			}
		}
		// 9.3/9.4: 4 MiB message fragmented into frames of 64 B .. 4 MiB.
		total := 4 << 20
		if testing.Short() {
			total = 1 << 20
		}
		frags := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
		for g, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			for i, fs := range frags {
				t.Run(fmt.Sprintf("9.%d.%d", g+3, i+1), func(t *testing.T) {
					p := payloadFor(op, total)
					raw := fragment(op, p, fs)
					c := dial(t, addr)
					go c.write(raw)
					c.expectMessage(op, p, largeTimeout)
					c.closeNormally()
				})
			}
		}
		// 9.5/9.6: 1 MiB single frame written in chops of 64 B .. 2 KiB.
		chopTotal := 1 << 20
		if testing.Short() {
			chopTotal = 256 << 10
		}
		for g, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
				t.Run(fmt.Sprintf("9.%d.%d", g+5, i+1), func(t *testing.T) {
					p := payloadFor(op, chopTotal)
					raw := encode(true, 0, op, p)
					c := dial(t, addr)
					errc := make(chan error, 1)
					go func() { errc <- c.writeChopped(raw, chop, 0) }()
					c.expectMessage(op, p, largeTimeout)
					if err := <-errc; err != nil {
						t.Fatalf("write: %v", err)
					}
					c.closeNormally()
				})
			}
		}
	})
	// 9.7/9.8: 1000 round trips of small messages.
	for g, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			t.Run(fmt.Sprintf("9.%d.%d", g+7, i+1), func(t *testing.T) {
				t.Parallel()
				count := 1000
				if testing.Short() {
					count = 100
				}
				p := payloadFor(op, n)
				c := dial(t, addr)
				for range count {
					c.mustWrite(encode(true, 0, op, p))
					c.expectMessage(op, p, readTimeout)
				}
				c.closeNormally()
			})
		}
	}
}

func payloadFor(op ws.OpCode, n int) []byte {
	if op == ws.OpText {
		return randomText(n)
	}
	return randomBinary(n)
}

// fragment encodes p as a message of frames carrying at most fs bytes each.
func fragment(op ws.OpCode, p []byte, fs int) []byte {
	var out []byte
	first := true
	for {
		k := min(fs, len(p))
		fop := ws.OpContinuation
		if first {
			fop = op
		}
		out = append(out, encode(k == len(p), 0, fop, p[:k])...)
		p = p[k:]
		first = false
		if len(p) == 0 {
			return out
		}
	}
}

// 10.1.1: a 65536-byte text message sent in 1300-byte frames is echoed whole.
func conformance10(t *testing.T, addr string) {
	t.Run("10.1.1", func(t *testing.T) {
		t.Parallel()
		p := repeatTo("*", 65536)
		c := dial(t, addr)
		c.mustWrite(fragment(ws.OpText, p, 1300))
		c.expectMessage(ws.OpText, p, readTimeout)
		c.closeNormally()
	})
}
