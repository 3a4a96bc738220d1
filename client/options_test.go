package client_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/internal/testpki"
	"github.com/wsloop/wsloop/server"
)

// wss with a TLS config, and headers reaching the server.
func TestTLSAndHeaders(t *testing.T) {
	pki, err := testpki.New()
	if err != nil {
		t.Fatal(err)
	}
	var gotHeader atomic.Value
	srv := server.New(server.HandlerFuncs{
		Open:    func(c *server.Conn) { gotHeader.Store(c.Request().Header("X-Token")) },
		Message: func(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) },
	}, server.WithTLS("127.0.0.1:0", pki.Server))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(srv) })
	ch := make(chan client.Message, 1)
	c, err := client.Dial(context.Background(), "wss://"+srv.TLSAddr()+"/",
		client.WithTLSConfig(&tls.Config{RootCAs: pki.Roots}),
		client.WithHeader(http.Header{"X-Token": {"s3cret"}}),
		client.WithChannel(ch))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.Send(client.Text, []byte("over tls"), nil)
	select {
	case m := <-ch:
		if string(m.Data) != "over tls" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no echo")
	}
	if gotHeader.Load() != "s3cret" {
		t.Fatalf("header %v", gotHeader.Load())
	}
}

func TestMaxMessageSize(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	closed := make(chan error, 1)
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithMaxMessageSize(1000), client.WithoutReconnect(),
		client.OnClose(func(_ *client.Client, err error) { closed <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.Send(client.Binary, make([]byte, 2000), nil)
	select {
	case err := <-closed:
		if ce, ok := err.(*client.CloseError); !ok || ce.Code != 1009 {
			t.Fatalf("closed with %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("not closed")
	}
}

// Unsubscribe stops publications; a refused subscription is reported.
func TestUnsubscribeAndRefusal(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", nil)
	var n atomic.Int64
	events := make(chan client.SubscribeEvent, 4)
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/", client.WithSubprotocols(client.SubprotocolJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := client.SubscribeOptions{
		OnSubscribed:  func(_ *client.Client, ev client.SubscribeEvent) { events <- ev },
		OnPublication: func(*client.Client, *client.Publication) { n.Add(1) },
	}
	if err := c.Subscribe("md.U", opts); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("md.U", opts); err != client.ErrSubscribed {
		t.Fatalf("second Subscribe: %v", err)
	}
	<-events
	_, _ = hub.Publish("md.U", "", []byte(`{"a":1}`))
	waitFor(t, "publication", 2*time.Second, func() bool { return n.Load() == 1 })
	if err := c.Unsubscribe("md.U"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to drop the subscription", 2*time.Second, func() bool { return hub.Stats().Subscriptions == 0 })
	_, _ = hub.Publish("md.U", "", []byte(`{"a":2}`))
	// The refusal of a bad subscription goes through the connection's
	// queue after the publication would have: once it is here, a
	// publication wrongly sent would be too.
	if err := c.Subscribe("bad topic", opts); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if se, ok := ev.Err.(*client.ServerError); !ok || se.Code != "bad_topic" {
			t.Fatalf("refusal: %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no refusal")
	}
	if n.Load() != 1 {
		t.Fatalf("%d publications after Unsubscribe", n.Load())
	}
}

// WithNetDial's dialer is used for every connection: here it picks the
// source address, which the echo server's side of the socket shows.
func TestNetDialSourceAddress(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	var dials atomic.Int64
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}
	d := net.Dialer{LocalAddr: src}
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithNetDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				if got := nc.LocalAddr().(*net.TCPAddr).IP; !got.Equal(src.IP) {
					t.Errorf("local address %v, want %v", got, src.IP)
				}
			}
			return nc, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if dials.Load() != 1 {
		t.Fatalf("%d dials through WithNetDial, want 1", dials.Load())
	}
	done := make(chan error, 1)
	if err := c.Send(client.Text, []byte("x"), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
