package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsloop/wsloop/internal/syncbuf"
	"github.com/wsloop/wsloop/internal/testpki"
	"github.com/wsloop/wsloop/server"
)

// The proxy tests run the TLS-termination recipes of testdata/haproxy.cfg.tmpl
// and testdata/nginx.conf.tmpl with the real proxies (Debian's haproxy and
// nginx packages) in front of an in-process wsloop server, and check that
// the handler sees the real client's address: the client dials from
// 127.0.0.5 while the proxies connect to wsloop from 127.0.0.1.

// proxyClientIP is the source address of the test clients.
var proxyClientIP = netip.MustParseAddr("127.0.0.5")

// proxyLoopback is the proxies' address as wsloop sees them.
var proxyLoopback = netip.MustParsePrefix("127.0.0.1/32")

// proxyBackend is a wsloop echo server that records the remote address of
// each connection it opens and how each one closed.
type proxyBackend struct {
	addr   string
	opened chan net.Addr
	closed chan error
}

func startProxyBackend(t *testing.T, opts ...server.Option) *proxyBackend {
	t.Helper()
	b := &proxyBackend{opened: make(chan net.Addr, 16), closed: make(chan error, 16)}
	srv := server.New(server.HandlerFuncs{
		Open:    func(c *server.Conn) { b.opened <- c.RemoteAddr() },
		Message: func(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) },
		Closed:  func(c *server.Conn, err error) { b.closed <- err },
	}, opts...)
	serve(t, srv)
	b.addr = srv.Addr()
	return b
}

// remote returns the address the handler saw for the connection just
// opened.
func (b *proxyBackend) remote(t *testing.T) net.Addr {
	t.Helper()
	select {
	case a := <-b.opened:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("server side: OnOpen not called within 10 s of the upgrade")
		return nil
	}
}

// wantClose requires that the handler saw the connection close with code.
func (b *proxyBackend) wantClose(t *testing.T, code server.StatusCode) {
	t.Helper()
	select {
	case err := <-b.closed:
		var ce *server.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("server side: OnClose(%v), want close code %d", err, code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server side: OnClose not called within 10 s of the close handshake")
	}
}

// noOpen requires that no connection was opened.
func (b *proxyBackend) noOpen(t *testing.T) {
	t.Helper()
	select {
	case a := <-b.opened:
		t.Fatalf("server side: a connection from %v was opened, want none", a)
	default:
	}
}

// proxyCert is a throwaway CA's server certificate for 127.0.0.1 written
// in the forms the proxies want, and a pool for the clients that trusts it.
type proxyCert struct {
	cert, key, bundle string // PEM files: certificate chain, key, both (haproxy)
	pool              *x509.CertPool
}

func makeProxyCert(t *testing.T, dir string) *proxyCert {
	t.Helper()
	p, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	cert, key, bundle, _, err := p.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &proxyCert{cert: cert, key: key, bundle: bundle, pool: p.Roots}
}

// proxyFreeAddr returns a loopback address with a port that was free a
// moment ago, for a proxy to listen on.
func proxyFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// renderProxyConfig fills in a template from testdata/ and writes it to
// path.
func renderProxyConfig(t *testing.T, name, path string, data any) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// needProxy returns the path of a proxy's binary, or skips (fails in CI)
// naming the Debian package.
func needProxy(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// Debian installs both in /usr/sbin, which is not on every user's PATH.
	if p := filepath.Join("/usr/sbin", name); proxyFileExists(p) {
		return p
	}
	missing(t, "%s not found (apt-get install -y %s)", name, name)
	return ""
}

func proxyFileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// startProxy runs a proxy in the foreground in its own process group, waits
// (bounded) until it accepts TCP connections on listen, and stops it (the
// whole group) when the test ends. Its output is logged if the test fails.
func startProxy(t *testing.T, listen, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncbuf.Buffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM lets nginx's master take its workers down; SIGKILL to the
		// group if it does not end in time.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	for i := 0; i < 200; i++ {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited before listening on %s: %v; output:\n%s", bin, listen, err, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not listening on %s after 10 s; output:\n%s", bin, listen, out.String())
}

// proxyDialer dials from proxyClientIP; tlsConf, if not nil, makes it wss.
// first, if not nil, is written on the TCP connection before the upgrade
// (a PROXY protocol header).
func proxyDialer(tlsConf *tls.Config, first []byte) *websocket.Dialer {
	nd := &net.Dialer{
		LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(proxyClientIP, 0)),
		Timeout:   10 * time.Second,
	}
	return &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		TLSClientConfig:  tlsConf,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil || first == nil {
				return c, err
			}
			if _, err := c.Write(first); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
}

