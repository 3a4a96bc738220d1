package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// A peer that stops reading: the queue is bounded (ErrQueueFull), and the
// write timeout fails the connection, failing what was queued.
func TestStuckPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := ws.Upgrade(c); err != nil {
				_ = c.Close()
				continue
			}
			// Never read again; keep c open.
			defer c.Close()
		}
	}()
	var closed atomic.Value
	c, err := client.Dial(context.Background(), "ws://"+ln.Addr().String()+"/",
		client.WithMaxQueuedBytes(256<<10),
		client.WithWriteTimeout(time.Second),
		client.WithoutReconnect(),
		client.OnClose(func(_ *client.Client, err error) { closed.Store(err) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Several goroutines send until the socket buffers are full: one of
	// them ends up writing (blocked until the write timeout), the others
	// can only queue, up to the limit.
	var failed, queueFull atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	msg := make([]byte, 16<<10)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := c.Send(client.Binary, msg, func(err error) {
					if err != nil {
						failed.Add(1)
					}
				})
				if errors.Is(err, client.ErrQueueFull) {
					queueFull.Add(1)
					time.Sleep(time.Millisecond)
				} else if err != nil {
					return
				}
			}
		}()
	}
	waitFor(t, "ErrQueueFull", 3*time.Second, func() bool { return queueFull.Load() > 0 })
	waitFor(t, "the write timeout to fail the connection", 3*time.Second, func() bool { return closed.Load() != nil })
	waitFor(t, "failed completions", time.Second, func() bool { return failed.Load() > 0 })
	t.Logf("closed with %v; %d sends failed", closed.Load(), failed.Load())
}

// A subscriber that falls behind a server with a drop policy sees gaps;
// the client detects them and heals them from the history, so the
// application still gets every message once, in order.
func TestTopicsGapHealed(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(100000, time.Minute)},
		server.WithMaxOutbound(32<<10, server.SlowDrop))
	var rec recorder
	opts := rec.options()
	onPub := opts.OnPublication
	var stalled atomic.Bool
	opts.OnPublication = func(c *client.Client, p *client.Publication) {
		if !stalled.Swap(true) {
			time.Sleep(500 * time.Millisecond) // fall behind once
		}
		onPub(c, p)
	}
	c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
		client.WithSubprotocols(client.SubprotocolBinary))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe("md.SLOW", opts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed", 2*time.Second, func() bool { _, n := rec.lastEvent(); return n == 1 })
	const burst, total, maxTail = 1000, 1010, 400
	pad := bytes.Repeat([]byte{'x'}, 4000)
	// A gap shows only when a later message arrives, so messages lost at
	// the tail stay unnoticed: after the burst the tail comes slowly, and
	// goes on (a bounded number of times) until the subscriber has the
	// first total, whatever the pace at which it caught up.
	published := 0
	for i := 1; i <= total || (rec.count() < total && i <= total+maxTail); i++ {
		if i > burst {
			time.Sleep(50 * time.Millisecond)
		}
		data := append(strconv.AppendInt(nil, int64(i), 10), '|')
		if _, err := hub.Publish("md.SLOW", "k", append(data, pad...)); err != nil {
			t.Fatal(err)
		}
		published = i
	}
	deadline := time.Now().Add(10 * time.Second)
	for rec.count() < published && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rec.mu.Lock()
	if len(rec.seqs) < total {
		last := uint64(0)
		if len(rec.seqs) > 0 {
			last = rec.seqs[len(rec.seqs)-1]
		}
		t.Fatalf("got %d messages (last seq %d), gaps %d, events %+v", len(rec.seqs), last, rec.gaps, rec.events)
	}
	defer rec.mu.Unlock()
	for i, s := range rec.seqs {
		if s != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, s)
		}
	}
	if rec.gaps == 0 {
		t.Fatal("no gap: the server dropped nothing, so nothing was tested")
	}
	if len(rec.seqs) > published || rec.badData != 0 {
		t.Fatalf("%d messages of %d published, %d bad", len(rec.seqs), published, rec.badData)
	}
	for _, ev := range rec.events[1:] {
		if ev.Recovery != client.RecoveryOK || !ev.Resubscribed {
			t.Fatalf("heal: %+v", ev)
		}
	}
	t.Logf("%d gaps healed, %d subscription answers", rec.gaps, len(rec.events))
}
