package natsbroker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/wsloop/wsloop/pubsub"
)

// Consumer settings of a feed: how many messages a pull may have in
// flight, how often an idle server proves the consumer alive, and how long
// the server keeps a consumer nobody pulls from (a crashed node's).
const (
	pullBatch   = 1000
	heartbeat   = 5 * time.Second
	inactiveFor = time.Minute
)

// errDisconnected: the NATS connection is down (reconnecting).
var errDisconnected = errors.New("natsbroker: not connected")

// errEpochMoved: the stream was recreated while a consumer was being set
// up on it.
var errEpochMoved = errors.New("natsbroker: stream recreated during subscribe")

// Subscribe implements pubsub.Broker. A broker reads each topic through a
// single JetStream consumer, however many times the topic is subscribed:
// the first Subscribe of a topic creates it (a few requests to NATS),
// later ones only add fn. fn is called on the consumer's goroutine with
// the broker's lock of the topic held: it must not call Subscribe or a
// cancel function of the same topic.
//
// If the topic's stream is lost while subscribed (deleted, or its server
// lost its storage), delivery goes on in the new stream's epoch, from its
// first message.
func (b *Broker) Subscribe(topic string, fn func(pubsub.Message)) (func(), error) {
	if !pubsub.ValidTopic(topic) {
		return nil, pubsub.ErrBadTopic
	}
	if b.closed.Load() {
		return nil, pubsub.ErrClosed
	}
	t := b.topic(topic)
	t.subMu.Lock()
	defer t.subMu.Unlock()
	if b.closed.Load() {
		return nil, pubsub.ErrClosed
	}
	f := t.feed.Load()
	if f == nil {
		var err error
		if f, err = b.startFeed(t); err != nil {
			return nil, err
		}
		t.feed.Store(f)
	}
	// Copied on write, without f.mu: Subscribe does not wait for a
	// delivery in progress (see posMu); the next message goes to s.
	s := &sub{fn: fn}
	subs := []*sub{s}
	if old := f.subs.Load(); old != nil {
		subs = append(slices.Clone(*old), s)
	}
	f.subs.Store(&subs)
	var once sync.Once
	return func() { once.Do(func() { b.unsubscribe(t, f, s) }) }, nil
}

func (b *Broker) unsubscribe(t *topic, f *feed, s *sub) {
	t.subMu.Lock()
	defer t.subMu.Unlock()
	// Under f.mu: once cancel returns, no delivery calls s.fn.
	f.mu.Lock()
	var subs []*sub
	if old := f.subs.Load(); old != nil {
		subs = slices.DeleteFunc(slices.Clone(*old), func(x *sub) bool { return x == s })
	}
	f.subs.Store(&subs)
	idle := len(subs) == 0
	f.mu.Unlock()
	if idle && t.feed.CompareAndSwap(f, nil) {
		f.stop()
	}
}

// position is where f's delivery is: the last message handed to the
// subscriptions (or the stream's end when the feed started). ok is false
// while f is not delivering (stopped, or replacing a failed consumer).
func (f *feed) position() (p pubsub.Position, ok bool) {
	f.posMu.Lock()
	defer f.posMu.Unlock()
	ok = !f.stopped && f.gen != nil && !f.gen.dead.Load()
	return pubsub.Position{Epoch: f.epoch, Seq: f.last}, ok
}

// sub is one Subscribe call.
type sub struct{ fn func(pubsub.Message) }

// feed is a topic's delivery on one broker: a JetStream consumer (the
// current generation) whose messages it hands to every subscription of
// the topic on this broker, in stream order, one at a time.
//
// A generation is bound to the stream it was created on, so it can never
// deliver a recreated stream's messages under the old epoch. It is
// replaced when it fails: a delivery went missing (the consumer sequence
// skipped) or NATS reported an error (consumer deleted with its stream,
// heartbeats lost, no responders after a server restart). The supervisor
// then looks the stream up again and opens a new consumer just after the
// last message delivered, or at the start of the stream if its epoch
// changed.
type feed struct {
	b       *Broker
	t       *topic
	restart chan struct{} // capacity 1: the current generation failed
	done    chan struct{} // closed by stop

	mu   sync.Mutex             // held while subscriptions are called
	subs atomic.Pointer[[]*sub] // replaced, never modified; writers hold t.subMu
	// posMu also guards the fields below, which are written with both
	// locks held: position reads them under posMu alone, because it must
	// not wait for a delivery (the hub asks for a topic's position
	// holding the lock its subscription's fn takes).
	posMu   sync.Mutex
	epoch   uint64
	last    uint64 // stream sequence delivered last, or where delivery began
	gen     *generation
	stopped bool
}

// generation is one consumer of a feed.
type generation struct {
	f    *feed
	name string
	cons jetstream.Consumer
	dseq uint64 // consumer sequence delivered last; guarded by f.mu
	dead atomic.Bool

	mu sync.Mutex // guards cc
	cc jetstream.ConsumeContext
}