// proxyRoundTrip upgrades through d to url with header, echoes a text and a
// binary message, closes with 1000, and checks that the server handler saw
// the close code. It returns the client's local address and the remote
// address the handler saw.
func proxyRoundTrip(t *testing.T, b *proxyBackend, d *websocket.Dialer, url string, header http.Header) (local, remote net.Addr) {
	t.Helper()
	c, resp, err := d.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP status %d)", url, err, status)
	}
	defer c.Close()
	remote = b.remote(t)
	gorillaEcho(t, c, websocket.TextMessage, makeText(1000))
	gorillaEcho(t, c, websocket.BinaryMessage, makeBinary(70000, 5))
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("write close: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after sending close 1000: read %v, want the server's close 1000", err)
	}
	b.wantClose(t, server.StatusNormalClosure)
	return c.LocalAddr(), remote
}

func proxyAddrIP(t *testing.T, a net.Addr) netip.Addr {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("address %q: %v", a, err)
	}
	return ap.Addr().Unmap()
}

// TestProxyHAProxy runs testdata/haproxy.cfg.tmpl: haproxy terminates TLS
// and sends a PROXY protocol header (v2 or v1) to wsloop, whose handler
// must see the client's own address and port.
func TestProxyHAProxy(t *testing.T) {
	bin := needProxy(t, "haproxy")
	for _, tc := range []struct{ mode, sendProxy string }{
		{"tcp", "send-proxy-v2"},
		{"tcp", "send-proxy"},
		{"http", "send-proxy-v2"},
		{"http", "send-proxy"},
	} {
		t.Run(tc.mode+"/"+tc.sendProxy, func(t *testing.T) {
			dir := t.TempDir()
			cert := makeProxyCert(t, dir)
			b := startProxyBackend(t, server.WithTrustedProxies(proxyLoopback), server.WithProxyProtocol(true))
			listen := proxyFreeAddr(t)
			conf := filepath.Join(dir, "haproxy.cfg")
			renderProxyConfig(t, "haproxy.cfg.tmpl", conf, map[string]string{
				"Listen": listen, "PEM": cert.bundle, "Mode": tc.mode,
				"Backend": b.addr, "SendProxy": tc.sendProxy,
			})
			startProxy(t, listen, bin, "-db", "-f", conf)
			d := proxyDialer(&tls.Config{RootCAs: cert.pool}, nil)
			local, remote := proxyRoundTrip(t, b, d, "wss://"+listen+"/", nil)
			if remote.String() != local.String() {
				t.Fatalf("handler saw RemoteAddr %v, want the client's %v", remote, local)
			}
		})
	}
}

