package main

import (
	"log"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsloop/wsloop/bench/peers/internal/topics"
)

// The gorilla peer's pubsub mode is gorilla's classic hub (its chat
// example): one hub goroutine owns the map of topics to clients; each
// client has a reader goroutine (the HTTP handler) that turns requests into
// messages to the hub and a writer goroutine that writes what the hub
// queues on the client's buffered send channel. A publication is encoded
// once as a websocket.PreparedMessage (gorilla's facility for sending one
// message to many connections) and queued to every subscriber; as in the
// chat example, a client whose queue is full is dropped (its send channel
// closed, its connection closed by its writer). Messages are written one
// frame each, never joined into one message as the chat example does with
// newlines: every publication must arrive as its own message. No pings are
// sent (no peer sends heartbeats).

// sendQueue is a client's queue length, the chat example's 256.
const sendQueue = 256

// client is one connection.
type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage // written by the hub only; closed by the hub
}

// request is a client's request, or (bad non-nil) the error answer to a
// bad one: only the writer writes, so every answer goes through the hub.
type request struct {
	c   *client
	req topics.Request
	bad []byte
}

type publication struct {
	topic string
	msg   *websocket.PreparedMessage
	n     chan int // gets the number of subscribers queued to
}

// hub is the one goroutine that owns topics and clients.
type hub struct {
	register   chan *client
	unregister chan *client
	requests   chan request
	publish    chan publication

	topics  map[string]map[*client]struct{}
	clients map[*client]map[string]struct{}
}

func newHub() *hub {
	return &hub{
		register:   make(chan *client),
		unregister: make(chan *client),
		requests:   make(chan request, 1024),
		publish:    make(chan publication),
		topics:     map[string]map[*client]struct{}{},
		clients:    map[*client]map[string]struct{}{},
	}
}

// run is the hub's loop; it never returns (the process exits on a signal).
func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = map[string]struct{}{}
		case c := <-h.unregister:
			h.drop(c)
		case r := <-h.requests:
			h.serve(r)
		case p := <-h.publish:
			n := 0
			for c := range h.topics[p.topic] {
				if h.queue(c, p.msg) {
					n++
				}
			}
			p.n <- n
		}
	}
}

// serve applies a subscribe or unsubscribe request and queues its answer.
func (h *hub) serve(r request) {
	mine, ok := h.clients[r.c]
	if !ok {
		return // already dropped
	}
	var answer []byte
	switch {
	case r.bad != nil:
		answer = r.bad
	case r.req.Op == topics.OpSubscribe:
		subs := h.topics[r.req.Topic]
		if subs == nil {
			subs = map[*client]struct{}{}
			h.topics[r.req.Topic] = subs
		}
		subs[r.c] = struct{}{}
		mine[r.req.Topic] = struct{}{}
		answer = topics.Subscribed(r.req.Topic)
	default:
		h.leave(r.c, r.req.Topic)
		answer = topics.Unsubscribed(r.req.Topic)
	}
	if pm, err := websocket.NewPreparedMessage(websocket.TextMessage, answer); err == nil {
		h.queue(r.c, pm)
	}
}

// queue hands m to c's writer, or drops c when its queue is full.
func (h *hub) queue(c *client, m *websocket.PreparedMessage) bool {
	select {
	case c.send <- m:
		return true
	default:
		h.drop(c)
		return false
	}
}

func (h *hub) leave(c *client, topic string) {
	subs := h.topics[topic]
	delete(subs, c)
	if len(subs) == 0 {
		delete(h.topics, topic)
	}
	delete(h.clients[c], topic)
}

// drop forgets c and closes its send channel (once).
func (h *hub) drop(c *client) {
	mine, ok := h.clients[c]
	if !ok {
		return
	}
	for topic := range mine {
		h.leave(c, topic)
	}
	delete(h.clients, c)
	close(c.send)
}

// publishHTTP is the publish endpoint's callback.
func (h *hub) publishHTTP(topic string, data []byte) int {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return 0
	}
	p := publication{topic: topic, msg: pm, n: make(chan int, 1)}
	h.publish <- p
	return <-p.n
}

// serveWS upgrades and runs the client's reader in the handler goroutine.
func (h *hub) serveWS(up *websocket.Upgrader, limit int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			log.Printf("upgrade %s: %v", r.RemoteAddr, err)
			return
		}
		conn.SetReadLimit(limit)
		c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, sendQueue)}
		h.register <- c
		go c.writePump()
		defer func() {
			h.unregister <- c
			_ = conn.Close()
		}()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			req, err := topics.ParseRequest(msg)
			if err != nil {
				h.requests <- request{c: c, bad: topics.ErrorAnswer(err)}
				continue
			}
			h.requests <- request{c: c, req: req}
		}
	}
}

// writePump writes every queued message as its own frame until the hub
// closes the queue or a write fails, then closes the connection (which
// ends the reader, which unregisters the client). The hub never blocks on
// a full queue, so nothing needs draining.
func (c *client) writePump() {
	defer func() { _ = c.conn.Close() }()
	for m := range c.send {
		if err := c.conn.WritePreparedMessage(m); err != nil {
			return
		}
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "queue full"), time.Now().Add(time.Second))
}
