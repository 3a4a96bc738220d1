package pubsub

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsloop/wsloop/server"
)

// Hub is a set of topics served to WebSocket clients: it implements
// server.Handler for the wire protocol (see the package documentation) and
// publishes from Go. Create it with New; serve it with
//
//	hub := pubsub.New()
//	srv := server.New(hub, server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary))
//
// Publish, Subscribe, Unsubscribe, Forget, Stats and Close are safe from
// any goroutine; OnOpen, OnMessage and OnClose are the server's
// (server.Handler: one connection's events in order, never concurrently).
type Hub struct {
	cfg    config
	broker Broker
	ringN  int // messages in each topic's recent ring: 0 when the broker is in-process

	mu     sync.Mutex
	topics map[string]*topic
	closed bool

	sessions sync.Map // *server.Conn → *session
	users    users    // connections per user, with entitlements
	stats    counters
}

// New returns a hub; by default its broker is NewLocal with the
// WithHistory sizes.
func New(opts ...Option) *Hub {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	b := cfg.broker
	if b == nil {
		b = NewLocal(cfg.historyN, cfg.historyTTL, LocalMaxKeys(cfg.maxKeys))
	}
	h := &Hub{cfg: cfg, broker: b, ringN: cfg.historyN, topics: make(map[string]*topic)}
	if _, local := b.(*Local); local {
		// Its history is in this process already: recover from it.
		h.ringN = 0
	}
	return h
}

// Publish publishes data on topic as an Update of key (the key's new
// value in the topic's state, and its conflation key; "" for none: not
// state, never conflated) and returns its position. Subscribers on every
// node of the broker receive it in order. data is copied. Safe from any
// goroutine.
func (h *Hub) Publish(topic, key string, data []byte) (Position, error) {
	return h.PublishKind(topic, Update, key, data)
}

// PublishKind publishes a message of any kind: Update (Publish), Delete
// (key leaves the topic's state; data is ignored) or Event (a keyed fact,
// such as a trade: delivered in order, never conflated, not state). Delete
// and Event need a broker that is a KindPublisher (ErrUnsupported
// otherwise). Safe from any goroutine.
func (h *Hub) PublishKind(topic string, kind Kind, key string, data []byte) (Position, error) {
	if !ValidTopic(topic) {
		return Position{}, ErrBadTopic
	}
	if len(key) > MaxKeyLen {
		return Position{}, ErrBadKey
	}
	if h.cfg.maxData > 0 && len(data) > h.cfg.maxData {
		return Position{}, ErrTooLarge
	}
	var pos Position
	var err error
	switch kind {
	case Update, 0:
		pos, err = h.broker.Publish(topic, key, data)
	case Delete, Event:
		if kind == Delete && key == "" {
			return Position{}, ErrBadKey
		}
		kp, ok := h.broker.(KindPublisher)
		if !ok {
			return Position{}, ErrUnsupported
		}
		if kind == Delete {
			data = nil
		}
		pos, err = kp.PublishKind(topic, kind, key, data)
	default:
		return Position{}, ErrUnsupported
	}
	if err == nil {
		h.stats.publishes.Add(1)
	}
	return pos, err
}

// Close closes the broker; subscriptions stop receiving. The server's
// connections are the server's to close.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	ts := h.topics
	h.topics = make(map[string]*topic)
	h.mu.Unlock()
	for _, t := range ts {
		t.stop()
	}
	return h.broker.Close()
}

// topic is the hub's side of one topic with local subscribers: its
// subscription at the broker, the position delivered so far, a ring of
// recent messages (with a broker whose history is elsewhere; empty with
// Local, whose history serves recoveries), its keyed state, and the
// subscribers, one fan-out per wire form.
type topic struct {
	name string
	hub  *Hub

	mu     sync.Mutex
	dead   bool // removed from the hub; subscribe again through the hub
	cancel func()
	last   Position // last message delivered here (Seq 0: none yet)
	known  bool     // last was learned from the broker
	recent *history
	state  map[string]Message // latest Update per key; nil: the broker keeps no state
	forms  [forms]*server.Group
	n      int    // subscriptions
	scr    []byte // encoding scratch, under mu
	dscr   []byte // delta scratch, under mu
}

// acquire returns name's topic with its lock held, creating it and its
// broker subscription if needed.
func (h *Hub) acquire(name string) (*topic, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		t := h.topics[name]
		fresh := t == nil
		if fresh {
			t = &topic{name: name, hub: h, recent: newHistory(h.ringN, h.cfg.historyTTL)}
			h.topics[name] = t
		}
		t.mu.Lock()
		h.mu.Unlock()
		if t.dead {
			// Its last subscription just ended; the hub forgets it
			// right after: take a new one.
			t.mu.Unlock()
			runtime.Gosched()
			continue
		}
		if fresh {
			cancel, err := h.broker.Subscribe(name, t.deliver)
			if err == nil {
				t.cancel = cancel
				err = t.seed()
			}
			if err != nil {
				t.dead = true
				t.mu.Unlock()
				h.forget(t)
				if cancel != nil {
					cancel()
				}
				return nil, err
			}
			h.stats.topics.Add(1)
		}
		return t, nil
	}
}

