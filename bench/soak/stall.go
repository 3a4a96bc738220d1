package soak

import (
	"context"
	"net"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsloop/wsloop/pubsub/wire"
)

// stalledRcvBuf is the receive buffer of the client that stops reading,
// set before connecting so the window it advertises stays small.
const stalledRcvBuf = 4096

// dialStalled connects a WebSocket client with a tiny receive buffer that
// subscribes to topics and never reads again. The caller closes it.
func dialStalled(ctx context.Context, addr string, topics ...string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stalledRcvBuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	wd := ws.Dialer{
		Protocols: []string{"wsloop.json"},
		NetDial:   func(ctx context.Context, network, a string) (net.Conn, error) { return d.DialContext(ctx, network, a) },
		Timeout:   5 * time.Second,
	}
	conn, _, _, err := wd.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		req, _ := wire.AppendRequest(nil, &wire.Request{Op: wire.OpSubscribe, Topic: t})
		if err := wsutil.WriteClientText(conn, req); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}
