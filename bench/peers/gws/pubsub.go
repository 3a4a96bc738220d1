package main

import (
	"github.com/lxzan/gws"

	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

// pubsub is the gws peer's pubsub mode. Subscriptions live in a
// topics.Registry; a publication goes out through gws.NewBroadcaster, the
// facility gws's README recommends for broadcast: the frame is built once,
// and Broadcast queues it on each subscriber's write queue, which gws
// drains asynchronously (one goroutine per connection while it has writes
// pending). gws's README builds pub/sub on its author's event_emitter
// package, which the module proxy here does not serve; the registry plays
// its part (topic → subscribers) and the delivery is the same Broadcaster
// call per subscriber.
type pubsub struct {
	gws.BuiltinEventHandler
	reg *topics.Registry[*gws.Conn]
}

func newPubSub() *pubsub { return &pubsub{reg: topics.NewRegistry[*gws.Conn]()} }

func (p *pubsub) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (p *pubsub) OnClose(c *gws.Conn, _ error) { p.reg.Drop(c) }

// OnMessage serves subscribe and unsubscribe requests; the answer follows
// the registry change, so publications after it reach the connection.
func (p *pubsub) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	req, err := topics.ParseRequest(m.Bytes())
	switch {
	case err != nil:
		_ = c.WriteMessage(gws.OpcodeText, topics.ErrorAnswer(err))
	case req.Op == topics.OpSubscribe:
		p.reg.Subscribe(c, req.Topic)
		_ = c.WriteMessage(gws.OpcodeText, topics.Subscribed(req.Topic))
	default:
		p.reg.Unsubscribe(c, req.Topic)
		_ = c.WriteMessage(gws.OpcodeText, topics.Unsubscribed(req.Topic))
	}
}

// publish sends data as one text message to every subscriber of topic.
func (p *pubsub) publish(topic string, data []byte) int {
	b := gws.NewBroadcaster(gws.OpcodeText, data)
	defer func() { _ = b.Close() }()
	return p.reg.Each(topic, func(c *gws.Conn) { _ = b.Broadcast(c) })
}