// seed takes the topic's keyed state from a Snapshotter broker, with t's
// lock held, after its subscription started: deliveries up to the
// snapshot's position are then skipped, later ones applied.
func (t *topic) seed() error {
	sn, ok := t.hub.broker.(Snapshotter)
	if !ok {
		return nil
	}
	msgs, pos, err := sn.Snapshot(t.name)
	if err != nil {
		return err
	}
	t.state = make(map[string]Message, len(msgs))
	for _, m := range msgs {
		t.state[m.Key] = m
	}
	t.last, t.known = pos, true
	return nil
}

// forget removes a dead topic from the hub.
func (h *Hub) forget(t *topic) {
	h.mu.Lock()
	if h.topics[t.name] == t {
		delete(h.topics, t.name)
	}
	h.mu.Unlock()
}

// release drops one subscription of t (its lock held, released here); the
// last one ends the topic's broker subscription.
func (t *topic) release() {
	t.n--
	if t.n > 0 || t.dead {
		t.mu.Unlock()
		return
	}
	t.dead = true
	t.mu.Unlock()
	t.hub.forget(t)
	t.stop()
}

// stop ends the broker subscription.
func (t *topic) stop() {
	t.mu.Lock()
	t.dead = true
	cancel := t.cancel
	t.cancel = nil
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		t.hub.stats.topics.Add(-1)
	}
}

// deliver is the broker's callback: it encodes m once per form in use,
// hands it to the fan-outs, and applies it to the topic's state.
func (t *topic) deliver(m Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	if t.known && m.Epoch == t.last.Epoch && m.Seq <= t.last.Seq {
		return // already counted in the position a subscriber started from
	}
	if m.Epoch != t.last.Epoch {
		t.recent.reset()
		if t.state != nil {
			clear(t.state)
		}
	}
	t.last, t.known = m.Position, true
	stored := m // its Data is the broker's, shared (Broker.Subscribe)
	t.recent.add(stored)
	kind, key := m.kind(), conflationKey(&m)
	prev, hasPrev := t.state[m.Key]
	for form, f := range t.forms {
		if f == nil || f.Len() == 0 {
			continue
		}
		if form == formDelta && kind == Update && m.Key != "" && hasPrev {
			t.scr, t.dscr = encodeDelta(t.scr[:0], t.dscr, &m, prev.Data)
		} else {
			t.scr = encode(t.scr[:0], form, kind, &m)
		}
		t.hub.stats.deliveries.Add(uint64(f.Len()))
		f.Publish(formType(form), t.scr, key)
	}
	if t.state != nil && m.Key != "" {
		switch kind {
		case Update:
			t.state[m.Key] = stored
		case Delete:
			delete(t.state, m.Key)
		}
	}
}

// snapshot is the topic's state in sequence order (t's lock held); the
// messages share their data with the state.
func (t *topic) snapshot() []Message { return sortedState(t.state, false) }

// fanout returns the topic's fan-out for a form, created on first use.
func (t *topic) fanout(form int) *server.Group {
	if t.forms[form] == nil {
		t.forms[form] = server.NewGroup()
	}
	return t.forms[form]
}

// counters are the hub's statistics.
type counters struct {
	publishes, deliveries          atomic.Uint64
	recoveriesOK, recoveriesFailed atomic.Uint64
	protocolErrors                 atomic.Uint64
	topics, subscriptions          atomic.Int64
}

// Stats is a snapshot of a hub's counters.
type Stats struct {
	Publishes        uint64 // messages published through this hub
	Deliveries       uint64 // messages handed to subscribers' event loops
	RecoveriesOK     uint64 // subscribes whose recovery succeeded
	RecoveriesFailed uint64 // subscribes answered "recovery failed"
	ProtocolErrors   uint64 // invalid client messages answered with an error
	Topics           int64  // topics with subscribers here
	Subscriptions    int64  // subscriptions here
}

// Stats returns the hub's counters. Conflation and slow-consumer outcomes
// are the server's (server.Stats). Safe from any goroutine.
func (h *Hub) Stats() Stats {
	s := &h.stats
	return Stats{
		Publishes: s.publishes.Load(), Deliveries: s.deliveries.Load(),
		RecoveriesOK: s.recoveriesOK.Load(), RecoveriesFailed: s.recoveriesFailed.Load(),
		ProtocolErrors: s.protocolErrors.Load(),
		Topics:         s.topics.Load(), Subscriptions: s.subscriptions.Load(),
	}
}

// now is the hub's clock for history ages.
var now = time.Now
