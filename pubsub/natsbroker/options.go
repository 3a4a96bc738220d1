package natsbroker

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsloop/wsloop/pubsub"
)

// Option configures Connect.
type Option func(*config)

type config struct {
	max      int
	ttl      time.Duration
	prefix   string
	replicas int
	nats     []nats.Option
	timeout  time.Duration
	maxKeys  int
}

func defaults() config {
	return config{max: 1000, ttl: 5 * time.Minute, prefix: "wsloop", replicas: 1, timeout: 5 * time.Second, maxKeys: pubsub.DefaultMaxKeys}
}

// WithHistory sets the history window of each topic: History recovers the
// last n messages (0: none), none older than ttl (0: no age limit).
// Default 1000 messages, 5 minutes. The topic's stream
// keeps more (see the package doc). The window is stored with the stream
// when this broker creates it; a stream that already exists keeps the
// window it was created with.
func WithHistory(n int, ttl time.Duration) Option {
	return func(c *config) { c.max, c.ttl = n, ttl }
}

// WithMaxKeys bounds the keyed state of each topic (see the package doc,
// "Keyed state"): an Update of a new key is refused with
// pubsub.ErrTooManyKeys once the topic has n keys. Default
// pubsub.DefaultMaxKeys; n <= 0 keeps the default.
func WithMaxKeys(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxKeys = n
		}
	}
}

// WithNATSOptions adds options of the NATS connection (credentials, TLS,
// reconnect policy, …), applied after the broker's own defaults (name
// "wsloop", unlimited reconnects).
func WithNATSOptions(o ...nats.Option) Option {
	return func(c *config) { c.nats = append(c.nats, o...) }
}

// WithPrefix sets the prefix of the broker's subjects and stream names,
// default "wsloop": topic T is subject "wsloop.T" stored in a stream named
// "wsloop_" followed by an encoding of T. Brokers share topics only when
// they use the same prefix. p is 1 to 32 of the characters A-Z a-z 0-9 _ -.
func WithPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithReplicas sets how many NATS servers of a JetStream cluster keep each
// stream this broker creates (default 1). Use 3 in a three-server cluster
// so that a topic's sequence and history survive the loss of a server.
func WithReplicas(n int) Option {
	return func(c *config) { c.replicas = n }
}

// WithTimeout bounds each request to NATS (publish acknowledgement, stream
// lookup, history fetch); default 5 seconds.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// validPrefix reports whether p is 1 to 32 of A-Z a-z 0-9 _ -: a single
// subject token and a valid part of a stream name.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 32 {
		return false
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}
