package client

import (
	"strconv"

	"github.com/wsloop/wsloop/pubsub/wire"
)

// Subprotocols of wsloop's topic protocol (package pubsub). Offer
// SubprotocolBinary (WithSubprotocols) for publications decoded without
// allocation; SubprotocolJSON publications are decoded with encoding/json.
const (
	SubprotocolJSON   = wire.SubprotocolJSON
	SubprotocolBinary = wire.SubprotocolBinary
)

// Position is a place in a topic's stream (wire.Position): the epoch
// names one run of the topic's history, Seq counts its messages from 1.
type Position = wire.Position

// Publication is one message of a topic. Key and Data are valid only
// during the OnPublication callback. In SubprotocolJSON, Data is the JSON
// value of the wire message's "data" (a JSON string when the publisher's
// payload was not JSON); in SubprotocolBinary it is the payload as is.
type Publication struct {
	Topic string
	Position
	Kind wire.Kind // wire.Publication, wire.Delete (no Data), wire.Event, or wire.Snapshot (SubscribeOptions.Snapshot)
	Key  []byte
	Data []byte
}

// Recovery is the outcome of a subscription with a since position.
type Recovery int

const (
	// RecoveryNone: a fresh subscription (no since position).
	RecoveryNone Recovery = iota
	// RecoveryOK: every message after since follows, no gap, no duplicate.
	RecoveryOK
	// RecoveryFailed: since was older than the topic's history or from
	// another epoch; the stream continues from the current position and
	// the messages in between are lost (take a fresh snapshot).
	RecoveryFailed
	// RecoverySnapshot: as RecoveryFailed, for a subscription with
	// Snapshot: a fresh snapshot follows instead.
	RecoverySnapshot
)

// String returns "none", "ok" or "failed", as on the wire.
func (r Recovery) String() string {
	switch r {
	case RecoveryOK:
		return "ok"
	case RecoveryFailed:
		return "failed"
	case RecoverySnapshot:
		return "snapshot"
	}
	return "none"
}

// SubscribeEvent reports a subscription's answer: the first one, and each
// automatic resubscription after a reconnection or a gap.
type SubscribeEvent struct {
	Topic string
	// Position is where the stream continues from: the next message has
	// Seq+1 in Epoch.
	Position Position
	Recovery Recovery
	// Snapshot is the number of snapshot entries that follow (publications
	// of Kind wire.Snapshot), or -1 when no snapshot follows.
	Snapshot int
	// Resubscribed is true for automatic resubscriptions.
	Resubscribed bool
	// Err is the server's refusal (a *ServerError), if any; the
	// subscription is then dropped.
	Err error
}

// ServerError is an "error" answer of the topic protocol.
type ServerError struct {
	Code, Message string
}

// Error implements error.
func (e *ServerError) Error() string { return "wsloop: " + e.Code + ": " + e.Message }

// SubscribeOptions configure a subscription. The callbacks run on the
// client's goroutine.
type SubscribeOptions struct {
	// Conflate asks the server for conflation (latest value per key while
	// this connection is behind); sequence gaps are then expected and not
	// reported or healed.
	Conflate bool
	// Since starts with recovery from a known position.
	Since *Position
	// Snapshot asks for the topic's keyed state first: the subscription's
	// answer (SubscribeEvent.Snapshot) is followed by the current value of
	// every key, each a Publication of Kind wire.Snapshot with the
	// sequence number of the update that set it (these do not move the
	// position), then by live publications. Resubscriptions ask for one
	// too, and get it when recovery cannot fill the gap
	// (RecoverySnapshot). It needs a server whose broker keeps state.
	Snapshot bool
	// Delta asks for Fossil deltas (wire.DeltaFossil): after a key's
	// first full value, its updates travel as deltas against the previous
	// one. The client keeps each key's value, applies the deltas and
	// delivers full values (Kind wire.Publication); a delta that does not
	// apply is healed with a fresh snapshot. It needs SubprotocolBinary
	// and Snapshot, and not Conflate.
	Delta bool
	// OnPublication receives every publication in sequence order, with no
	// gap and no duplicate within an epoch unless a SubscribeEvent reports
	// RecoveryFailed or OnGap reports one.
	OnPublication func(*Client, *Publication)
	// OnSubscribed receives each subscription answer (recovery outcome).
	OnSubscribed func(*Client, SubscribeEvent)
	// OnGap reports a sequence gap seen on a live subscription (e.g. the
	// server dropped messages for a slow connection): last is the last
	// position delivered, got the one that arrived. The client heals it by
	// resubscribing from last; the outcome follows in OnSubscribed. A gap
	// shows only when a later message arrives: messages lost at the tail
	// of a burst stay unnoticed until the topic publishes again.
	OnGap func(c *Client, topic string, last, got Position)
}

