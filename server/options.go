package server

import (
	"log/slog"
	"time"

	"github.com/wsloop/wsloop/poller"
)

// Config is a Server's configuration, which options set; a zero field
// means the default. Build it with options rather than by hand.
type Config poller.Config

// Option configures a Server; pass options to New.
type Option func(*Config)

// WithEventLoops sets the number of event loops (default: one per CPU).
func WithEventLoops(n int) Option { return func(c *Config) { c.EventLoops = n } }

// WithWorkers sets the number of worker goroutines that run the Handler
// (default: 4 per CPU, at least 4). Handlers that block hold a worker.
func WithWorkers(n int) Option { return func(c *Config) { c.Workers = n } }

// WithInlineHandlers runs the Handler on the event loops instead of the
// worker pool, as nbio's non-blocking mode does: a message costs no hand-off
// between goroutines, and the replies a handler Sends go out in the same
// write as the loop's other frames for the connection, when the loop has
// finished the read that delivered the message. The contract: the handler
// must never block (no I/O, no waiting on locks held elsewhere, no long
// computation), because while it runs every other connection of its loop
// waits; a handler that blocks stalls a loop's share of the connections,
// heartbeats included. Order is as with the pool: OnOpen, each message,
// OnClose, never concurrently. WithWorkers and WithMailboxSize then only
// matter for the auth hook (WithAuth), which still runs on a worker.
func WithInlineHandlers() Option { return func(c *Config) { c.InlineHandlers = true } }

// WithMailboxSize bounds the messages queued for one connection's handler
// (default 64). When it is full the server stops decoding that connection
// until the handler catches up; its bytes wait in the kernel and gnet.
func WithMailboxSize(n int) Option { return func(c *Config) { c.MailboxSize = n } }

// WithMaxQueuedBytes bounds the bytes of the messages queued for handlers
// on all connections together (default 256 MiB), and a quarter of it those
// of one connection, so that one peer cannot pause the others. Past either,
// decoding pauses as with a full mailbox.
func WithMaxQueuedBytes(n int64) Option { return func(c *Config) { c.MaxQueuedBytes = n } }

// WithMaxInboundBuffer caps what the server holds for one connection whose
// decoding is paused (default 4 MiB); past it the connection is closed with
// 1008.
func WithMaxInboundBuffer(n int) Option { return func(c *Config) { c.MaxInboundBuffer = n } }

// WithMaxMessageSize sets the largest message accepted, in bytes (default
// 16 MiB). Larger ones are refused with close code 1009 as soon as a frame
// header declares them, before anything is buffered.
func WithMaxMessageSize(n int64) Option { return func(c *Config) { c.MaxMessageSize = n } }

// WithMaxRequestHeadSize caps the HTTP upgrade request head (default
// 8 KiB); a longer one is answered 431.
func WithMaxRequestHeadSize(n int) Option { return func(c *Config) { c.MaxHeadSize = n } }

// WithHandshakeTimeout closes connections that have not completed the
// upgrade within d (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *Config) { c.HandshakeTimeout = d }
}

// WithIdleTimeout closes, with 1001, connections that sent nothing for d
// (default 0: off; the heartbeat finds dead peers).
func WithIdleTimeout(d time.Duration) Option { return func(c *Config) { c.IdleTimeout = d } }

// WithKeepAlive makes the kernel find dead peers with TCP keepalive
// probes: after d of silence, then every d/4 (at least 1 s), resetting the
// connection after 4 unanswered probes or when sent data stays
// unacknowledged for 2d (TCP_USER_TIMEOUT, Linux). No user-space work at
// all, so it is the heartbeat for very many idle connections; pair it
// with WithPingInterval(-1) to turn WebSocket pings off, or with a long
// ping interval where a proxy needs application traffic. Off by default.
func WithKeepAlive(d time.Duration) Option { return func(c *Config) { c.KeepAlive = d } }

// WithPingInterval sets how long a connection may be silent before the
// server pings it (default 30 s); a negative d disables heartbeats.
func WithPingInterval(d time.Duration) Option {
	return func(c *Config) { c.PingInterval = d }
}

// WithPongTimeout sets how long the server waits for the peer after a ping
// (default 20 s); then it sends 1011 and drops the connection, as Python's
// websockets does for a keepalive timeout.
func WithPongTimeout(d time.Duration) Option { return func(c *Config) { c.PongTimeout = d } }

// WithGoingAwayReason sets the reason of the 1001 Going Away close frame
// Shutdown sends (default "server shutting down"), e.g. "restart:
// reconnect" when another server takes over at once.
func WithGoingAwayReason(reason string) Option {
	return func(c *Config) { c.GoingAwayReason = reason }
}

// WithCloseTimeout sets how long the server waits for the peer's close
// frame after sending its own (default 5 s) before it drops TCP.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *Config) { c.CloseTimeout = d }
}

// WithReusePort gives each event loop its own SO_REUSEPORT listener, so
// that several server processes can share one port (Linux, FreeBSD). On
// Linux, Shutdown takes all of this process's SO_REUSEPORT listeners on
// the address out of the port's group: run one such server per process.
func WithReusePort(on bool) Option { return func(c *Config) { c.ReusePort = on } }

// WithReadBufferCap sets gnet's per-loop read buffer (default 64 KiB): the
// most bytes one read hands to the decoder, and the most input of one
// connection decoded per round of its event loop (the rest waits for the
// next round, so one peer cannot hold its loop).
func WithReadBufferCap(n int) Option { return func(c *Config) { c.ReadBufferCap = n } }

// WithHTTPHandler answers plain HTTP requests on the WebSocket port (those
// that are not upgrades), e.g. health checks. h runs on an event loop and
// must not block. Without it such requests get 426 Upgrade Required.
func WithHTTPHandler(h HTTPHandler) Option { return func(c *Config) { c.HTTP = h } }

// WithKeepRequest keeps every connection's upgrade request (Conn.Request)
// for its whole life, not only during OnOpen. Off by default: a request
// head costs 150-500 bytes per connection, more than everything else an
// idle connection holds.
func WithKeepRequest(on bool) Option { return func(c *Config) { c.KeepRequest = on } }

// WithLogger sets the logger: rejected upgrades and abnormal closes at
// info, nothing per message. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithMemoryTrim returns the Go heap's free pages to the operating system
// once the connection count settles after a large change (a storm of
// connects or disconnects), so that RSS follows the connections' live state
// instead of the runtime's heap goal. It acts process-wide
// (runtime/debug.FreeOSMemory), so it is off by default; cmd/wsloop turns
// it on.
func WithMemoryTrim(on bool) Option { return func(c *Config) { c.TrimMemory = on } }
