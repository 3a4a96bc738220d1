package pubsub

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/wsloop/wsloop/jwtauth"
	"github.com/wsloop/wsloop/pubsub/wire"
	"github.com/wsloop/wsloop/server"
)

// SubscribeOptions are a subscription's settings.
type SubscribeOptions struct {
	// Since, if not nil, is the position of the last message the client
	// has: the messages after it are replayed before live ones, or the
	// answer is RecoveryFailed.
	Since *Position
	// Conflate keeps only the latest message per key while the
	// connection is behind (see the package documentation).
	Conflate bool
	// Snapshot sends the current value of every key of the topic first
	// (after the answer), at the returned position; with Since, only when
	// recovery fails (RecoverySnapshot). It needs a Snapshotter broker.
	Snapshot bool
	// Delta sends Updates of keys with a previous value as Fossil deltas
	// against it (wire.Delta). It needs SubprotocolBinary and Snapshot,
	// and excludes Conflate.
	Delta bool
}

// Recovery is the outcome of a subscription's recovery.
type Recovery uint8

const (
	RecoveryNone     Recovery = iota // no recovery asked
	RecoveryOK                       // the missed messages are replayed
	RecoveryFailed                   // the gap cannot be filled: take a fresh snapshot
	RecoverySnapshot                 // the gap cannot be filled: a snapshot follows
)

func (r Recovery) String() string {
	switch r {
	case RecoveryOK:
		return "ok"
	case RecoveryFailed:
		return "failed"
	case RecoverySnapshot:
		return "snapshot"
	}
	return ""
}

// Errors of subscriptions.
var (
	ErrAlreadySubscribed    = errors.New("pubsub: already subscribed to this topic")
	ErrNotSubscribed        = errors.New("pubsub: not subscribed to this topic")
	ErrTooManySubscriptions = errors.New("pubsub: too many subscriptions on this connection")
	ErrNotOpen              = errors.New("pubsub: connection is not a wsloop connection or has closed")
	ErrBadOptions           = errors.New("pubsub: deltas need the binary subprotocol and a snapshot, and exclude conflation")
)

// session is a connection's subscriptions. Its map is touched by the
// connection's handler calls, which never run concurrently, and by Hub
// methods called for the connection, which the caller must not run
// concurrently with them.
type session struct {
	subs   map[string]*subscription
	errors int
	closed bool

	// With entitlements (set in OnOpen, replaced by a refresh): the
	// token's claims, whether the connection counts for its user, and the
	// timer that closes it when the token expires.
	claims  *jwtauth.Claims
	counted bool
	expiry  *time.Timer
}

type subscription struct {
	t *topic
	m *server.Member
}

func (h *Hub) session(c *server.Conn, create bool) *session {
	if s, ok := h.sessions.Load(c); ok {
		return s.(*session)
	}
	if !create {
		return nil
	}
	s, _ := h.sessions.LoadOrStore(c, &session{subs: make(map[string]*subscription)})
	return s.(*session)
}

// Subscribe subscribes c to topic: publications follow in the wire form of
// c's subprotocol, starting after the returned position; with o.Since
// they are preceded by the missed messages (RecoveryOK; the returned
// position is then o.Since) unless recovery failed. Call it from c's
// handler, or otherwise never concurrently with c's other Hub calls.
// With a NATS broker, a first subscription to a topic (its snapshot) or
// a recovery beyond the hub's ring asks NATS, holding up that topic's
// deliveries meanwhile.
func (h *Hub) Subscribe(c *server.Conn, topic string, o SubscribeOptions) (Position, Recovery, error) {
	return h.subscribe(c, topic, o, false, nil)
}

