package interop

// wss interop: gorilla/websocket, coder/websocket and Python's websockets
// against the server's built-in TLS listener (server.WithTLS), each trusting
// a CA the test makes.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/wsloop/wsloop/internal/testpki"
	"github.com/wsloop/wsloop/server"
)

// wssPKI is a throwaway CA and a server certificate it signed for
// 127.0.0.1 and localhost.
type wssPKI struct {
	server *tls.Config    // for server.WithTLS
	roots  *x509.CertPool // for Go clients
	caPEM  []byte         // for other clients
}

func newWSSPKI(t testing.TB) *wssPKI {
	t.Helper()
	p, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	return &wssPKI{server: p.Server, roots: p.Roots, caPEM: p.CAPEM}
}

// startWSSEcho starts an echo server with a wss listener and returns the
// wss:// URL. The server is shut down when the test ends.
func startWSSEcho(t testing.TB, p *wssPKI) string {
	t.Helper()
	srv := server.New(server.Echo(), server.WithMaxMessageSize(maxMessage), server.WithTLS("127.0.0.1:0", p.server))
	serve(t, srv)
	return "wss://" + srv.TLSAddr() + "/"
}

func TestTLSGorillaEcho(t *testing.T) {
	p := newWSSPKI(t)
	url := startWSSEcho(t, p)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{RootCAs: p.roots}}
	c := gorillaDial(t, url, d)
	for _, n := range testSizes {
		t.Run("text/"+sizeName(n), func(t *testing.T) {
			gorillaEcho(t, c, websocket.TextMessage, makeText(n))
		})
		t.Run("binary/"+sizeName(n), func(t *testing.T) {
			gorillaEcho(t, c, websocket.BinaryMessage, makeBinary(n, byte(n)))
		})
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after sending 1000: %v, want the server's 1000", err)
	}
}

func TestTLSCoderEcho(t *testing.T) {
	p := newWSSPKI(t)
	url := startWSSEcho(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots}}}
	c, _, err := coder.Dial(ctx, url, &coder.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("coder dial %s: %v", url, err)
	}
	c.SetReadLimit(2 * maxMessage)
	t.Cleanup(func() { _ = c.CloseNow() })
	for _, n := range testSizes {
		t.Run("text/"+sizeName(n), func(t *testing.T) {
			coderEcho(t, c, coder.MessageText, makeText(n))
		})
		t.Run("binary/"+sizeName(n), func(t *testing.T) {
			coderEcho(t, c, coder.MessageBinary, makeBinary(n, byte(n)))
		})
	}
	if err := c.Close(coder.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}

func TestTLSPythonWebsockets(t *testing.T) {
	needPython(t, "websockets")
	p := newWSSPKI(t)
	url := startWSSEcho(t, p)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	runScriptURL(t, url, systemPython, "websockets_client.py", "--ca", caFile)
}
