package natsbroker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/pubsub"
)

// benchBroker is a broker on a fresh in-process server, with the topic's
// stream already created.
func benchBroker(b *testing.B) *Broker {
	url := startServer(b, b.TempDir(), 0).ClientURL()
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
