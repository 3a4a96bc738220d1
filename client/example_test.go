package client_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/wsloop/wsloop/client"
)

// A ticker subscriber: it reconnects by itself, resubscribes from the
// last price it saw, and says when the server could not fill the gap.
func Example_tickerSubscriber() {
	c := client.New("ws://127.0.0.1:8080/",
		client.WithSubprotocols(client.SubprotocolBinary), // publications decoded without allocation
		client.WithHeartbeat(15*time.Second, 10*time.Second),
		client.WithReconnect(100*time.Millisecond, 10*time.Second),
		client.OnClose(func(_ *client.Client, err error) { log.Printf("disconnected: %v (reconnecting)", err) }),
	)
	for _, sym := range []string{"md.AAPL", "md.MSFT"} {
		_ = c.Subscribe(sym, client.SubscribeOptions{
			OnPublication: func(_ *client.Client, p *client.Publication) {
				// p.Data is only valid here: decode or copy it.
				fmt.Printf("%s #%d %s\n", p.Topic, p.Seq, p.Data)
			},
			OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
				if ev.Recovery == client.RecoveryFailed {
					log.Printf("%s: missed updates, take a fresh snapshot", ev.Topic)
				}
			},
		})
	}
	if err := c.Start(); err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	time.Sleep(time.Minute)
}

// A pool of N connections driven from a few worker goroutines: each Send
// is safe from any goroutine, copies its payload and reports completion.
func Example_pool() {
	const N, workers = 1000, 8
	conns := make([]*client.Client, N)
	for i := range conns {
		c, err := client.Dial(context.Background(), "ws://127.0.0.1:8080/",
			client.OnMessage(func(_ *client.Client, m client.Message) {
				_ = m.Data // valid only during the callback
			}))
		if err != nil {
			log.Fatal(err)
		}
		conns[i] = c
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				err := conns[i%N].Send(client.Text, []byte(`{"op":"ping"}`), func(err error) {
					if err != nil {
						log.Printf("conn %d: not sent: %v", i%N, err)
					}
				})
				if err != nil { // ErrNotConnected while it reconnects, ErrQueueFull
					log.Printf("conn %d: %v", i%N, err)
				}
			}
		})
	}
	for i := range 100 * N {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, c := range conns {
		_ = c.Close()
	}
}
