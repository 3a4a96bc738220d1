package server_test

// Tests of the built-in wss listener (WithTLS): echo through the TLS bridge,
// the client's address, close codes both ways, and what happens to clients
// that do not speak TLS, stall in the handshake or stop reading.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/internal/testpki"
	"github.com/wsloop/wsloop/server"
)

// wssCA returns a server TLS config with a leaf certificate for 127.0.0.1
// and localhost, and a pool holding the CA that signed it; both live only
// in memory.
func wssCA(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	p, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	return p.Server, p.Roots
}

// startWSS starts h with a wss listener (and the ws one every server has);
// Shutdown runs at cleanup. It returns the server and the wss address.
func startWSS(t testing.TB, h server.Handler, cfg *tls.Config, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	opts = append([]server.Option{server.WithTLS("127.0.0.1:0", cfg)}, opts...)
	srv := server.New(h, opts...)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := srv.TLSAddr()
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("TLSAddr() = %q after Start", addr)
	}
	return srv, addr
}

// wssConn is a gobwas/ws client connection over TLS.
type wssConn struct {
	net.Conn
	rw io.ReadWriter // reads what the dialer buffered first
}

// dialWSS opens a wss connection to addr trusting roots; netDial, if not
// nil, makes the TCP connection.
func dialWSS(t testing.TB, addr string, roots *x509.CertPool, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) *wssConn {
	t.Helper()
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: roots}, Timeout: 5 * time.Second, NetDial: netDial}
	conn, br, _, err := d.Dial(context.Background(), "wss://"+addr+"/")
	if err != nil {
		t.Fatalf("wss dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	return &wssConn{Conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

// echo sends one message and checks that the same comes back.
func (c *wssConn) echo(t testing.TB, op ws.OpCode, p []byte) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := wsutil.WriteClientMessage(c.Conn, op, p); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	got, gop, err := wsutil.ReadServerData(c.rw)
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(p), err)
	}
	if gop != op || !bytes.Equal(got, p) {
		t.Fatalf("echo of %d bytes (%v): got %d bytes (%v)", len(p), op, len(got), gop)
	}
}

// readClose reads frames until the server's close frame and returns its
// code, answering pings on the way.
func (c *wssConn) readClose(t testing.TB) ws.StatusCode {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := wsutil.Reader{Source: c.rw, State: ws.StateClientSide}
	for {
		h, err := r.NextFrame()
		if err != nil {
			t.Fatalf("reading the close frame: %v", err)
		}
		body, err := io.ReadAll(&r)
		if err != nil {
			t.Fatalf("reading a frame body: %v", err)
		}
		if h.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(body)
			return code
		}
	}
}

// expectTLSEOF checks that the server ends the TLS stream cleanly soon:
// close_notify (io.EOF), not a reset or a timeout.
func (c *wssConn) expectTLSEOF(t testing.TB) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.rw.Read(make([]byte, 64))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the close handshake: read %d bytes, err %v; want 0 and io.EOF (close_notify)", n, err)
	}
}

// wssText returns n bytes of valid UTF-8 mixing 1- to 4-byte characters.
func wssText(n int) []byte {
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		r := []rune("wss é€𝄞")[i%7]
		if len(b)+len(string(r)) > n {
			r = 'x'
		}
		b = append(b, string(r)...)
	}
	return b
}

// closeRecorder is an echo handler that records the remote address seen in
// OnOpen and the error given to OnClose.
type closeRecorder struct {
	mu     sync.Mutex
	remote []string
	closed chan error
}

func newCloseRecorder() *closeRecorder { return &closeRecorder{closed: make(chan error, 16)} }

func (h *closeRecorder) OnOpen(c *server.Conn) {
	h.mu.Lock()
	h.remote = append(h.remote, c.RemoteAddr().String())
	h.mu.Unlock()
}

func (h *closeRecorder) OnMessage(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) }

func (h *closeRecorder) OnClose(_ *server.Conn, err error) { h.closed <- err }

// closeCode waits for the next OnClose and returns its code.
func (h *closeRecorder) closeCode(t testing.TB) ws.StatusCode {
	t.Helper()
	select {
	case err := <-h.closed:
		var ce *server.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("OnClose error %T %v, want *CloseError", err, err)
		}
		return ce.Code
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called within 10s")
	}
	return 0
}

func TestTLSEcho(t *testing.T) {
	cfg, roots := wssCA(t)
	h := newCloseRecorder()
	_, addr := startWSS(t, h, cfg)
	c := dialWSS(t, addr, roots, nil)
	for _, n := range []int{0, 1, 125, 126, 16 << 10, 65535, 65536, 200_000, 1 << 20} {
		c.echo(t, ws.OpText, wssText(n))
		bin := make([]byte, n)
		_, _ = rand.Read(bin)
		c.echo(t, ws.OpBinary, bin)
	}

	h.mu.Lock()
	remote := h.remote
	h.mu.Unlock()
	if len(remote) != 1 || remote[0] != c.LocalAddr().String() {
		t.Fatalf("handler's RemoteAddr = %v, want the client's TCP address [%s]", remote, c.LocalAddr())
	}

	if err := wsutil.WriteClientMessage(c.Conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if code := c.readClose(t); code != ws.StatusNormalClosure {
		t.Fatalf("server's close code = %d, want 1000", code)
	}
	c.expectTLSEOF(t)
	if code := h.closeCode(t); code != ws.StatusNormalClosure {
		t.Fatalf("OnClose code = %d, want 1000", code)
	}
}

func TestTLSNoCertificate(t *testing.T) {
	srv := server.New(server.Echo(), server.WithTLS("127.0.0.1:0", &tls.Config{}))
	if err := srv.Start("127.0.0.1:0"); err == nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal("Start succeeded with a TLS config without a certificate")
	}
}

