package pubsub_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
)

// BenchmarkFanout publishes 100-byte updates to one topic with 1,000
// binary-form subscribers on loopback and waits until every subscriber
// has read every one: deliveries/s is the figure (clients and server share
// the machine's cores).
func BenchmarkFanout(b *testing.B) {
	const subscribers = 1000
	hub := pubsub.New(pubsub.WithHistory(0, 0))
	srv := pubsubtest.Start(b, hub)
	var received atomic.Int64
	var frameLen int64
	for i := range subscribers {
		s := dialSub(b, srv.Addr(), true)
		s.subscribe("md.all", nil)
		if i == 0 {
			// Frame size of one publication: probe once.
			if _, err := hub.Publish("md.all", "AAPL", benchData); err != nil {
				b.Fatal(err)
			}
		}
		_ = s.conn.SetReadDeadline(time.Time{})
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := s.r.Read(buf)
				received.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	// The first subscriber's probe: header (2) + 1 + 1 + 6 ("md.all") +
	// 16 + 1 + 4 ("AAPL") + data.
	frameLen = int64(2 + 1 + 1 + len("md.all") + 16 + 1 + len("AAPL") + len(benchData))
	waitBytes(b, &received, frameLen)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := hub.Publish("md.all", "AAPL", benchData); err != nil {
			b.Fatal(err)
		}
	}
	waitBytes(b, &received, frameLen*(1+int64(b.N)*subscribers))
	b.StopTimer()
	b.ReportMetric(float64(b.N)*subscribers/time.Since(start).Seconds(), "deliveries/s")
}

// BenchmarkPublishHistory publishes 1 KiB keyed updates to a topic with
// history and one subscriber: B/op shows how many copies of a payload a
// node keeps (the broker's history and state, and the hub's, share one).
func BenchmarkPublishHistory(b *testing.B) {
	hub := pubsub.New(pubsub.WithHistory(1000, 0))
	srv := pubsubtest.Start(b, hub)
	s := dialSub(b, srv.Addr(), true)
	s.subscribe("md.book", map[string]any{"conflate": true}) // a slow reader is conflated, never dropped
	_ = s.conn.SetReadDeadline(time.Time{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := s.r.Read(buf); err != nil {
				return
			}
		}
	}()
	data := []byte(strings.Repeat("x", 1024))
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "L" + strings.Repeat("0", i%3) + string(rune('a'+i%26))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for i := range b.N {
		if _, err := hub.Publish("md.book", keys[i%len(keys)], data); err != nil {
			b.Fatal(err)
		}
	}
}

var benchData = []byte(`{"sym":"AAPL","px":189.42,"pad":"` + strings.Repeat("x", 62) + `"}`)

func waitBytes(b *testing.B, n *atomic.Int64, want int64) {
	deadline := time.Now().Add(2 * time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d bytes, want %d", n.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
