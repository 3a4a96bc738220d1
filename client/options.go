package client

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Option configures a Client (New, Dial).
type Option func(*config)

type config struct {
	header        http.Header
	protocols     []string
	compress      bool
	compressLevel int
	compressMin   int
	tls           *tls.Config
	dialTimeout   time.Duration
	netDial       func(ctx context.Context, network, addr string) (net.Conn, error)
	writeTimeout  time.Duration
	pingInterval  time.Duration
	pongTimeout   time.Duration
	reconnect     bool
	backoffMin    time.Duration
	backoffMax    time.Duration
	maxMessage    int64
	maxQueued     int

	onOpen    func(*Client)
	onMessage func(*Client, Message)
	onClose   func(*Client, error)
	onError   func(*Client, error)
}

func defaultConfig() config {
	return config{
		compressLevel: 1,
		compressMin:   256,
		dialTimeout:   10 * time.Second,
		writeTimeout:  10 * time.Second,
		pingInterval:  30 * time.Second,
		pongTimeout:   20 * time.Second,
		reconnect:     true,
		backoffMin:    100 * time.Millisecond,
		backoffMax:    30 * time.Second,
		maxMessage:    16 << 20,
		maxQueued:     4 << 20,
	}
}

// WithHeader adds HTTP headers to the upgrade request (e.g. Authorization,
// Origin). h is not copied; do not modify it after New.
func WithHeader(h http.Header) Option { return func(c *config) { c.header = h } }

// WithSubprotocols offers subprotocols (Sec-WebSocket-Protocol) in order of
// preference; Client.Subprotocol reports the one the server chose.
func WithSubprotocols(p ...string) Option { return func(c *config) { c.protocols = p } }

// WithCompression offers permessage-deflate (RFC 7692) without context
// takeover in either direction, so a connection keeps no compressor
// between messages. level is the compress/flate level used for outgoing
// messages; messages shorter than min bytes go out uncompressed (0 means
// 256, negative compresses everything).
func WithCompression(level, min int) Option {
	return func(c *config) {
		c.compress, c.compressLevel, c.compressMin = true, level, min
		if min == 0 {
			c.compressMin = 256
		}
	}
}

// WithTLSConfig sets the TLS configuration for wss:// URLs.
func WithTLSConfig(t *tls.Config) Option { return func(c *config) { c.tls = t } }

// WithDialTimeout bounds each connection attempt (TCP, TLS and upgrade).
// Default 10 s.
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// WithNetDial replaces the TCP dial (net.Dialer's DialContext by default),
// e.g. to choose the source address, dial through a proxy or from another
// network namespace. fn is called from the client's goroutine at every
// (re)connect, with the dial timeout in ctx; TLS, when the URL is wss,
// is layered on the connection it returns.
func WithNetDial(fn func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *config) { c.netDial = fn }
}

// WithWriteTimeout bounds each write to the socket (default 10 s); a write
// that times out fails the connection, which is then reconnected.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// WithHeartbeat pings the server every interval and fails the connection
// when nothing (pong or any other frame) arrives within interval+timeout
// of the last frame: this finds half-open connections whose peer vanished
// without a FIN. Default 30 s and 20 s; interval <= 0 disables it.
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(c *config) { c.pingInterval, c.pongTimeout = interval, timeout }
}

// WithReconnect sets the reconnect backoff: the n-th consecutive failed
// attempt waits a uniformly random time in [0, min(max, min·2ⁿ)] ("full
// jitter"). Defaults 100 ms and 30 s.
func WithReconnect(min, max time.Duration) Option {
	return func(c *config) { c.reconnect, c.backoffMin, c.backoffMax = true, min, max }
}

// WithoutReconnect disables reconnection: the client stops (Done is
// closed) when its first connection ends.
func WithoutReconnect() Option { return func(c *config) { c.reconnect = false } }

// WithMaxMessageSize limits incoming messages (after decompression);
// larger ones fail the connection with 1009. Default 16 MiB.
func WithMaxMessageSize(n int64) Option { return func(c *config) { c.maxMessage = n } }

// WithMaxQueuedBytes bounds the bytes of frames queued for the socket and
// not yet written; Send fails with ErrQueueFull beyond it. Default 4 MiB.
func WithMaxQueuedBytes(n int) Option { return func(c *config) { c.maxQueued = n } }

// OnOpen is called on the client's goroutine after each successful
// connection (the first and every reconnection), before any message of it
// is delivered and after topics were resubscribed.
func OnOpen(fn func(*Client)) Option { return func(c *config) { c.onOpen = fn } }

// OnMessage is called on the client's goroutine with every message that is
// not a topic publication or answer, in order. m.Data is valid only until
// fn returns (it is a pooled buffer); copy it to keep it. fn may call any
// method of the client; while it runs no further message is read.
func OnMessage(fn func(*Client, Message)) Option { return func(c *config) { c.onMessage = fn } }

// OnClose is called on the client's goroutine each time a connection ends,
// with why: a *CloseError when the server sent a close frame, else the
// read, write or heartbeat error. Reconnection follows unless the client
// was closed or WithoutReconnect was given.
func OnClose(fn func(*Client, error)) Option { return func(c *config) { c.onClose = fn } }

// OnError is called on the client's goroutine with failed connection
// attempts and with protocol-level errors (e.g. a topic error answer
// without a subscription to report it to).
func OnError(fn func(*Client, error)) Option { return func(c *config) { c.onError = fn } }

// WithChannel delivers messages to ch instead of OnMessage: a thin
// adapter over OnMessage that copies m.Data, so a received Message is the
// receiver's to keep. The client's goroutine blocks while ch is full,
// which stops reading (backpressure to the server).
func WithChannel(ch chan<- Message) Option {
	return OnMessage(func(_ *Client, m Message) {
		m.Data = append([]byte(nil), m.Data...)
		ch <- m
	})
}
