package pubsub

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wsloop/wsloop/pubsub/wire"
	"github.com/wsloop/wsloop/server"
)

var _ server.Handler = (*Hub)(nil)

// OnOpen implements server.Handler: with entitlements it starts the
// connection's session (its token's claims and expiry); otherwise it does
// nothing.
func (h *Hub) OnOpen(c *server.Conn) {
	if h.cfg.verifier != nil {
		h.entitle(c)
	}
}

// HandlesOpen reports whether OnOpen has work, only with entitlements: the
// server skips it otherwise (server.Events).
func (h *Hub) HandlesOpen() bool { return h.cfg.verifier != nil }

// HandlesClose reports true: OnClose forgets the connection's
// subscriptions.
func (h *Hub) HandlesClose() bool { return true }

// OnClose implements server.Handler: the connection's subscriptions end
// (Forget).
func (h *Hub) OnClose(c *server.Conn, _ error) { h.Forget(c) }

// OnMessage implements server.Handler: it serves one request of the wire
// protocol and answers it.
func (h *Hub) OnMessage(c *server.Conn, m server.Message) {
	if m.Type != server.Text {
		h.fail(c, nil, wire.CodeBadRequest, "requests are JSON text messages")
		return
	}
	req, err := wire.ParseRequest(m.Data)
	if err != nil {
		re := err.(*wire.RequestError)
		h.fail(c, re.ID, re.Code, re.Message)
		return
	}
	switch req.Op {
	case wire.OpSubscribe:
		h.serveSubscribe(c, &req)
	case wire.OpUnsubscribe:
		if !ValidTopic(req.Topic) {
			h.fail(c, req.ID, wire.CodeBadTopic, "invalid topic name")
			return
		}
		if err := h.unsubscribe(c, req.Topic, wire.AppendUnsubscribed(nil, req.ID, req.Topic)); err != nil {
			h.fail(c, req.ID, wire.CodeNotSubscribed, "not subscribed to "+req.Topic)
		}
	case wire.OpPublish:
		h.servePublish(c, &req)
	case wire.OpRefresh:
		h.serveRefresh(c, &req)
	default:
		h.fail(c, req.ID, wire.CodeBadRequest, fmt.Sprintf("unknown op %q", req.Op))
	}
}

func (h *Hub) serveSubscribe(c *server.Conn, req *wire.Request) {
	if ValidTopic(req.Topic) && !h.allowed(c, req.Topic, false) {
		h.fail(c, req.ID, wire.CodeForbidden, "not entitled to subscribe to "+req.Topic)
		return
	}
	o := SubscribeOptions{Since: req.Since, Conflate: req.Conflate, Snapshot: req.Snapshot}
	switch req.Delta {
	case "":
	case wire.DeltaFossil:
		o.Delta = true
	default:
		h.fail(c, req.ID, wire.CodeBadRequest, fmt.Sprintf("unknown delta %q (want %q)", req.Delta, wire.DeltaFossil))
		return
	}
	_, _, err := h.subscribe(c, req.Topic, o, true, req.ID)
	switch {
	case err == nil:
	case errors.Is(err, ErrBadTopic):
		h.fail(c, req.ID, wire.CodeBadTopic, "invalid topic name")
	case errors.Is(err, ErrAlreadySubscribed):
		h.fail(c, req.ID, wire.CodeAlreadySubscribed, "already subscribed to "+req.Topic)
	case errors.Is(err, ErrTooManySubscriptions):
		h.fail(c, req.ID, wire.CodeTooManySubscriptions, fmt.Sprintf("at most %d subscriptions per connection", h.cfg.maxSubs))
	case errors.Is(err, ErrBadOptions):
		h.fail(c, req.ID, wire.CodeBadRequest, "\"delta\" needs the wsloop.bin subprotocol and \"snapshot\":true, and excludes \"conflate\"")
	case errors.Is(err, ErrUnsupported):
		_ = c.Send(server.Text, wire.AppendError(nil, req.ID, wire.CodeUnavailable, "snapshots need a broker that keeps keyed state"), nil)
	case errors.Is(err, ErrNotOpen):
	default:
		h.fail(c, req.ID, wire.CodeUnavailable, "subscription failed: "+err.Error())
	}
}

// fail answers an invalid request with an error message and closes the
// connection with 1008 once it has sent too many.
func (h *Hub) fail(c *server.Conn, id json.RawMessage, code, msg string) {
	if code == wire.CodeUnavailable {
		_ = c.Send(server.Text, wire.AppendError(nil, id, code, msg), nil)
		return // the server's fault, not the client's
	}
	h.stats.protocolErrors.Add(1)
	_ = c.Send(server.Text, wire.AppendError(nil, id, code, msg), nil)
	s := h.session(c, true)
	if s.errors++; h.cfg.maxErrors > 0 && s.errors >= h.cfg.maxErrors {
		_ = c.Close(server.StatusPolicyViolation, "too many invalid requests")
	}
}