// startFeed opens t's feed at the end of its stream: every message stored
// after startFeed returns is delivered.
func (b *Broker) startFeed(t *topic) (*feed, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	f := &feed{b: b, t: t, restart: make(chan struct{}, 1), done: make(chan struct{})}
	var err error
	for range 3 {
		var info *jetstream.StreamInfo
		if info, f.epoch, err = b.streamInfo(ctx, t, true); err != nil {
			return nil, err
		}
		f.last = info.State.LastSeq
		if f.gen, err = f.open(ctx, f.epoch, f.last+1); !errors.Is(err, errEpochMoved) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err = f.gen.consume(); err != nil {
		f.gen.stop()
		return nil, err
	}
	b.wg.Add(1)
	go f.supervise()
	return f, nil
}

// open creates a consumer of f's stream from sequence next and checks that
// the stream still has the given epoch (so that the consumer reads that
// stream and not one recreated after the caller looked).
func (f *feed) open(ctx context.Context, epoch, next uint64) (*generation, error) {
	b, t := f.b, f.t
	g := &generation{f: f, name: "wsloop_" + nuid.Next()}
	var err error
	g.cons, err = b.js.CreateConsumer(ctx, t.stream, jetstream.ConsumerConfig{
		Name:              g.name,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       next,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: inactiveFor,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return nil, b.wrap(err)
	}
	_, e, err := b.streamInfo(ctx, t, false)
	if err == nil && e != epoch {
		err = errEpochMoved
	}
	if err != nil {
		b.deleteConsumer(t.stream, g.name)
		return nil, err
	}
	return g, nil
}

// consume starts pulling g's messages.
func (g *generation) consume() error {
	cc, err := g.cons.Consume(g.handle,
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) { g.fail() }),
		jetstream.PullMaxMessages(pullBatch),
		jetstream.PullHeartbeat(heartbeat))
	if err != nil {
		return g.f.b.wrap(err)
	}
	g.mu.Lock()
	g.cc = cc
	g.mu.Unlock()
	return nil
}

// handle delivers one message of g to the feed's subscriptions.
func (g *generation) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		g.fail()
		return
	}
	f := g.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != g || f.stopped {
		return
	}
	if md.Sequence.Consumer != g.dseq+1 {
		// A delivery went missing: reopen after f.last.
		g.fail()
		return
	}
	g.dseq = md.Sequence.Consumer
	if md.Sequence.Stream <= f.last {
		return // already delivered by the previous generation
	}
	f.posMu.Lock()
	f.last = md.Sequence.Stream
	f.posMu.Unlock()
	m := pubsub.Message{
		Topic:    f.t.name,
		Position: pubsub.Position{Epoch: f.epoch, Seq: f.last},
		Time:     md.Timestamp,
		Data:     msg.Data(),
	}
	m.Key, m.Kind = messageHeaders(msg.Headers())
	if subs := f.subs.Load(); subs != nil {
		for _, s := range *subs {
			s.fn(m)
		}
	}
}

// fail marks g failed and wakes the supervisor (once per generation).
func (g *generation) fail() {
	if g.dead.CompareAndSwap(false, true) {
		select {
		case g.f.restart <- struct{}{}:
		default:
		}
	}
}

// stop stops pulling g's messages and deletes its consumer (in the
// background). Messages of g already received are dropped by handle once
// g is no longer f.gen.
func (g *generation) stop() {
	g.dead.Store(true)
	g.mu.Lock()
	cc := g.cc
	g.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
	g.f.b.deleteConsumer(g.f.t.stream, g.name)
}

// supervise replaces failed generations until the feed stops, retrying
// with a growing delay (up to 1 s) while NATS cannot be reached.
func (f *feed) supervise() {
	defer f.b.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case <-f.restart:
		}
		// Attempts get longer too: a request sent just as the server
		// went away is lost, and should not hold the feed for the
		// broker's whole timeout.
		limit := 250 * time.Millisecond
		for delay := 50 * time.Millisecond; f.reopen(limit) != nil; delay = min(2*delay, time.Second) {
			limit = min(2*limit, f.b.cfg.timeout)
			select {
			case <-f.done:
				return
			case <-time.After(delay):
			}
		}
	}
}

// reopen replaces f's generation by a new consumer after the last message
// delivered, or from the start of a recreated stream, within limit.
func (f *feed) reopen(limit time.Duration) error {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil
	}
	old, epoch, next := f.gen, f.epoch, f.last+1
	f.posMu.Lock()
	f.gen = nil
	f.posMu.Unlock()
	f.mu.Unlock()
	if old != nil {
		old.stop()
	}
	if !f.b.nc.IsConnected() {
		// Requests made now would wait in the reconnect buffer for as
		// long as the broker's timeout; try again soon instead.
		return errDisconnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// A feed does not create the stream: if it was deleted, the next
	// Publish (or History) creates it, and the feed follows then.
	_, e, err := f.b.streamInfo(ctx, f.t, false)
	if err != nil {
		return err
	}
	if e != epoch {
		next = 1
	}
	g, err := f.open(ctx, e, next)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		g.stop()
		return nil
	}
	f.posMu.Lock()
	if e != f.epoch {
		f.epoch, f.last = e, 0
	}
	f.gen = g
	f.posMu.Unlock()
	if err := g.consume(); err != nil {
		f.posMu.Lock()
		f.gen = nil
		f.posMu.Unlock()
		g.stop()
		return err
	}
	return nil
}

// stop ends the feed: no subscription is called once it returns.
func (f *feed) stop() {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	f.posMu.Lock()
	f.stopped = true
	g := f.gen
	f.gen = nil
	f.subs.Store(nil)
	f.posMu.Unlock()
	f.mu.Unlock()
	close(f.done)
	if g != nil {
		g.stop()
	}
}
