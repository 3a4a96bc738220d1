package server_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// TestBroadcastOrder: every subscriber gets every broadcast, in order, and
// interleaved with the same connection's own Sends in call order.
func TestBroadcastOrder(t *testing.T) {
	const clients, rounds = 40, 200
	var mu sync.Mutex
	var conns []server.Conn
	opened := make(chan struct{}, clients)
	srv, addr := startAPI(t, server.HandlerFuncs{Open: func(c server.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		opened <- struct{}{}
	}})
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = dial(t, addr)
		<-opened
	}
	mu.Lock()
	all := append([]server.Conn(nil), conns...)
	mu.Unlock()
	msg := make([]byte, 8)
	for r := range rounds {
		binary.BigEndian.PutUint32(msg, uint32(2*r))
		srv.Broadcast(server.Binary, msg, all)
		binary.BigEndian.PutUint32(msg, uint32(2*r+1))
		for _, c := range all {
			if err := c.Send(server.Binary, msg, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range cs {
		for want := range uint32(2 * rounds) {
			f, err := c.readFrame(30 * time.Second)
			if err != nil {
				t.Fatalf("client %d: message %d: %v", i, want, err)
			}
			if f.op != ws.OpBinary || len(f.payload) != 8 || binary.BigEndian.Uint32(f.payload) != want {
				t.Fatalf("client %d: message %d: %s", i, want, f)
			}
		}
	}
}
