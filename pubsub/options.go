package pubsub

import (
	"time"

	"github.com/wsloop/wsloop/jwtauth"
)

// config is a Hub's settings.
type config struct {
	broker     Broker
	historyN   int
	historyTTL time.Duration
	maxSubs    int
	maxErrors  int
	maxData    int
	verifier   *jwtauth.Verifier
	maxPerUser int
	maxKeys    int
}

// Defaults of a Hub.
const (
	DefaultHistory          = 1000
	DefaultHistoryTTL       = 5 * time.Minute
	DefaultMaxSubscriptions = 1000
	DefaultMaxErrors        = 10
	DefaultMaxData          = 1 << 20
	DefaultMaxKeys          = 100_000
)

func defaultConfig() config {
	return config{
		historyN: DefaultHistory, historyTTL: DefaultHistoryTTL,
		maxSubs: DefaultMaxSubscriptions, maxErrors: DefaultMaxErrors, maxData: DefaultMaxData,
		maxKeys: DefaultMaxKeys,
	}
}

// Option configures a Hub.
type Option func(*config)

// WithBroker carries the hub's topics through b (for example a
// natsbroker.Broker) instead of a Local broker of its own. The hub closes
// b in Close.
func WithBroker(b Broker) Option { return func(c *config) { c.broker = b } }

// WithHistory keeps each topic's last n messages, none older than ttl (0:
// no age limit), for recovery: in the default Local broker, or, with a
// broker whose history is elsewhere (NATS), in the hub's ring of messages
// recently delivered here. A Local broker's history is the hub's: the
// messages are kept once. Defaults: 1000, 5 min.
func WithHistory(n int, ttl time.Duration) Option {
	return func(c *config) { c.historyN, c.historyTTL = n, ttl }
}

// WithMaxSubscriptions limits the topics one connection subscribes to
// (error "too_many_subscriptions" past it). Default 1000.
func WithMaxSubscriptions(n int) Option { return func(c *config) { c.maxSubs = n } }

// WithMaxErrors is how many invalid messages a connection may send before
// the hub closes it with 1008 (policy violation). Default 10.
func WithMaxErrors(n int) Option { return func(c *config) { c.maxErrors = n } }

// WithMaxData limits the data of one publication, bytes (Publish returns
// ErrTooLarge past it). Default 1 MiB.
func WithMaxData(n int) Option { return func(c *config) { c.maxData = n } }

// WithMaxKeys bounds the keys of each topic's state in the default Local
// broker (LocalMaxKeys): an Update of a new key past n is refused with
// ErrTooManyKeys. Default 100,000.
func WithMaxKeys(n int) Option { return func(c *config) { c.maxKeys = n } }
