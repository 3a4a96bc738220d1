package poller

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/wsloop/wsloop/codec"
)

// Defaults applied by Config.withDefaults to zero fields.
const (
	DefaultMaxMessageSize   = 16 << 20
	DefaultMailboxSize      = 64
	DefaultMaxQueuedBytes   = 256 << 20
	DefaultMaxInboundBuffer = 4 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultPongTimeout      = 20 * time.Second
	DefaultReadBufferCap    = 64 << 10
	DefaultMaxOutbound      = 4 << 20
	DefaultCompressMin      = 256
	DefaultConflateAbove    = 64 << 10
	DefaultGoingAwayReason  = "server shutting down"
)

// SlowConsumerPolicy says what happens to a connection whose peer does not
// read as fast as the server sends.
type SlowConsumerPolicy uint8

// Slow-consumer policies.
const (
	// SlowClose closes the connection with 1008 "slow consumer" and drops
	// what is queued for it (the default).
	SlowClose SlowConsumerPolicy = iota
	// SlowDrop drops the message being sent and counts it; the connection
	// stays open and later messages go out once its backlog falls under
	// half of the cap.
	SlowDrop
)

// AuthFunc decides whether an upgrade may proceed; see Config.Auth.
type AuthFunc func(req *codec.Request, remote net.Addr) (identity any, err error)

