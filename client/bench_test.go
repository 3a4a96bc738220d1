package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/pubsub"
)

// BenchmarkEchoRoundTrip: one 100-byte message to an in-process echo
// server and back (allocations include the server's).
func BenchmarkEchoRoundTrip(b *testing.B) {
	srv := startEcho(b, "127.0.0.1:0")
	got := make(chan struct{}, 1)
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.OnMessage(func(*client.Client, client.Message) { got <- struct{}{} }))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(client.Binary, p, nil); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkPublications: 100-byte publications received and decoded
// (wsloop.bin) by one subscriber; allocations include the hub's.
func BenchmarkPublications(b *testing.B) {
	hub, srv := startHub(b, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(16, time.Minute)})
	got := make(chan struct{}, 1024)
	subscribed := make(chan struct{})
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithSubprotocols(client.SubprotocolBinary))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.Subscribe("md.B", client.SubscribeOptions{
		OnSubscribed:  func(*client.Client, client.SubscribeEvent) { close(subscribed) },
		OnPublication: func(*client.Client, *client.Publication) { got <- struct{}{} },
	})
	<-subscribed
	p := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hub.Publish("md.B", "k", p); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}
