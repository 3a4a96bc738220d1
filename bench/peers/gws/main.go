// Command gws is the lxzan/gws peer server for wsbench, using gws's
// event-driven handler API (OnOpen/OnMessage/OnPing/OnClose) and its own
// server (gws.NewServer + RunListener: it reads the HTTP upgrade request
// itself, then runs each connection's ReadLoop in that connection's
// goroutine).
//
// Echoes every text and binary message on every path with the same type.
// OnPing answers with a pong carrying the ping's payload (gws's built-in
// handler would send an empty pong); gws itself echoes the close code.
// ParallelEnabled is off (the library default, and what its echo example
// uses), so messages of one connection are handled in order. Compression is
// off; ReadMaxPayloadSize and WriteMaxPayloadSize are -max-message; all else
// is the library default. -reuseport is supported (RunListener takes our
// listener). With -mode pubsub it serves topics instead (pubsub.go).
package main

import (
	"fmt"
	"log"
	"net"

	"github.com/lxzan/gws"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

type echo struct{ gws.BuiltinEventHandler }

func (echo) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (echo) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

type stderrLogger struct{}

func (stderrLogger) Error(v ...any) { log.Print(fmt.Sprint(v...)) }

func main() {
	cfg := peer.ParseFlags("gws")
	ln, err := peer.Listen(cfg)
	if err != nil {
		peer.Fatalf("listen: %v", err)
	}
	var handler gws.Event = echo{}
	if cfg.Mode == peer.ModePubSub {
		ps := newPubSub()
		if _, err := topics.ServeAdmin(cfg.Admin, ps.publish); err != nil {
			peer.Fatalf("%v", err)
		}
		handler = ps
	}
	srv := gws.NewServer(handler, &gws.ServerOption{
		ParallelEnabled:     false,
		ReadMaxPayloadSize:  cfg.MaxMessage,
		WriteMaxPayloadSize: cfg.MaxMessage,
		PermessageDeflate:   gws.PermessageDeflate{Enabled: false},
		Logger:              stderrLogger{},
	})
	// gws's default OnError only logs; when reading the HTTP request fails
	// it would leave the connection open, so close it here too. The ordinary
	// end of a connection, and the listener closing at shutdown, are not
	// logged.
	srv.OnError = func(conn net.Conn, err error) {
		if conn != nil {
			_ = conn.Close()
		}
		if !peer.IsClosedOrEOF(err) {
			log.Print(err) // gws errors carry their own "gws: " prefix
		}
	}
	go func() { _ = srv.RunListener(ln) }()
	peer.Ready(ln.Addr())
	peer.WaitSignal()
	// RunListener keeps calling Accept after the listener is closed (each
	// failure goes to OnError, which is silent for net.ErrClosed); the
	// process exits right after.
	peer.Exit(func() { _ = ln.Close() })
}
