package pubsub

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wsloop/wsloop/server"
)

var _ server.Handler = (*Hub)(nil)

// OnOpen implements server.Handler; a connection has no subscriptions yet.
func (h *Hub) OnOpen(*server.Conn) {}

// HandlesOpen reports false: OnOpen does nothing, so the server skips it
// (server.Events).
func (h *Hub) HandlesOpen() bool { return false }

// HandlesClose reports true: OnClose forgets the connection's
// subscriptions.
func (h *Hub) HandlesClose() bool { return true }

// OnClose implements server.Handler: the connection's subscriptions end
// (Forget).
func (h *Hub) OnClose(c *server.Conn, _ error) { h.Forget(c) }

// OnMessage implements server.Handler: it serves one request of the wire
// protocol and answers it.
func (h *Hub) OnMessage(c *server.Conn, m server.Message) {
	var req request
	if m.Type != server.Text {
		h.fail(c, nil, "bad_request", "requests are JSON text messages")
		return
	}
	if err := json.Unmarshal(m.Data, &req); err != nil {
		h.fail(c, nil, "bad_request", "not a JSON request object")
		return
	}
	if !validID(req.ID) {
		h.fail(c, nil, "bad_request", "id must be a number or a string")
		return
	}
	switch req.Op {
	case "subscribe":
		h.serveSubscribe(c, &req)
	case "unsubscribe":
		if !ValidTopic(req.Topic) {
			h.fail(c, req.ID, "bad_topic", "invalid topic name")
			return
		}
		if err := h.unsubscribe(c, req.Topic, appendUnsubscribed(nil, req.ID, req.Topic)); err != nil {
			h.fail(c, req.ID, "not_subscribed", "not subscribed to "+req.Topic)
		}
	default:
		h.fail(c, req.ID, "bad_request", fmt.Sprintf("unknown op %q", req.Op))
	}
}

func (h *Hub) serveSubscribe(c *server.Conn, req *request) {
	var o SubscribeOptions
	o.Conflate = req.Conflate
	if req.Since != nil {
		pos, ok := req.Since.position()
		if !ok {
			h.fail(c, req.ID, "bad_position", "since.epoch must be 16 hex digits")
			return
		}
		o.Since = &pos
	}
	_, _, err := h.subscribe(c, req.Topic, o, true, req.ID)
	switch {
	case err == nil:
	case errors.Is(err, ErrBadTopic):
		h.fail(c, req.ID, "bad_topic", "invalid topic name")
	case errors.Is(err, ErrAlreadySubscribed):
		h.fail(c, req.ID, "already_subscribed", "already subscribed to "+req.Topic)
	case errors.Is(err, ErrTooManySubscriptions):
		h.fail(c, req.ID, "too_many_subscriptions", fmt.Sprintf("at most %d subscriptions per connection", h.cfg.maxSubs))
	case errors.Is(err, ErrNotOpen):
	default:
		h.fail(c, req.ID, "unavailable", "subscription failed: "+err.Error())
	}
}

// fail answers an invalid request with an error message and closes the
// connection with 1008 once it has sent too many.
func (h *Hub) fail(c *server.Conn, id json.RawMessage, code, msg string) {
	if code == "unavailable" {
		_ = c.Send(server.Text, appendError(nil, id, code, msg), nil)
		return // the server's fault, not the client's
	}
	h.stats.protocolErrors.Add(1)
	_ = c.Send(server.Text, appendError(nil, id, code, msg), nil)
	s := h.session(c, true)
	if s.errors++; h.cfg.maxErrors > 0 && s.errors >= h.cfg.maxErrors {
		_ = c.Close(server.StatusPolicyViolation, "too many invalid requests")
	}
}

// validID accepts an absent id, a JSON number or a JSON string.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	switch id[0] {
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}