// Config is the engine's configuration. The server package fills it from its
// functional options; a zero field means "use the default" unless its
// comment says otherwise.
type Config struct {
	// EventLoops is the number of gnet event loops; 0 means one per CPU.
	EventLoops int
	// Workers is the number of worker goroutines running handlers; 0 means
	// 4 per CPU (at least 4).
	Workers int
	// InlineHandlers runs the Handler on the event loops instead of the
	// worker pool: OnOpen, OnMessage and OnClose are called on the
	// connection's loop, in order, and the replies they Send are written
	// when the loop finishes the read that delivered the message, in the
	// same write as the other frames it owes the connection, with no
	// hand-off between goroutines. The handler must never block: while it
	// runs, every other connection of its loop waits. For handlers that
	// only compute and Send (echo, routing, fan-out), not for ones that
	// call databases or wait on locks held elsewhere.
	InlineHandlers bool
	// MailboxSize bounds the messages queued for one connection's handler;
	// when it is reached the connection's input is not decoded any further
	// until its worker catches up.
	MailboxSize int
	// MaxQueuedBytes bounds the bytes of all messages queued for handlers on
	// all connections, and a quarter of it those of one connection; a
	// connection whose message would pass either waits like one with a
	// full mailbox.
	MaxQueuedBytes int64
	// MaxInboundBuffer caps the bytes gnet may hold for a connection whose
	// decoding is paused; past it the connection is closed with 1008.
	MaxInboundBuffer int
	// MaxMessageSize is the largest message accepted, in bytes (RFC 6455
	// §10.4); larger ones are refused with 1009 before they are buffered.
	MaxMessageSize int64
	// MaxHeadSize caps the HTTP request head (431 past it).
	MaxHeadSize int
	// HandshakeTimeout closes a connection that has not completed its
	// upgrade in time.
	HandshakeTimeout time.Duration
	// IdleTimeout closes (1001) a connection that sent nothing for this
	// long; 0 disables it (the default: heartbeats find dead peers).
	IdleTimeout time.Duration
	// PingInterval is how long a connection may stay silent before the
	// server pings it; negative disables heartbeats.
	PingInterval time.Duration
	// KeepAlive, when positive, has the kernel find dead peers instead of
	// WebSocket pings: TCP keepalive probes after KeepAlive of silence,
	// then every KeepAlive/4 (at least 1 s), and the connection is reset
	// after 4 unanswered probes, or when data it sent stays unacknowledged
	// for twice KeepAlive (TCP_USER_TIMEOUT). The probes cost no user-space
	// work at all: a million idle connections stay asleep. Combine with a
	// PingInterval (e.g. minutes) only where a proxy in between needs
	// application traffic to keep the connection. On Linux it is set once,
	// on the listening sockets, which accepted connections inherit; on
	// other systems, per connection, without the user timeout.
	KeepAlive time.Duration
	// PongTimeout is how long the server waits for any frame after a ping
	// before it sends 1011 and drops the connection.
	PongTimeout time.Duration
	// CloseTimeout is how long the server waits for the peer's close frame
	// after sending its own before it drops TCP.
	CloseTimeout time.Duration
	// GoingAwayReason is the reason of the 1001 Going Away close frame that
	// Shutdown sends to every connection (RFC 6455 §7.4.1); "" means
	// DefaultGoingAwayReason. It is the place for a hint to the client,
	// e.g. "restart: reconnect" when another server takes over. Cut to 123
	// bytes (§5.5).
	GoingAwayReason string
	// ReusePort gives every event loop its own SO_REUSEPORT listener, so
	// that several processes can share one port. On Linux, Shutdown takes
	// this process's listeners on the address out of the port's group
	// first (leaveReusePortGroup), so new connections go to the others.
	ReusePort bool
	// ReadBufferCap is gnet's per-loop read buffer (bytes per OnTraffic)
	// and the input one connection may have decoded per round of its loop.
	ReadBufferCap int
	// KeepRequest keeps each connection's upgrade request after OnOpen;
	// by default Conn.Request is nil once OnOpen returned.
	KeepRequest bool
	// TrimMemory returns free heap pages to the OS once the connection
	// count settles after moving by 10% (and at least 1000). It is
	// process-wide (debug.FreeOSMemory), hence off by default for a library;
	// cmd/wsloop turns it on.
	TrimMemory bool
	// HTTP answers plain HTTP requests that are not WebSocket upgrades. It
	// runs on the event loop and must not block. nil answers 426.
	HTTP HTTPHandler

	// Compression enables permessage-deflate (RFC 7692) for clients that
	// offer it, always without context takeover in either direction.
	Compression bool
	// CompressLevel is the flate level for outgoing messages (1-9); 0
	// means 1 (flate.BestSpeed).
	CompressLevel int
	// CompressMin is the smallest payload compressed; smaller messages
	// go out uncompressed (RFC 7692 §6: per message). 0 means
	// DefaultCompressMin; negative compresses everything.
	CompressMin int
	// ConflateAbove is when a conflating Fanout member counts as behind:
	// more than this many bytes wait in its socket's outbound buffer.
	// 0 means DefaultConflateAbove.
	ConflateAbove int
	// Subprotocols are the protocols the server speaks; it picks the first
	// of the client's offers that is among them (RFC 6455 §4.2.2).
	Subprotocols []string
	// Origins, when not empty, is the Origin allowlist: full origins
	// ("https://app.example.com") or host patterns ("example.com",
	// "*.example.com"). A request with another Origin gets 403; one with
	// none (a non-browser client) is allowed.
	Origins []string
	// Auth, when set, runs for each upgrade request on a worker goroutine
	// (never on an event loop, so it may do slow work) before the 101 is
	// sent. A nil error accepts, and identity is attached to the
	// connection (Conn.Identity); an error rejects: with the status and
	// reason of a *Rejection, or 403 for any other error.
	Auth AuthFunc
	// MaxConns limits upgraded plus upgrading connections; further
	// upgrades get 503 with Retry-After. 0: no limit.
	MaxConns int
	// MaxConnsPerIP limits connections per client IP; further upgrades
	// get 429 with Retry-After. 0: no limit.
	MaxConnsPerIP int
	// UpgradeRate limits accepted upgrades per second over the whole
	// server (token bucket, burst UpgradeBurst or one second's worth);
	// excess upgrades get 503 with Retry-After. 0: no limit.
	UpgradeRate  float64
	UpgradeBurst int
	// RateMessages and RateBytes limit what each connection may send per
	// second (token buckets with a burst of one second's worth, or
	// RateBurst seconds' worth); a connection over either is closed with
	// 1008. 0: no limit.
	RateMessages float64
	RateBytes    float64
	RateBurst    float64
	// MaxOutbound caps the bytes queued for one connection's peer; when a
	// message is sent while more than this waits, SlowConsumer applies.
	// A single message is always accepted by an empty queue, whatever its
	// size. 0 means DefaultMaxOutbound; negative: no cap.
	MaxOutbound  int
	SlowConsumer SlowConsumerPolicy
	// TLSAddr and TLSConfig serve wss on a separate listener whose
	// connections are decrypted by crypto/tls and then handled like any
	// other (same codec, same Handler). TLSConfig nil: no TLS listener.
	TLSAddr   string
	TLSConfig *tls.Config
	// TrustedProxies are the peers whose PROXY protocol headers and
	// X-Forwarded-For fields are believed.
	TrustedProxies []netip.Prefix
	// ProxyProtocol expects a PROXY protocol header (v1 or v2) at the start
	// of every connection from a trusted proxy.
	ProxyProtocol bool
	// ForwardedFor takes the client address from X-Forwarded-For on
	// upgrades from a trusted proxy.
	ForwardedFor bool
	// HealthPath is answered 200 while serving and 503 while draining, on
	// the WebSocket port; "" means "/healthz", "-" turns it off.
	HealthPath string
	// Logger receives rejected upgrades and abnormal closes at info and
	// per-connection events at debug; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.EventLoops <= 0 {
		c.EventLoops = runtime.NumCPU()
	}
	if c.Workers <= 0 {
		c.Workers = max(4, 4*runtime.NumCPU())
	}
	if c.MailboxSize <= 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.MaxInboundBuffer <= 0 {
		c.MaxInboundBuffer = DefaultMaxInboundBuffer
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxHeadSize <= 0 {
		c.MaxHeadSize = codec.DefaultMaxHeadSize
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.GoingAwayReason == "" {
		c.GoingAwayReason = DefaultGoingAwayReason
	}
	if c.ReadBufferCap <= 0 {
		c.ReadBufferCap = DefaultReadBufferCap
	}
	if c.CompressLevel <= 0 || c.CompressLevel > 9 {
		c.CompressLevel = 1
	}
	if c.CompressMin == 0 {
		c.CompressMin = DefaultCompressMin
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = DefaultMaxOutbound
	}
	if c.ConflateAbove <= 0 {
		c.ConflateAbove = DefaultConflateAbove
	}
	if c.MaxOutbound > 1<<30 {
		c.MaxOutbound = 1 << 30
	}
	if c.HealthPath == "" {
		c.HealthPath = "/healthz"
	}
	if c.TLSConfig != nil && c.TLSAddr == "" {
		c.TLSAddr = "127.0.0.1:8443"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// sweepEvery is how often each loop checks its connections' timers: a
// quarter of the shortest timeout, between 50 ms and 1 s.
func (c Config) sweepEvery() time.Duration {
	d := c.HandshakeTimeout
	for _, t := range []time.Duration{c.IdleTimeout, c.PingInterval, c.PongTimeout, c.CloseTimeout} {
		if t > 0 && t < d {
			d = t
		}
	}
	return min(max(d/4, 50*time.Millisecond), time.Second)
}
