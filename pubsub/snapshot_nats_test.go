package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
	"github.com/wsloop/wsloop/server"
)

// TestSnapshotConsistencyNATS is TestSnapshotConsistency on two nodes
// joined by a real NATS server (in the test process), the publisher on a
// third broker: half the clients start on each node, and the first node
// is killed halfway through; its clients resubscribe on the other one.
func TestSnapshotConsistencyNATS(t *testing.T) {
	ns := natstest.Start(t, t.TempDir(), 0)
	connect := func() *natsbroker.Broker {
		b, err := natsbroker.Connect(ns.ClientURL(), natsbroker.WithPrefix("snap"), natsbroker.WithHistory(100_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	var srvs []*server.Server
	var hubs []*pubsub.Hub
	var addrs []string
	for range 2 {
		hub := pubsub.New(pubsub.WithBroker(connect()))
		srv := pubsubtest.Start(t, hub)
		srvs, hubs, addrs = append(srvs, srv), append(hubs, hub), append(addrs, srv.Addr())
	}
	publisher := connect()
	checkSnapshotConsistency(t, publisher.PublishKind, addrs, func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srvs[0].Shutdown(ctx)
		_ = hubs[0].Close()
		return 0
	})
}