// subscription state; fields other than topic and opts are owned by the
// client's goroutine once the subscription is in Client.subs.
type subscription struct {
	topic  string
	opts   SubscribeOptions
	last   Position
	have   bool // last is meaningful
	active bool // the answer arrived; publications are expected
	resub  bool // the pending answer is an automatic resubscription
	reqID  uint64
	on     *conn // the connection the last request went out on
	pub    Publication
	values map[string][]byte // with Delta: every key's value
}

// Subscribe subscribes to topic. If connected, the request is sent now;
// otherwise on the next connection. After each reconnection the client
// resubscribes with since = the last position it delivered. Subscribe
// returns ErrSubscribed if topic is already subscribed; the server's
// answer (or refusal) arrives in opts.OnSubscribed.
func (c *Client) Subscribe(topic string, opts SubscribeOptions) error {
	if opts.Delta && (!opts.Snapshot || opts.Conflate) {
		return ErrDeltaOptions
	}
	s := &subscription{topic: topic, opts: opts, pub: Publication{Topic: topic}}
	if opts.Delta {
		s.values = make(map[string][]byte)
	}
	if opts.Since != nil {
		s.last, s.have = *opts.Since, true
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if _, ok := c.subs[topic]; ok {
		c.mu.Unlock()
		return ErrSubscribed
	}
	c.subs[topic] = s
	cn := c.cn
	var flush bool
	var err error
	if cn != nil {
		flush, err = c.requestLocked(cn, s, false)
	}
	c.mu.Unlock()
	if flush {
		cn.wr.flush()
	}
	return err
}

// Unsubscribe ends a subscription; no publication of topic is delivered
// after it returns... except one being delivered concurrently on the
// client's goroutine.
func (c *Client) Unsubscribe(topic string) error {
	c.mu.Lock()
	if _, ok := c.subs[topic]; !ok {
		c.mu.Unlock()
		return ErrNotSubscribed
	}
	delete(c.subs, topic)
	cn := c.cn
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	c.mu.Lock()
	c.reqID++
	id := c.reqID
	c.mu.Unlock()
	b, _ := wire.AppendRequest(nil, &wire.Request{Op: wire.OpUnsubscribe, Topic: topic, ID: strconv.AppendUint(nil, id, 10)})
	return cn.sendData(Text, b, nil)
}

// requestLocked queues a subscribe request for s on cn (c.mu held).
func (c *Client) requestLocked(cn *conn, s *subscription, resub bool) (bool, error) {
	c.reqID++
	s.reqID, s.resub, s.active, s.on = c.reqID, resub, false, cn
	b := appendSubscribe(nil, s)
	return cn.wr.enqueue(newFrame(1, false, b), nil, true)
}

// resubscribeLocked queues a subscribe for every topic on a new
// connection (c.mu held).
func (c *Client) resubscribeLocked(cn *conn) bool {
	flush := false
	for _, s := range c.subs {
		if s.on == cn {
			continue // Subscribe already sent it on cn
		}
		f, _ := c.requestLocked(cn, s, s.have)
		flush = flush || f
	}
	return flush
}
