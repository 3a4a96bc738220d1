//go:build linux

package impair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/server"
)

// startServer serves server.Echo on the host side of the link. Clients in
// the host reach it over loopback, clients in the namespace through the
// link.
func startServer(t testing.TB, l *Link, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	srv := server.New(server.Echo(), opts...)
	if err := srv.Start(net.JoinHostPort(l.HostAddr().String(), "0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, "ws://" + srv.Addr() + "/"
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// message returns the i-th test message: its index, then 1 to 8000 bytes
// that depend on i (so messages of several TCP segments are common).
func message(i int) []byte {
	b := fmt.Appendf(nil, "%06d:", i)
	n := 1 + (i*7919)%8000
	for j := range n {
		b = append(b, byte('a'+(i+j)%26))
	}
	return b
}

// impairedWS is the impairment of the WebSocket echo tests.
var impairedWS = Config{
	Loss: 0.03, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
	Reorder: 0.10, Duplicate: 0.01,
}

// TestWebSocketEcho echoes messages through the impaired link from the
// wsloop client and from gorilla/websocket, both dialing from the
// namespace: every message must come back complete and in order.
func TestWebSocketEcho(t *testing.T) {
	const n = 300
	l := newLink(t, impairedWS)
	_, url := startServer(t, l)

	t.Run("wsloop", func(t *testing.T) {
		ch := make(chan client.Message, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, url, client.WithNetDial(l.DialContext), client.WithChannel(ch),
			client.WithoutReconnect())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range n {
			if err := c.Send(client.Binary, message(i), nil); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		timeout := time.After(40 * time.Second)
		for i := range n {
			select {
			case m := <-ch:
				if want := message(i); !bytes.Equal(m.Data, want) {
					t.Fatalf("message %d: got %d bytes %.10q, want %d bytes %.10q", i, len(m.Data), m.Data, len(want), want)
				}
			case <-c.Done():
				t.Fatalf("client stopped after %d messages", i)
			case <-timeout:
				t.Fatalf("timed out after %d of %d messages", i, n)
			}
		}
	})

	t.Run("gorilla", func(t *testing.T) {
		d := websocket.Dialer{NetDialContext: l.DialContext, HandshakeTimeout: 10 * time.Second}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(40 * time.Second))
		_ = ws.SetWriteDeadline(time.Now().Add(40 * time.Second))
		werr := make(chan error, 1)
		go func() {
			for i := range n {
				if err := ws.WriteMessage(websocket.BinaryMessage, message(i)); err != nil {
					werr <- fmt.Errorf("write %d: %w", i, err)
					return
				}
			}
			werr <- nil
		}()
		for i := range n {
			_, got, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			if want := message(i); !bytes.Equal(got, want) {
				t.Fatalf("message %d: got %d bytes %.10q, want %d bytes %.10q", i, len(got), got, len(want), want)
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	})

	st := l.Stats()
	t.Logf("stats: %+v", st)
	if st.ToHost.Lost+st.ToNS.Lost == 0 || st.ToHost.Reordered+st.ToNS.Reordered == 0 {
		t.Errorf("the link impaired nothing: %+v", st)
	}
}

// echoOnce sends p on c and waits for it on ch.
func echoOnce(t testing.TB, c *client.Client, ch <-chan client.Message, p string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		err := c.Send(client.Text, []byte(p), nil)
		if err == nil {
			break
		}
		if !errors.Is(err, client.ErrNotConnected) {
			t.Fatalf("Send: %v", err)
		}
		select {
		case <-deadline:
			t.Fatalf("Send %q: still not connected", p)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for {
		select {
		case m := <-ch:
			if string(m.Data) == p {
				return
			}
		case <-deadline:
			t.Fatalf("no echo of %q", p)
		}
	}
}

// TestHalfOpenServer black-holes the link under clients that do not ping:
// the server's heartbeat must find the dead connections (1011) while a
// loopback client of the same server carries on, and the link's clients,
// which heard nothing, still believe they are connected.
func TestHalfOpenServer(t *testing.T) {
	const linked = 3
	l := newLink(t, Config{Delay: 2 * time.Millisecond})
	srv, url := startServer(t, l,
		server.WithPingInterval(300*time.Millisecond), server.WithPongTimeout(500*time.Millisecond))

	var closes atomic.Int64
	for i := range linked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, url, client.WithNetDial(l.DialContext),
			client.WithHeartbeat(0, 0), client.WithoutReconnect(),
			client.OnClose(func(*client.Client, error) { closes.Add(1) }))
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
	}
	local := make(chan client.Message, 16)
	lc, err := client.Dial(context.Background(), url, client.WithChannel(local), client.WithoutReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	waitFor(t, "all connections", 5*time.Second, func() bool { return srv.Connections() == linked+1 })
	// A round of pings and pongs across the link before it goes dark.
	time.Sleep(700 * time.Millisecond)
	if got := srv.Connections(); got != linked+1 {
		t.Fatalf("%d connections before the blackhole, want %d", got, linked+1)
	}

	l.Blackhole(true)
	waitFor(t, "the server to drop the half-open connections", 10*time.Second,
		func() bool { return srv.Connections() == 1 })
	if got := srv.Stats().Closes["1011"]; got < linked {
		t.Errorf("server closed %d connections with 1011, want %d", got, linked)
	}
	if n := closes.Load(); n != 0 {
		t.Errorf("%d link clients noticed the close through the blackhole", n)
	}
	echoOnce(t, lc, local, "still here")
	if st := l.Stats(); st.ToNS.Blackholed == 0 {
		t.Errorf("nothing black-holed: %+v", st)
	}
}

// TestHalfOpenClient black-holes the link under a wsloop client with a
// short heartbeat: it must report the missing pong, fail to reconnect
// while the link is dark, then reconnect by itself and echo again.
func TestHalfOpenClient(t *testing.T) {
	l := newLink(t, Config{Delay: 2 * time.Millisecond})
	_, url := startServer(t, l) // default heartbeat: the server does not notice in time

	var (
		mu              sync.Mutex
		closeErrs, errs []error
		opens           atomic.Int64
	)
	msgs := make(chan client.Message, 16)
	c := client.New(url, client.WithNetDial(l.DialContext), client.WithChannel(msgs),
		client.WithHeartbeat(200*time.Millisecond, 300*time.Millisecond),
		client.WithReconnect(50*time.Millisecond, 200*time.Millisecond),
		client.WithDialTimeout(500*time.Millisecond),
		client.OnOpen(func(*client.Client) { opens.Add(1) }),
		client.OnClose(func(_ *client.Client, err error) { mu.Lock(); closeErrs = append(closeErrs, err); mu.Unlock() }),
		client.OnError(func(_ *client.Client, err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }),
	)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the first connection", 10*time.Second, func() bool { return opens.Load() == 1 })
	echoOnce(t, c, msgs, "before")

	// Counts from here on: a loaded machine may have cost a connection
	// before the blackhole.
	mu.Lock()
	nClose, nErr := len(closeErrs), len(errs)
	mu.Unlock()
	nOpen := opens.Load()
	l.Blackhole(true)
	waitFor(t, "the heartbeat to fail", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(closeErrs) > nClose
	})
	mu.Lock()
	ended := closeErrs[nClose]
	mu.Unlock()
	if !errors.Is(ended, client.ErrPongTimeout) {
		t.Errorf("connection ended with %v, want %v", ended, client.ErrPongTimeout)
	}
	waitFor(t, "a failed reconnection", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > nErr
	})
	if n := opens.Load() - nOpen; n != 0 {
		t.Fatalf("%d connections opened through the blackhole", n)
	}

	l.Blackhole(false)
	waitFor(t, "the reconnection", 10*time.Second, func() bool { return opens.Load() > nOpen && c.Connected() })
	echoOnce(t, c, msgs, "after")
}
