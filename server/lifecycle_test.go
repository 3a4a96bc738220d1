package server_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/server"
)

// TestOpenClosePairUnderResets: clients that reset the connection (RST,
// SO_LINGER 0) at every stage around the handshake — before the request
// is complete, right after sending it (the 101's write then fails inside
// the handshake), right after a frame, right after a close frame — must
// leave OnOpen and OnClose paired and every gauge back at zero. The 101
// case left most connections "open" forever before the fix (OnOpen ran
// for a connection gnet had already closed).
func TestOpenClosePairUnderResets(t *testing.T) {
	var opens, closes atomic.Int64
	h := server.HandlerFuncs{
		Open:    func(*server.Conn) { opens.Add(1) },
		Message: func(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) },
		Closed:  func(*server.Conn, error) { closes.Add(1) },
	}
	srv, addr := startAPI(t, h)
	key := newKey()
	req := []byte(upgradeRequest(addr, key))
	frame := encode(true, 0, ws.OpText, []byte("hello"))
	closeFrame := encode(true, 0, ws.OpClose, closePayload(1000, ""))
	stages := []struct {
		name string
		send [][]byte
	}{
		{"connect", nil},
		{"half-head", [][]byte{req[:len(req)/2]}},
		{"head", [][]byte{req}},
		{"head+frame", [][]byte{append(append([]byte(nil), req...), frame...)}},
		{"head+close", [][]byte{append(append([]byte(nil), req...), closeFrame...)}},
		{"head+frame+close", [][]byte{append(append(append([]byte(nil), req...), frame...), closeFrame...)}},
	}
	const rounds = 100
	for _, st := range stages {
		for range rounds {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range st.send {
				if _, err := c.Write(b); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}
	}
	waitFor(t, 10*time.Second, "every connection closed", func() bool {
		s := srv.Stats()
		return s.TCPConnections == 0 && s.ConnectionsOpen == 0 && opens.Load() == closes.Load()
	})
	s := srv.Stats()
	t.Logf("%d resets: %d OnOpen, %d OnClose; %d accepted upgrades", len(stages)*rounds, opens.Load(), closes.Load(), s.Upgrades[0])
	if opens.Load() == 0 {
		t.Error("no connection was opened: the stages after the head never reached the handler")
	}
}

// TestShutdownWithinContext: Shutdown returns by the end of its context
// whatever the peers and handlers do: here a peer that never answers the
// 1001 and a handler blocked in OnMessage.
func TestShutdownWithinContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	h := server.HandlerFuncs{Message: func(*server.Conn, server.Message) {
		entered <- struct{}{}
		<-release
	}}
	srv := server.New(h)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv.Addr())
	defer c.conn.Close()
	if err := c.rawWrite(encode(true, 0, ws.OpText, []byte("block"))); err != nil {
		t.Fatal(err)
	}
	recv(t, entered, 5*time.Second, "the handler to block")
	const limit = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	took := time.Since(start)
	t.Logf("Shutdown returned %v after %v", err, took)
	if err == nil {
		t.Error("Shutdown reported a clean drain although a peer and a handler held on")
	}
	// The deadline, and the scheduling of one goroutine after it.
	if took > limit+250*time.Millisecond {
		t.Errorf("Shutdown took %v with a %v context", took, limit)
	}
}

// TestPingFloodNonReader: a peer that floods pings and never reads its
// pongs meets the slow-consumer policy like any other reader that falls
// behind: pongs count against the outbound cap. Before, they bypassed it
// and queued without bound.
func TestPingFloodNonReader(t *testing.T) {
	const capBytes = 256 << 10
	for _, tc := range []struct {
		name   string
		policy server.SlowConsumerPolicy
	}{{"close", server.SlowClose}, {"drop", server.SlowDrop}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startAPI(t, server.Echo(), server.WithMaxOutbound(capBytes, tc.policy))
			// No SO_RCVBUF shrinking after connect: with window scaling
			// already agreed, loopback TCP can then stall both ways.
			c := dial(t, addr)
			ping := encode(true, 0, ws.OpPing, make([]byte, 125))
			var batch []byte
			for len(batch) < 64<<10 {
				batch = append(batch, ping...)
			}
			// Enough pings for several times the cap in pongs, on top of
			// what the socket buffers hold (up to ~10 MB on loopback);
			// bounded in count and time.
			deadline := time.Now().Add(20 * time.Second)
			var sent int
			var werr error
			for sent < 64<<20 && time.Now().Before(deadline) {
				_ = c.conn.SetWriteDeadline(deadline)
				var n int
				n, werr = c.conn.Write(batch)
				sent += n
				if werr != nil {
					break
				}
				s := srv.Stats()
				if s.SlowConsumerCloses > 0 || s.SlowConsumerDrops > 0 {
					break
				}
			}
			s := srv.Stats()
			t.Logf("sent %d bytes of pings (%v); slow-consumer closes %d, drops %d", sent, werr, s.SlowConsumerCloses, s.SlowConsumerDrops)
			switch tc.policy {
			case server.SlowClose:
				waitFor(t, 5*time.Second, "a slow-consumer close", func() bool { return srv.Stats().SlowConsumerCloses == 1 })
			case server.SlowDrop:
				if s.SlowConsumerDrops == 0 {
					t.Fatal("no pong was dropped: the flood's pongs were not held to the cap")
				}
			}
		})
	}
}
