package client_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/server"
)

// startEcho serves server.Echo on a loopback port until cleanup.
func startEcho(t testing.TB, addr string, opts ...server.Option) *server.Server {
	t.Helper()
	srv := server.New(server.Echo(), opts...)
	if err := srv.Start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(srv) })
	return srv
}

func shutdown(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEchoManySenders(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	const senders, each = 16, 200
	got := make(map[string]int)
	var mu sync.Mutex
	var n atomic.Int64
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.OnMessage(func(_ *client.Client, m client.Message) {
			mu.Lock()
			got[string(m.Data)]++ // string() copies: m.Data is only valid here
			mu.Unlock()
			n.Add(1)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var completed, failed atomic.Int64
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for i := range each {
				buf = fmt.Appendf(buf[:0], "g%d-%d", g, i)
				err := c.Send(client.Text, buf, func(err error) {
					if err != nil {
						failed.Add(1)
					}
					completed.Add(1)
				})
				if err != nil {
					t.Error(err)
					return
				}
				buf = append(buf[:0], "garbage"...) // Send copied p
			}
		})
	}
	wg.Wait()
	waitFor(t, "echoes", 10*time.Second, func() bool { return n.Load() == senders*each })
	waitFor(t, "completions", time.Second, func() bool { return completed.Load() == senders*each })
	if failed.Load() != 0 {
		t.Fatalf("%d sends failed", failed.Load())
	}
	for g := range senders {
		for i := range each {
			if k := fmt.Sprintf("g%d-%d", g, i); got[k] != 1 {
				t.Fatalf("%s echoed %d times", k, got[k])
			}
		}
	}
}

func TestEchoOrderAndSizes(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	ch := make(chan client.Message, 16)
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/", client.WithChannel(ch))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{0, 1, 125, 126, 4095, 4096, 65535, 65536, 1 << 20} {
		p := bytes.Repeat([]byte{byte(size)}, size)
		if err := c.Send(client.Binary, p, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			if m.Type != client.Binary || !bytes.Equal(m.Data, p) {
				t.Fatalf("size %d: got %d bytes type %d", size, len(m.Data), m.Type)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("size %d: no echo", size)
		}
	}
}
