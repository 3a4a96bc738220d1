package main

import (
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

// pubsub is the nbio peer's pubsub mode. Subscriptions live in a
// topics.Registry; a publication is written to each subscriber with
// Conn.WriteMessage from the publishing goroutine, which is nbio's
// broadcast path (it has no broadcaster of its own): nbio writes to the
// socket at once and buffers only what the socket does not take, flushed
// later by its event loop, so no goroutine or queue is added per
// subscriber.
type pubsub struct {
	reg *topics.Registry[*websocket.Conn]
}

func newPubSub(up *websocket.Upgrader) *pubsub {
	p := &pubsub{reg: topics.NewRegistry[*websocket.Conn]()}
	up.OnMessage(p.onMessage)
	up.OnClose(func(c *websocket.Conn, _ error) { p.reg.Drop(c) })
	return p
}

// onMessage serves subscribe and unsubscribe requests; the answer follows
// the registry change, so publications after it reach the connection.
func (p *pubsub) onMessage(c *websocket.Conn, _ websocket.MessageType, data []byte) {
	req, err := topics.ParseRequest(data)
	switch {
	case err != nil:
		_ = c.WriteMessage(websocket.TextMessage, topics.ErrorAnswer(err))
	case req.Op == topics.OpSubscribe:
		p.reg.Subscribe(c, req.Topic)
		_ = c.WriteMessage(websocket.TextMessage, topics.Subscribed(req.Topic))
	default:
		p.reg.Unsubscribe(c, req.Topic)
		_ = c.WriteMessage(websocket.TextMessage, topics.Unsubscribed(req.Topic))
	}
}

// publish sends data as one text message to every subscriber of topic.
func (p *pubsub) publish(topic string, data []byte) int {
	return p.reg.Each(topic, func(c *websocket.Conn) { _ = c.WriteMessage(websocket.TextMessage, data) })
}
