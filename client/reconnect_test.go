package client_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/server"
)

// A peer that vanishes without FIN is found by the missing pong, and the
// client reconnects.
func TestHeartbeatHalfOpen(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	px := newProxy(t, srv.Addr())
	var opens, pongTimeouts atomic.Int64
	c, err := client.Dial(context.Background(), "ws://"+px.Addr()+"/",
		client.WithHeartbeat(100*time.Millisecond, 200*time.Millisecond),
		client.WithDialTimeout(300*time.Millisecond), // attempts into the black hole time out
		client.WithReconnect(10*time.Millisecond, 50*time.Millisecond),
		client.OnOpen(func(*client.Client) { opens.Add(1); t.Logf("open") }),
		client.OnError(func(_ *client.Client, err error) { t.Logf("attempt: %v", err) }),
		client.OnClose(func(_ *client.Client, err error) {
			t.Logf("close: %v", err)
			if errors.Is(err, client.ErrPongTimeout) {
				pongTimeouts.Add(1)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "open", time.Second, func() bool { return opens.Load() == 1 })
	// The heartbeat keeps a healthy but silent connection up.
	time.Sleep(600 * time.Millisecond)
	if pongTimeouts.Load() != 0 || opens.Load() != 1 {
		t.Fatalf("healthy connection dropped: opens %d, pong timeouts %d", opens.Load(), pongTimeouts.Load())
	}
	px.Freeze(true)
	start := time.Now()
	waitFor(t, "pong timeout", 2*time.Second, func() bool { return pongTimeouts.Load() >= 1 })
	t.Logf("half-open connection found after %v", time.Since(start))
	px.Freeze(false)
	waitFor(t, "reconnection", 2*time.Second, func() bool { return opens.Load() >= 2 && c.Connected() })
}

// The server shuts down and comes back on the same port: the client
// retries with backoff and reconnects.
func TestReconnectAfterRestart(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	addr := srv.Addr()
	var opens, closes, dialErrors atomic.Int64
	got := make(chan string, 16)
	c, err := client.Dial(context.Background(), "ws://"+addr+"/",
		client.WithReconnect(20*time.Millisecond, 200*time.Millisecond),
		client.WithDialTimeout(500*time.Millisecond), // a draining server may not answer
		client.OnOpen(func(*client.Client) { opens.Add(1) }),
		client.OnClose(func(*client.Client, error) { closes.Add(1) }),
		client.OnError(func(*client.Client, error) { dialErrors.Add(1) }),
		client.OnMessage(func(_ *client.Client, m client.Message) { got <- string(m.Data) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	shutdown(srv)
	waitFor(t, "close", 3*time.Second, func() bool { return closes.Load() == 1 })
	if err := c.Send(client.Text, []byte("x"), nil); !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("Send while disconnected: %v", err)
	}
	waitFor(t, "failed attempts", 3*time.Second, func() bool { return dialErrors.Load() >= 3 })
	var srv2 *server.Server
	waitFor(t, "restart on the same port", 3*time.Second, func() bool {
		srv2 = server.New(server.Echo())
		return srv2.Start(addr) == nil
	})
	t.Cleanup(func() { shutdown(srv2) })
	waitFor(t, "reconnection", 3*time.Second, func() bool { return opens.Load() == 2 && c.Connected() })
	if err := c.Send(client.Text, []byte("again"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "again" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no echo after reconnection")
	}
	t.Logf("%d failed attempts while the server was down", dialErrors.Load())
}

func TestWithoutReconnect(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/", client.WithoutReconnect())
	if err != nil {
		t.Fatal(err)
	}
	shutdown(srv)
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("client did not stop")
	}
}

func TestCloseStops(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	var closeErr atomic.Value
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.OnClose(func(_ *client.Client, err error) { closeErr.Store(err) }))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("client did not stop")
	}
	var ce *client.CloseError
	if err, _ := closeErr.Load().(error); !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("close error %v", closeErr.Load())
	}
	if err := c.Send(client.Text, nil, nil); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}
