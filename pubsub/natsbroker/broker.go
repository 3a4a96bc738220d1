package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsloop/wsloop/pubsub"
)

// Broker is a pubsub.Broker on NATS JetStream: every Broker connected to
// the same NATS system with the same prefix serves the same topics. Its
// methods are safe from any goroutine.
type Broker struct {
	cfg config
	nc  *nats.Conn
	js  jetstream.JetStream

	closed  atomic.Bool
	noBatch atomic.Bool // the server does not answer batched direct gets

	mu     sync.RWMutex // guards topics
	topics map[string]*topic

	wg sync.WaitGroup // feeds' supervisors and consumer clean-ups
}

var (
	_ pubsub.Broker        = (*Broker)(nil)
	_ pubsub.KindPublisher = (*Broker)(nil)
	_ pubsub.Snapshotter   = (*Broker)(nil)
)

// Connect connects to the NATS servers at url (a comma-separated list is
// accepted, as by nats.Connect), which must have JetStream enabled.
func Connect(url string, opts ...Option) (*Broker, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if !validPrefix(cfg.prefix) {
		return nil, fmt.Errorf("natsbroker: bad prefix %q", cfg.prefix)
	}
	if cfg.replicas < 1 || cfg.timeout <= 0 || cfg.max < 0 || cfg.ttl < 0 {
		return nil, errors.New("natsbroker: replicas and timeout must be positive, the history not negative")
	}
	nopts := append([]nats.Option{nats.Name("wsloop"), nats.MaxReconnects(-1)}, cfg.nats...)
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(cfg.timeout))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		_, err = js.AccountInfo(ctx)
		cancel()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbroker: JetStream: %w", err)
	}
	return &Broker{cfg: cfg, nc: nc, js: js, topics: make(map[string]*topic)}, nil
}

// ctx is a context bounded by the broker's timeout.
func (b *Broker) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.cfg.timeout)
}

// wrap maps NATS errors to the pubsub ones where they mean the same.
func (b *Broker) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case b.closed.Load() || errors.Is(err, nats.ErrConnectionClosed):
		return pubsub.ErrClosed
	case errors.Is(err, nats.ErrMaxPayload):
		return pubsub.ErrTooLarge
	}
	return fmt.Errorf("natsbroker: %w", err)
}

// pubOpts: no automatic retry on "no responders"; Publish handles a
// missing stream itself.
var pubOpts = []jetstream.PublishOpt{jetstream.WithRetryAttempts(0)}

// Publish implements pubsub.Broker: PublishKind with pubsub.Update.
func (b *Broker) Publish(topic, key string, data []byte) (pubsub.Position, error) {
	return b.PublishKind(topic, pubsub.Update, key, data)
}

// PublishKind implements pubsub.KindPublisher. It costs one request to
// NATS: the stream's leader stores the message, assigns its sequence and
// answers (plus a lookup of the stream on the topic's first use and every
// 10 seconds, and for a keyed Update or Delete a lookup of the topic's
// state stream at most once a second, and a wait while the state stream
// lags far behind: see the package doc, "Keyed state"). The topic's stream is created by
// the first Publish, Subscribe, History or Snapshot of the topic, its
// state stream by the first keyed Update or Delete. An error once the
// request was sent (a timeout, the connection lost) does not tell whether
// the message was stored.
func (b *Broker) PublishKind(topic string, kind pubsub.Kind, key string, data []byte) (pubsub.Position, error) {
	if !pubsub.ValidTopic(topic) {
		return pubsub.Position{}, pubsub.ErrBadTopic
	}
	if kind == 0 {
		kind = pubsub.Update
	}
	switch {
	case len(key) > pubsub.MaxKeyLen, kind == pubsub.Delete && key == "":
		return pubsub.Position{}, pubsub.ErrBadKey
	case kind != pubsub.Update && kind != pubsub.Delete && kind != pubsub.Event:
		return pubsub.Position{}, pubsub.ErrUnsupported
	}
	if b.closed.Load() {
		return pubsub.Position{}, pubsub.ErrClosed
	}
	t := b.topic(topic)
	ctx, cancel := b.ctx()
	defer cancel()
	msg := &nats.Msg{Subject: t.subject, Header: headers(kind, key), Data: data}
	keyed := key != "" && kind != pubsub.Event
	if keyed {
		msg.Subject = t.keySubject(key)
	}
	for attempt := 0; ; attempt++ {
		base := t.base.Load()
		epoch, err := b.epoch(ctx, t, recheck)
		if err != nil {
			return pubsub.Position{}, err
		}
		if keyed {
			if err := b.admit(ctx, t, epoch, kind, key); err != nil {
				return pubsub.Position{}, err
			}
		}
		if t.stateEpoch.Load() == epoch {
			if err := b.keepUp(ctx, t); err != nil {
				return pubsub.Position{}, err
			}
		}
		ack, err := b.js.PublishMsg(ctx, msg, pubOpts...)
		if errors.Is(err, jetstream.ErrNoStreamResponse) && attempt == 0 {
			// The stream is gone (deleted, or lost with its server):
			// look it up again, which creates it.
			t.forget()
			continue
		}
		if err != nil {
			return pubsub.Position{}, b.wrap(err)
		}
		if ack.Stream != t.stream {
			return pubsub.Position{}, fmt.Errorf("natsbroker: %s stored by stream %s, not %s", t.subject, ack.Stream, t.stream)
		}
		if ack.Sequence <= base {
			// The sequence went back: another node recreated the
			// stream since this one looked. Learn its epoch.
			t.forget()
			if epoch, err = b.epoch(ctx, t, recheck); err != nil {
				return pubsub.Position{}, err
			}
		}
		t.raise(ack.Sequence)
		if kind == pubsub.Delete {
			t.deleted.Store(true)
		}
		return pubsub.Position{Epoch: epoch, Seq: ack.Sequence}, nil
	}
}

// Close implements pubsub.Broker: it ends every subscription (their
// functions are not called once Close returns), deletes this broker's
// consumers and closes the NATS connection. Streams, and so the topics'
// sequences and history, stay in NATS.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.mu.RLock()
	topics := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.RUnlock()
	for _, t := range topics {
		t.subMu.Lock()
		if f := t.feed.Swap(nil); f != nil {
			f.stop()
		}
		t.subMu.Unlock()
	}
	b.wg.Wait()
	b.nc.Close()
	return nil
}

// deleteConsumer removes a consumer this broker no longer reads, in the
// background (the server would also drop it after its inactivity
// threshold).
func (b *Broker) deleteConsumer(stream, name string) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), min(b.cfg.timeout, time.Second))
		defer cancel()
		_ = b.js.DeleteConsumer(ctx, stream, name)
	}()
}
