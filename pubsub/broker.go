package pubsub

import (
	"errors"
	"time"

	"github.com/wsloop/wsloop/pubsub/wire"
)

// Position is a place in a topic's stream (see wire.Position): Epoch
// names one run of the topic's history, Seq counts its messages from 1.
type Position = wire.Position

// Message is one message published to a topic.
type Message struct {
	Topic string
	Position
	Time time.Time // when the broker accepted it
	Key  string    // conflation key ("" means none)
	Data []byte
}

// Errors of brokers and hubs.
var (
	// ErrRecoveryFailed means a position cannot be recovered: it is from
	// another epoch, older than the topic's history, or ahead of the
	// topic. The client must take a fresh snapshot.
	ErrRecoveryFailed = errors.New("pubsub: recovery failed: take a fresh snapshot")
	// ErrBadTopic is a topic name outside the rules of ValidTopic.
	ErrBadTopic = errors.New("pubsub: bad topic name")
	// ErrBadKey is a conflation key over MaxKeyLen bytes.
	ErrBadKey = errors.New("pubsub: conflation key longer than 255 bytes")
	// ErrTooLarge is a message over the hub's or broker's size limit.
	ErrTooLarge = errors.New("pubsub: message too large")
	// ErrClosed is returned by a closed broker or hub.
	ErrClosed = errors.New("pubsub: closed")
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
	// m.Data is valid only until fn returns; fn must not block for long
	// (it holds up the topic's delivery). Messages published before
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
// conflation key, in bytes (the binary wire form gives each one byte of
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