// subscribe is Subscribe that, if answer, sends the protocol's
// "subscribed" (with id) ahead of everything else.
func (h *Hub) subscribe(c *server.Conn, name string, o SubscribeOptions, answer bool, id json.RawMessage) (Position, Recovery, error) {
	if !ValidTopic(name) {
		return Position{}, RecoveryNone, ErrBadTopic
	}
	s := h.session(c, true)
	if s.closed {
		return Position{}, RecoveryNone, ErrNotOpen
	}
	if s.subs[name] != nil {
		return Position{}, RecoveryNone, ErrAlreadySubscribed
	}
	if len(s.subs) >= h.cfg.maxSubs {
		return Position{}, RecoveryNone, ErrTooManySubscriptions
	}
	form := formJSON
	if c.Subprotocol() == SubprotocolBinary {
		form = formBinary
	}
	if o.Delta {
		if form != formBinary || !o.Snapshot || o.Conflate {
			return Position{}, RecoveryNone, ErrBadOptions
		}
		form = formDelta
	}
	t, err := h.acquire(name)
	if err != nil {
		return Position{}, RecoveryNone, err
	}
	if !t.known {
		_, pos, err := h.broker.History(name, Position{})
		if err != nil && !errors.Is(err, ErrRecoveryFailed) {
			t.n++ // release takes it back
			t.release()
			return Position{}, RecoveryNone, err
		}
		t.last, t.known = pos, true
	}
	if o.Snapshot && t.state == nil {
		t.n++ // release takes it back
		t.release()
		return Position{}, RecoveryNone, ErrUnsupported
	}
	pos := t.last
	rec, replay := RecoveryNone, []Message(nil)
	if o.Since != nil {
		rec, replay = t.recover(*o.Since)
	}
	if rec == RecoveryOK {
		pos = *o.Since // the stream continues right after the client's position
	}
	entries, snap := []Message(nil), -1
	if o.Snapshot && rec != RecoveryOK {
		entries = t.snapshot()
		snap = len(entries)
		if rec == RecoveryFailed {
			rec = RecoverySnapshot
		}
	}
	first := make([]server.Outgoing, 0, 1+len(replay)+len(entries))
	if answer {
		first = append(first, server.Outgoing{Type: server.Text, Data: wire.AppendSubscribed(nil, id, name, pos, rec.String(), snap)})
	}
	typ := formType(form)
	for i := range entries {
		first = append(first, server.Outgoing{Type: typ, Data: encode(nil, form, wire.Snapshot, &entries[i])})
	}
	for i := range replay {
		first = append(first, server.Outgoing{Type: typ, Data: encode(nil, form, replay[i].kind(), &replay[i])})
	}
	// Counted before the answer can reach the client.
	h.stats.subscriptions.Add(1)
	switch rec {
	case RecoveryOK:
		h.stats.recoveriesOK.Add(1)
	case RecoveryFailed, RecoverySnapshot:
		h.stats.recoveriesFailed.Add(1)
	}
	m := t.fanout(form).Join(c, o.Conflate, first...)
	t.n++
	t.mu.Unlock()
	if m == nil {
		h.stats.subscriptions.Add(-1)
		t.mu.Lock()
		t.release()
		if len(s.subs) == 0 {
			h.sessions.Delete(c) // closed: OnClose may have run already
		}
		return Position{}, RecoveryNone, ErrNotOpen
	}
	s.subs[name] = &subscription{t: t, m: m}
	return pos, rec, nil
}

// recover finds the messages after since, with t's lock held: from the
// recent ring when it reaches back far enough, else from the broker's
// history, which then backfills the ring (a process that just started
// asks the broker once per topic, not once per reconnecting subscriber);
// only up to t.last, since later ones are still to be delivered here and
// will reach the new subscriber live.
func (t *topic) recover(since Position) (Recovery, []Message) {
	if since.Epoch != t.last.Epoch {
		return RecoveryFailed, nil
	}
	if msgs, ok := t.recent.since(since.Seq, t.last.Seq, now()); ok {
		return RecoveryOK, msgs
	}
	msgs, pos, err := t.hub.broker.History(t.name, since)
	if err != nil || pos.Epoch != t.last.Epoch || pos.Seq < t.last.Seq {
		return RecoveryFailed, nil
	}
	for i, m := range msgs {
		if m.Seq > t.last.Seq {
			msgs = msgs[:i]
			break
		}
	}
	if len(msgs) > 0 && msgs[len(msgs)-1].Seq == t.last.Seq {
		t.recent.backfill(msgs)
	}
	return RecoveryOK, msgs
}

// Unsubscribe ends c's subscription to topic. Call it as Subscribe.
func (h *Hub) Unsubscribe(c *server.Conn, topic string) error {
	return h.unsubscribe(c, topic, nil)
}

// unsubscribe is Unsubscribe that sends answer after the subscription's
// last message.
func (h *Hub) unsubscribe(c *server.Conn, name string, answer []byte) error {
	s := h.session(c, false)
	if s == nil || s.subs[name] == nil {
		return ErrNotSubscribed
	}
	sub := s.subs[name]
	delete(s.subs, name)
	h.drop(sub, answer)
	return nil
}

// drop ends one subscription: the member leaves its fan-out on its loop
// (sending last, if any, after its last message), and the topic counts it.
func (h *Hub) drop(sub *subscription, last []byte) {
	t := sub.t
	t.mu.Lock()
	if last != nil {
		sub.m.Leave(server.Outgoing{Type: server.Text, Data: last})
	} else {
		sub.m.Leave()
	}
	h.stats.subscriptions.Add(-1)
	t.release()
}

// Forget ends every subscription of c. The Hub's own OnClose calls it; a
// program that routes a connection's events through its own Handler and
// uses Subscribe must call it when the connection closes.
func (h *Hub) Forget(c *server.Conn) {
	v, ok := h.sessions.LoadAndDelete(c)
	if !ok {
		return
	}
	s := v.(*session)
	s.closed = true
	h.release(s)
	for name, sub := range s.subs {
		delete(s.subs, name)
		h.drop(sub, nil)
	}
}