// TestTLSConcurrentClients runs several wss clients at once, each with
// messages that take many TLS records.
func TestTLSConcurrentClients(t *testing.T) {
	cfg, roots := wssCA(t)
	_, addr := startWSS(t, server.Echo(), cfg, server.WithEventLoops(2))
	var wg sync.WaitGroup
	for i := range 8 {
		c := dialWSS(t, addr, roots, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				p := make([]byte, 1000*(i+1)*(j+1))
				_, _ = rand.Read(p)
				c.echo(t, ws.OpBinary, p)
			}
		}()
	}
	wg.Wait()
}

func TestTLSShutdownGoingAway(t *testing.T) {
	cfg, roots := wssCA(t)
	h := newCloseRecorder()
	srv, addr := startWSS(t, h, cfg)
	c := dialWSS(t, addr, roots, nil)
	c.echo(t, ws.OpText, []byte("hello"))

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	if code := c.readClose(t); code != ws.StatusGoingAway {
		t.Fatalf("close code on Shutdown = %d, want 1001", code)
	}
	if err := wsutil.WriteClientMessage(c.Conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusGoingAway, "")); err != nil {
		t.Fatal(err)
	}
	c.expectTLSEOF(t)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if code := h.closeCode(t); code != ws.StatusGoingAway {
		t.Fatalf("OnClose code = %d, want 1001", code)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the wss listener still accepts after Shutdown")
	}
}

// TestTLSPlainClient sends plain HTTP and then garbage to the wss port: both
// are disconnected (HTTP with a 400) and the server keeps serving.
func TestTLSPlainClient(t *testing.T) {
	cfg, roots := wssCA(t)
	_, addr := startWSS(t, server.Echo(), cfg)

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	resp, err := io.ReadAll(nc)
	if !strings.HasPrefix(string(resp), "HTTP/1.0 400 ") {
		t.Fatalf("plain HTTP to the wss port: got %q (err %v), want a 400", resp, err)
	}

	junk, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	_ = junk.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = junk.Write(bytes.Repeat([]byte{0xff, 0x00, 0x13}, 100))
	if _, err := io.ReadAll(junk); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("garbage to the wss port: %v, want the connection closed", err)
	}

	dialWSS(t, addr, roots, nil).echo(t, ws.OpText, []byte("still serving"))
}

// TestTLSHandshakeTimeout opens TCP connections to the wss port that stall:
// one sends nothing, one half a ClientHello. Both are dropped after the
// handshake timeout, not before.
func TestTLSHandshakeTimeout(t *testing.T) {
	cfg, roots := wssCA(t)
	const timeout = 300 * time.Millisecond
	_, addr := startWSS(t, server.Echo(), cfg, server.WithHandshakeTimeout(timeout))
	for _, prefix := range [][]byte{nil, {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00}} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _ = nc.Write(prefix)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(nc)
		took := time.Since(start)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stalled handshake (%d bytes sent) not dropped within 5s", len(prefix))
		}
		if took < timeout*3/4 {
			t.Fatalf("stalled handshake dropped after %v, before the %v timeout", took, timeout)
		}
	}
	dialWSS(t, addr, roots, nil).echo(t, ws.OpText, []byte("still serving"))
}

// TestTLSStalledReader connects a client that stops reading while the
// server sends it far more than the socket buffers hold, then closes it.
// The close frame never gets through, so the engine drops TCP after the
// close timeout; the bridge, stuck writing to the client, must then give
// up within another close timeout and reset the connection rather than
// keep the socket (and its unsent megabytes) forever.
func TestTLSStalledReader(t *testing.T) {
	cfg, roots := wssCA(t)
	closed := make(chan error, 1)
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			chunk := make([]byte, 256<<10)
			for range 32 {
				if c.Send(server.Binary, chunk, nil) != nil {
					return
				}
			}
			// 8 MiB is more than the client's socket, ours (at most
			// 4 MiB, tcp_wmem) and the socket pair hold: the bridge is
			// blocked well before this.
			time.Sleep(300 * time.Millisecond)
			_ = c.Close(server.StatusNormalClosure, "")
		},
		Closed: func(_ *server.Conn, err error) { closed <- err },
	}
	const closeTimeout = 200 * time.Millisecond
	_, addr := startWSS(t, h, cfg, server.WithMaxOutbound(-1, server.SlowClose), server.WithCloseTimeout(closeTimeout))
	smallWindow := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(err, serr)
		}}
		return d.DialContext(ctx, network, addr)
	}
	c := dialWSS(t, addr, roots, smallWindow)
	if err := wsutil.WriteClientMessage(c.Conn, ws.OpText, []byte("flood me")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the engine did not drop the stalled reader within 20s")
	}
	// The bridge notices within one close timeout that gnet is gone; give
	// it a few.
	time.Sleep(5 * closeTimeout)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c.rw, 64<<10)
	n, err := io.Copy(io.Discard, br)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after reading %d bytes: %v; want a reset (the bridge should have given up the stalled client)", n, err)
	}
}
