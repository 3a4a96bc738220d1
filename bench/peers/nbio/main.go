// Command nbio is the lesismal/nbio peer server for wsbench, in nbio's
// non-blocking mode: an nbhttp.Engine with IOMod IOModNonBlocking (epoll
// event loops parse HTTP and WebSocket frames; no goroutine per connection)
// and the nbhttp/websocket Upgrader with an OnMessage callback.
//
// Echoes every text and binary message on every path with the same type;
// nbio's default handlers answer pings with pongs carrying the same payload
// and echo the close frame's code and reason. Text messages are checked for
// valid UTF-8 (nbio's default).
//
// Settings that differ from nbio's defaults, and why:
//   - compression disabled and MessageLengthLimit = -max-message (the
//     contract for every peer);
//   - Upgrader.KeepaliveTime = 0: nbio's default closes a WebSocket
//     connection that has received nothing for 120 s, which no other peer
//     does; idle connections must survive any hold time;
//   - Config.ReleaseWebsocketPayload = true: the payload buffer goes back
//     to nbio's pool after OnMessage returns (the echo is written before
//     then). nbio's own DefaultEngine sets this; it is the counterpart of
//     gws's message.Close().
//
// -reuseport is supported (nbhttp.Config.Listen hands nbio our listener).
// With -mode pubsub it serves topics instead of echoing (pubsub.go).
package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

func main() {
	cfg := peer.ParseFlags("nbio")
	// nbio logs to stdout by default; stdout carries only the listening line.
	logging.Output = os.Stderr
	logging.SetLevel(logging.LevelWarn)

	up := websocket.NewUpgrader()
	up.EnableCompression(false)
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.MessageLengthLimit = cfg.MaxMessage
	up.KeepaliveTime = 0
	if cfg.Mode == peer.ModePubSub {
		ps := newPubSub(up)
		if _, err := topics.ServeAdmin(cfg.Admin, ps.publish); err != nil {
			peer.Fatalf("%v", err)
		}
	} else {
		up.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
			_ = c.WriteMessage(mt, data)
		})
	}

	// Bind before starting the engine: when its own Listen call fails,
	// nbio v1.6.7's Engine.Start can hang in Engine.Stop instead of
	// returning the error. The engine is handed this listener once.
	ln, err := peer.Listen(cfg)
	if err != nil {
		peer.Fatalf("listen: %v", err)
	}
	handed := false
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{ln.Addr().String()},
		IOMod:                   nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload: true,
		Listen: func(string, string) (net.Listener, error) {
			if handed {
				return nil, errors.New("nbio asked for a second listener")
			}
			handed = true
			return ln, nil
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Upgrade answers a failed handshake with an HTTP error itself.
			_, _ = up.Upgrade(w, r, nil)
		}),
	})
	up.Engine = engine
	if err := engine.Start(); err != nil {
		peer.Fatalf("start: %v", err)
	}
	peer.Ready(ln.Addr())
	peer.WaitSignal()
	peer.Exit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = engine.Shutdown(ctx)
	})
}
