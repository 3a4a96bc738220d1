// Command gorilla is the gorilla/websocket peer server for wsbench: the
// classic goroutine-per-connection echo server (net/http, Upgrader, a
// ReadMessage/WriteMessage loop in the handler goroutine).
//
// Echoes every text and binary message on every path with the same type;
// pings are answered by gorilla's default ping handler (pong with the same
// payload) and a close frame by its default close handler (close with the
// same code). permessage-deflate is off; the read limit is -max-message.
// -reuseport is supported (the listener is ours). With -mode pubsub it
// serves topics through a hub instead (pubsub.go).
package main

import (
	"log"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

func main() {
	cfg := peer.ParseFlags("gorilla")
	up := websocket.Upgrader{
		// Library default buffer sizes; accept any Origin (the load
		// generator is not a browser) and never negotiate compression.
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: false,
	}
	limit := int64(cfg.MaxMessage)
	if cfg.Mode == peer.ModePubSub {
		h := newHub()
		go h.run()
		if _, err := topics.ServeAdmin(cfg.Admin, h.publishHTTP); err != nil {
			peer.Fatalf("%v", err)
		}
		peer.ServeHTTP(cfg, h.serveWS(&up, limit))
		return
	}
	peer.ServeHTTP(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			// Upgrade has already answered with an HTTP error.
			log.Printf("upgrade %s: %v", r.RemoteAddr, err)
			return
		}
		defer c.Close()
		c.SetReadLimit(limit)
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
}
