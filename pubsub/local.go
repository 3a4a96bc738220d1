package pubsub

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Local is the in-process Broker of a single server: sequences and history
// live in this process's memory, so its epoch is new at every start.
type Local struct {
	epoch   uint64
	max     int
	ttl     time.Duration
	maxKeys int
	now     func() time.Time

	mu     sync.Mutex
	topics map[string]*localTopic
	closed bool
}

// localTopic is one topic of a Local broker. mu orders its messages;
// subscribers are called without it (a subscriber may take locks of its
// own that are held while it calls the broker), by one publisher at a
// time, the deliverer, which holds dmu meanwhile.
type localTopic struct {
	mu         sync.Mutex
	seq        uint64
	hist       *history
	state      map[string]Message // latest Update per key
	subs       []*localSub        // replaced, never modified: deliverers read a snapshot
	queue      []Message          // published, not yet delivered
	delivering bool

	dmu sync.Mutex
}

// localSub is one subscription; mu is held while fn runs, so that cancel
// can wait for a call in progress.
type localSub struct {
	mu      sync.Mutex
	fn      func(Message)
	stopped bool
}

// call runs fn unless the subscription was cancelled.
func (s *localSub) call(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.fn(m)
	}
}

// NewLocal returns an in-process broker whose topics each keep their last
// max messages, none older than ttl (0: no age limit), and the latest
// value of up to DefaultMaxKeys keys (LocalMaxKeys). max 0 keeps no
// history: only clients that missed nothing recover.
func NewLocal(max int, ttl time.Duration, opts ...LocalOption) *Local {
	l := &Local{epoch: newEpoch(), max: max, ttl: ttl, maxKeys: DefaultMaxKeys, now: time.Now, topics: make(map[string]*localTopic)}
	for _, o := range opts {
		o(l)
	}
	return l
}

// LocalOption configures a Local broker.
type LocalOption func(*Local)

// LocalMaxKeys bounds the keys of each topic's state: an Update of a new
// key past n is refused with ErrTooManyKeys (n <= 0: DefaultMaxKeys).
func LocalMaxKeys(n int) LocalOption {
	return func(l *Local) {
		if n > 0 {
			l.maxKeys = n
		}
	}
}

// newEpoch is a random non-zero epoch.
func newEpoch() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}

// topic returns name's topic, created if create; with its lock held.
func (l *Local) topic(name string, create bool) (*localTopic, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	t := l.topics[name]
	if t == nil && create {
		t = &localTopic{hist: newHistory(l.max, l.ttl)}
		l.topics[name] = t
	}
	l.mu.Unlock()
	if t != nil {
		t.mu.Lock()
	}
	return t, nil
}

// Publish implements Broker: PublishKind with Update.
func (l *Local) Publish(topic, key string, data []byte) (Position, error) {
	return l.PublishKind(topic, Update, key, data)
}

// PublishKind implements KindPublisher. Subscribers are called on the
// publishing goroutine, or on a concurrent publisher's that is already
// delivering earlier messages of the topic.
func (l *Local) PublishKind(topic string, kind Kind, key string, data []byte) (Position, error) {
	if !ValidTopic(topic) {
		return Position{}, ErrBadTopic
	}
	if len(key) > MaxKeyLen || kind == Delete && key == "" {
		return Position{}, ErrBadKey
	}
	t, err := l.topic(topic, true)
	if err != nil {
		return Position{}, err
	}
	if kind == Update && key != "" {
		if _, ok := t.state[key]; !ok && len(t.state) >= l.maxKeys {
			t.mu.Unlock()
			return Position{}, ErrTooManyKeys
		}
	}
	t.seq++
	m := Message{Topic: topic, Position: Position{Epoch: l.epoch, Seq: t.seq}, Time: l.now(), Key: key, Kind: kind, Data: append([]byte(nil), data...)}
	t.hist.add(m)
	t.apply(m)
	t.queue = append(t.queue, m)
	if t.delivering {
		t.mu.Unlock()
		return m.Position, nil
	}
	t.delivering = true
	t.mu.Unlock()
	t.deliver()
	return m.Position, nil
}

