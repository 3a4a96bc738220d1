package pubsub

import (
	"errors"
	"time"

	"github.com/wsloop/wsloop/pubsub/wire"
)

// Position is a place in a topic's stream (see wire.Position): Epoch
// names one run of the topic's history, Seq counts its messages from 1.
type Position = wire.Position

// Kind is what a message does to its topic's keyed state: Update (the
// key's new value), Delete (the key is gone) or Event (a keyed fact, a
// trade: not state, never conflated). A message without a key is never
// state and never conflated, whatever its kind.
type Kind = wire.Kind

// Kinds of messages.
const (
	Update = wire.Publication
	Delete = wire.Delete
	Event  = wire.Event
)

// Message is one message published to a topic.
type Message struct {
	Topic string
	Position
	Time time.Time // when the broker accepted it
	Key  string    // the key: of the topic's keyed state, and of conflation ("" means none)
	Kind Kind      // Update, Delete or Event (0 is Update)
	Data []byte
}

// kind is m.Kind with 0 read as Update.
func (m *Message) kind() Kind {
	if m.Kind == 0 {
		return Update
	}
	return m.Kind
}

// KindPublisher is a Broker that publishes every kind of message: Delete
// and Event as well as Broker.Publish's Update. Local is one.
type KindPublisher interface {
	PublishKind(topic string, kind Kind, key string, data []byte) (Position, error)
}

// Snapshotter is a Broker that keeps each topic's keyed state: the latest
// Update of every key not deleted since. Snapshot returns it as of the
// returned position, the messages in sequence order (the caller's), and
// every message after that position reaches the topic's subscriptions.
// Local is one.
type Snapshotter interface {
	Snapshot(topic string) ([]Message, Position, error)
}

// Errors of brokers and hubs.
var (
	// ErrRecoveryFailed means a position cannot be recovered: it is from
	// another epoch, older than the topic's history, or ahead of the
	// topic. The client must take a fresh snapshot.
	ErrRecoveryFailed = errors.New("pubsub: recovery failed: take a fresh snapshot")
	// ErrBadTopic is a topic name outside the rules of ValidTopic.
	ErrBadTopic = errors.New("pubsub: bad topic name")
	// ErrBadKey is a key over MaxKeyLen bytes, or a Delete without key.
	ErrBadKey = errors.New("pubsub: bad key: empty for a delete, or longer than 255 bytes")
	// ErrTooLarge is a message over the hub's or broker's size limit.
	ErrTooLarge = errors.New("pubsub: message too large")
	// ErrClosed is returned by a closed broker or hub.
	ErrClosed = errors.New("pubsub: closed")
	// ErrTooManyKeys refuses an Update of a new key to a topic that keeps
	// as many keys as its broker allows (LocalMaxKeys); delete keys to
	// make room.
	ErrTooManyKeys = errors.New("pubsub: too many keys in the topic's state")
	// ErrUnsupported is a feature the hub's broker does not have (Delete
	// and Event need a KindPublisher, snapshots and deltas a Snapshotter).
	ErrUnsupported = errors.New("pubsub: not supported by this broker")
)

// Broker carries a hub's topics: it orders each topic's messages (assigns
// epoch and sequence), keeps their bounded history, and delivers them to
// every node that subscribed. NewLocal is the in-process broker of a single
// server; package natsbroker joins several servers through NATS.
//
// All methods are safe from any goroutine.
type Broker interface {
	// Publish appends a message to topic and returns its position. Every
	// subscription to the topic, on every node, receives it exactly once,
	// in sequence order. data and key are not retained after Publish
	// returns.
	Publish(topic, key string, data []byte) (Position, error)

	// Subscribe calls fn with every message published to topic once
	// Subscribe has returned, in sequence order, one call at a time.
	// Neither Subscribe nor History may wait for a call of fn in
	// progress: the Hub calls them holding the lock its fn takes.
	// m.Data is given, not lent: nobody modifies it once fn is called,
	// and fn may keep it (the Hub keeps it as its history and keyed
	// state, so a node stores each payload once). fn must not modify it,
	// nor block for long (it holds up the topic's delivery). Messages published before
	// Subscribe returned may be delivered too. cancel ends the
	// subscription: after it returns fn is not called again; it must not
	// be called from fn.
	Subscribe(topic string, fn func(m Message)) (cancel func(), err error)

	// History returns the topic's messages after since, oldest first, and
	// the topic's latest position. It returns ErrRecoveryFailed when
	// since cannot be recovered (see ErrRecoveryFailed). A topic nobody
	// has published to yet is at Position{Epoch: its epoch, Seq: 0}.
	// The returned messages are the caller's.
	History(topic string, since Position) ([]Message, Position, error)

	// Close releases the broker; later calls return ErrClosed.
	Close() error
}

// MaxTopicLen is the longest topic name, and MaxKeyLen the longest
// key, in bytes (the binary wire form gives each one byte of
// length).
const (
	MaxTopicLen = 255
	MaxKeyLen   = 255
)

// ValidTopic reports whether name can be a topic: 1 to 255 bytes, none of
// them ASCII control characters, space, '*' or '>' (which NATS reserves as
// wildcards), and no empty '.'-separated part, so that every topic is also
// a literal NATS subject token sequence.
func ValidTopic(name string) bool {
	if len(name) == 0 || len(name) > MaxTopicLen {
		return false
	}
	prev := byte('.')
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b <= ' ' || b == 0x7f || b == '*' || b == '>' || (b == '.' && prev == '.') {
			return false
		}
		prev = b
	}
	return prev != '.'
}
