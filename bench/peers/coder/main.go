// Command coder is the coder/websocket peer server for wsbench: goroutine per
// connection (net/http handler, websocket.Accept, a Read/Write loop).
//
// Echoes every text and binary message on every path with the same type;
// coder/websocket answers pings with pongs and echoes the close frame's code
// and reason while reading. Compression is disabled; the read limit is
// -max-message (coder's default would be 32 KiB). -reuseport is supported.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/coder/websocket"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
)

func main() {
	cfg := peer.ParseFlags("coder")
	if cfg.Mode != peer.ModeEcho {
		peer.Fatalf("-mode %s: this peer only echoes", cfg.Mode)
	}
	opts := &websocket.AcceptOptions{
		// The load generator is not a browser: accept any Origin.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	}
	limit := int64(cfg.MaxMessage)
	peer.ServeHTTP(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			// Accept has already answered with an HTTP error.
			log.Printf("accept %s: %v", r.RemoteAddr, err)
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(limit)
		// Background, not r.Context(): the connection lives until the peer
		// closes it, with no deadline, as on every other peer.
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}))
}
