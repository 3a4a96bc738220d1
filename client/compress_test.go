package client_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/server"
)

func TestCompressionEcho(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0", server.WithCompression(1, 0))
	ch := make(chan client.Message, 4)
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithCompression(1, -1), client.WithChannel(ch))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() {
		t.Fatal("permessage-deflate not negotiated")
	}
	for _, p := range [][]byte{
		[]byte("hi"),
		bytes.Repeat([]byte("compressible "), 10000),
		bytes.Repeat([]byte{0xab}, 70000),
	} {
		if err := c.Send(client.Binary, p, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			if !bytes.Equal(m.Data, p) {
				t.Fatalf("echo of %d bytes differs (%d bytes)", len(p), len(m.Data))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
	}
}

// Without the server's consent the connection is plain.
func TestCompressionDeclined(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/", client.WithCompression(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Compressed() {
		t.Fatal("compression without the server's consent")
	}
}

// Publications arrive compressed from a hub and decode the same.
func TestCompressionTopics(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", nil, server.WithCompression(1, -1))
	got := make(chan string, 8)
	subscribed := make(chan struct{})
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithCompression(1, 0), client.WithSubprotocols(client.SubprotocolBinary))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() {
		t.Fatal("not negotiated")
	}
	_ = c.Subscribe("md.Z", client.SubscribeOptions{
		OnSubscribed:  func(*client.Client, client.SubscribeEvent) { close(subscribed) },
		OnPublication: func(_ *client.Client, p *client.Publication) { got <- string(p.Data) },
	})
	<-subscribed
	want := string(bytes.Repeat([]byte("px=101.5;"), 100))
	if _, err := hub.Publish("md.Z", "", []byte(want)); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != want {
			t.Fatalf("got %d bytes", len(s))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no publication")
	}
}