// apply updates the topic's keyed state with m (its lock held).
func (t *localTopic) apply(m Message) {
	if m.Key == "" {
		return
	}
	switch m.kind() {
	case Update:
		if t.state == nil {
			t.state = make(map[string]Message)
		}
		t.state[m.Key] = m
	case Delete:
		delete(t.state, m.Key)
	}
}

// Snapshot implements Snapshotter.
func (l *Local) Snapshot(topic string) ([]Message, Position, error) {
	if !ValidTopic(topic) {
		return nil, Position{}, ErrBadTopic
	}
	t, err := l.topic(topic, false)
	if err != nil {
		return nil, Position{}, err
	}
	if t == nil {
		return nil, Position{Epoch: l.epoch}, nil
	}
	defer t.mu.Unlock()
	return sortedState(t.state, true), Position{Epoch: l.epoch, Seq: t.seq}, nil
}

// deliver calls the subscribers with the queued messages, in order, until
// the queue is empty.
func (t *localTopic) deliver() {
	t.dmu.Lock()
	defer t.dmu.Unlock()
	for {
		t.mu.Lock()
		batch, subs := t.queue, t.subs
		t.queue = nil
		if len(batch) == 0 {
			t.delivering = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		for _, m := range batch {
			for _, s := range subs {
				s.call(m)
			}
		}
	}
}

// Subscribe implements Broker.
func (l *Local) Subscribe(topic string, fn func(Message)) (func(), error) {
	if !ValidTopic(topic) {
		return nil, ErrBadTopic
	}
	t, err := l.topic(topic, true)
	if err != nil {
		return nil, err
	}
	s := &localSub{fn: fn}
	t.subs = append(t.subs[:len(t.subs):len(t.subs)], s)
	t.mu.Unlock()
	return func() { l.unsubscribe(topic, t, s) }, nil
}

// unsubscribe removes s and waits for a call of s in progress (so cancel
// must not be called from s itself).
func (l *Local) unsubscribe(name string, t *localTopic, s *localSub) {
	t.mu.Lock()
	subs := make([]*localSub, 0, len(t.subs))
	for _, x := range t.subs {
		if x != s {
			subs = append(subs, x)
		}
	}
	t.subs = subs
	idle := len(t.subs) == 0 && t.seq == 0 // nothing published: no history, no state
	t.mu.Unlock()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	if idle {
		// Nothing to remember: forget the topic (it was only subscribed).
		l.mu.Lock()
		t.mu.Lock()
		if len(t.subs) == 0 && t.seq == 0 && l.topics[name] == t {
			delete(l.topics, name)
		}
		t.mu.Unlock()
		l.mu.Unlock()
	}
}

// History implements Broker.
func (l *Local) History(topic string, since Position) ([]Message, Position, error) {
	if !ValidTopic(topic) {
		return nil, Position{}, ErrBadTopic
	}
	t, err := l.topic(topic, false)
	if err != nil {
		return nil, Position{}, err
	}
	if t == nil {
		return nil, Position{Epoch: l.epoch}, recoverEmpty(l.epoch, since)
	}
	defer t.mu.Unlock()
	last := Position{Epoch: l.epoch, Seq: t.seq}
	if since.Epoch != l.epoch {
		return nil, last, ErrRecoveryFailed
	}
	msgs, ok := t.hist.since(since.Seq, t.seq, l.now())
	if !ok {
		return nil, last, ErrRecoveryFailed
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		m.Data = append([]byte(nil), m.Data...)
		out[i] = m
	}
	return out, last, nil
}

// recoverEmpty answers recovery on a topic with no messages yet: only
// "nothing seen" in the current epoch is recoverable.
func recoverEmpty(epoch uint64, since Position) error {
	if since.Epoch != epoch || since.Seq != 0 {
		return ErrRecoveryFailed
	}
	return nil
}

// Close implements Broker.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}

var (
	_ Broker        = (*Local)(nil)
	_ KindPublisher = (*Local)(nil)
	_ Snapshotter   = (*Local)(nil)
)
