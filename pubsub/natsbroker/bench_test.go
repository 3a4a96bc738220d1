package natsbroker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/pubsub"
)

// benchBroker is a broker on a fresh in-process server, with the topic's
// stream already created.
func benchBroker(b *testing.B) *Broker {
	url := natstest.Start(b, b.TempDir(), 0).ClientURL()
	br := connect(b, url, WithHistory(1000, time.Minute))
	if _, err := br.Publish("bench", "", nil); err != nil {
		b.Fatal(err)
	}
	return br
}

var payload = make([]byte, 100)

// BenchmarkPublish: one publisher waiting for each acknowledgement.
func BenchmarkPublish(b *testing.B) {
	br := benchBroker(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := br.Publish("bench", "AAPL", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPublishParallel: 16 publishers per CPU on one topic.
func BenchmarkPublishParallel(b *testing.B) {
	br := benchBroker(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := br.Publish("bench", "AAPL", payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPublishDeliver: parallel publishers on one node, a
// subscription on another; the time until the subscription has them all.
func BenchmarkPublishDeliver(b *testing.B) {
	br := benchBroker(b)
	other := connect(b, br.nc.ConnectedUrl())
	var got atomic.Int64
	cancel, err := other.Subscribe("bench", func(pubsub.Message) { got.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := br.Publish("bench", "AAPL", payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	deadline := time.Now().Add(patience)
	for got.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got.Load() < int64(b.N) {
		b.Fatalf("delivered %d of %d", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSnapshot: a snapshot of a topic with 10,000 keys of 100 bytes
// (the state stream read to its end, then the topic's messages after
// its position).
func BenchmarkSnapshot(b *testing.B) {
	br := benchBroker(b)
	const keys = 10_000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= keys; i = next.Add(1) {
				if _, err := br.Publish("bench", "k"+strconv.FormatInt(i, 10), payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		msgs, _, err := br.Snapshot("bench")
		if err != nil || len(msgs) != keys {
			b.Fatalf("%d keys, %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(b.N)*keys/b.Elapsed().Seconds(), "keys/s")
}