// TestProxyNginx runs testdata/nginx.conf.tmpl: nginx terminates TLS and
// appends the client's address to X-Forwarded-For, which wsloop believes
// from the trusted proxy only as far as the proxy vouches for it.
func TestProxyNginx(t *testing.T) {
	bin := needProxy(t, "nginx")
	for _, tc := range []struct {
		name string
		xff  string // what the client itself sends
	}{
		{"plain", ""},
		{"client-forged-xff", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cert := makeProxyCert(t, dir)
			b := startProxyBackend(t, server.WithTrustedProxies(proxyLoopback), server.WithForwardedFor(true))
			listen := proxyFreeAddr(t)
			conf := filepath.Join(dir, "nginx.conf")
			renderProxyConfig(t, "nginx.conf.tmpl", conf, map[string]string{
				"Dir": dir, "Listen": listen, "Cert": cert.cert, "Key": cert.key, "Backend": b.addr,
			})
			startProxy(t, listen, bin, "-e", "stderr", "-p", dir, "-c", conf,
				"-g", fmt.Sprintf("daemon off; pid %s;", filepath.Join(dir, "nginx.pid")))
			var h http.Header
			if tc.xff != "" {
				h = http.Header{"X-Forwarded-For": {tc.xff}}
			}
			d := proxyDialer(&tls.Config{RootCAs: cert.pool}, nil)
			_, remote := proxyRoundTrip(t, b, d, "wss://"+listen+"/", h)
			if got := proxyAddrIP(t, remote); got != proxyClientIP {
				t.Fatalf("handler saw RemoteAddr %v, want IP %v", remote, proxyClientIP)
			}
		})
	}
}

// TestProxyForwardedForDirect connects to wsloop directly from 127.0.0.5
// with a forged X-Forwarded-For: it is believed only when 127.0.0.5 is a
// trusted proxy and WithForwardedFor is on.
func TestProxyForwardedForDirect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		xff     bool
		want    string
	}{
		{"untrusted", "10.0.0.0/8", true, "127.0.0.5"},
		{"trusted", "127.0.0.5/32", true, "203.0.113.9"},
		{"trusted-xff-off", "127.0.0.5/32", false, "127.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startProxyBackend(t, server.WithTrustedProxies(netip.MustParsePrefix(tc.trusted)), server.WithForwardedFor(tc.xff))
			h := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
			_, remote := proxyRoundTrip(t, b, proxyDialer(nil, nil), "ws://"+b.addr+"/", h)
			if got := proxyAddrIP(t, remote); got != netip.MustParseAddr(tc.want) {
				t.Fatalf("handler saw RemoteAddr %v, want IP %s", remote, tc.want)
			}
		})
	}
}

// TestProxyProtocolDirect connects to a WithProxyProtocol server directly
// from 127.0.0.5, with and without a PROXY header of its own making: only a
// trusted peer may (and must) send one.
func TestProxyProtocolDirect(t *testing.T) {
	forged := []byte("PROXY TCP4 203.0.113.9 127.0.0.1 4444 80\r\n")
	for _, tc := range []struct {
		name    string
		trusted string
		header  []byte
		want    string // the address the handler sees; "" means no upgrade
	}{
		{"untrusted-plain", "10.0.0.0/8", nil, "127.0.0.5"},
		{"untrusted-forged", "10.0.0.0/8", forged, ""},
		{"trusted-header", "127.0.0.5/32", forged, "203.0.113.9:4444"},
		{"trusted-missing-header", "127.0.0.5/32", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startProxyBackend(t, server.WithTrustedProxies(netip.MustParsePrefix(tc.trusted)), server.WithProxyProtocol(true))
			d := proxyDialer(nil, tc.header)
			url := "ws://" + b.addr + "/"
			if tc.want == "" {
				c, resp, err := d.Dial(url, nil)
				if err == nil {
					c.Close()
					t.Fatalf("upgrade succeeded, want it refused")
				}
				if resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("dial: %v, response %v; want 400 Bad Request", err, resp)
				}
				b.noOpen(t)
				return
			}
			_, remote := proxyRoundTrip(t, b, d, url, nil)
			if tc.want == "127.0.0.5" {
				if got := proxyAddrIP(t, remote); got != proxyClientIP {
					t.Fatalf("handler saw RemoteAddr %v, want IP %v", remote, proxyClientIP)
				}
			} else if remote.String() != tc.want {
				t.Fatalf("handler saw RemoteAddr %v, want %s", remote, tc.want)
			}
		})
	}
}
