package main

import (
	"fmt"

	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
	"github.com/wsloop/wsloop/server"
)

// app is what the -mode serves on top of the server options of the
// flags: the connections' handler, more server options, and in the
// pubsub and feed modes the hub that the feed and the admin publish
// endpoint publish through.
type app struct {
	handler server.Handler
	opts    []server.Option
	hub     *pubsub.Hub // nil in echo mode
}

// newApp builds the mode's handler from checked flags. A non-nil hub is
// the caller's to close, once the server has shut down.
func newApp(f *flags) (*app, error) {
	if !f.pubsub() {
		return &app{handler: server.Echo()}, nil
	}
	hopts := []pubsub.Option{pubsub.WithHistory(f.history, f.historyTTL)}
	if f.nats != "" {
		b, err := newBroker(f)
		if err != nil {
			return nil, err
		}
		hopts = append(hopts, pubsub.WithBroker(b))
	}
	hub := pubsub.New(hopts...)
	a := &app{handler: hub, hub: hub}
	if f.mode == "feed" {
		a.opts = append(a.opts, server.WithHTTPHandler(feed.Page(nil)))
	}
	return a, nil
}

// newBroker connects to the NATS server of -nats (JetStream), keeping
// -history and -history-ttl per topic.
func newBroker(f *flags) (pubsub.Broker, error) {
	b, err := natsbroker.Connect(f.nats, natsbroker.WithHistory(f.history, f.historyTTL))
	if err != nil {
		return nil, fmt.Errorf("-nats %s: %w", f.nats, err)
	}
	return b, nil
}
