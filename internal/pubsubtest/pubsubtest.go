// Package pubsubtest holds what the tests of several packages need to run
// a pubsub hub over a real server: the server itself, a dialer whose small
// receive buffer makes a client that stops reading back the server up
// quickly, and a reader of the server's JSON messages. For tests only.
package pubsubtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// Start serves hub on a free loopback port, speaking both wire forms, with
// opts; at the test's end the server shuts down, then the hub closes.
func Start(t testing.TB, hub *pubsub.Hub, opts ...server.Option) *server.Server {
	t.Helper()
	opts = append([]server.Option{server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary)}, opts...)
	srv := server.New(hub, opts...)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hub.Close()
	})
	return srv
}

// SmallReceiveBuffer dials with a 16 KiB receive buffer (a net.Dialer's
// DialContext shape), so that a client that stops reading makes the
// server's side back up quickly.
func SmallReceiveBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	return d.DialContext(ctx, network, addr)
}

// ReadJSON reads one text message of the server from r (the connection,
// or the dialer's buffered reader in front of it) within timeout (0: no
// new deadline) and decodes it into v; it fails the test otherwise.
func ReadJSON(t testing.TB, conn net.Conn, r io.Reader, timeout time.Duration, v any) {
	t.Helper()
	if timeout > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
	}
	b, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{r, conn})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}
