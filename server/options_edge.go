package server

import (
	"crypto/tls"
	"net/netip"

	"github.com/wsloop/wsloop/poller"
)

// WithCompression enables permessage-deflate (RFC 7692) for clients that
// offer it (default off). The server always negotiates no context takeover
// in both directions, so a connection holds no compressor between
// messages: an idle connection costs the same with or without compression,
// and each message pays a pooled compressor's reset instead. level is the
// flate level of outgoing messages (1 = fastest; 0 means 1); messages
// shorter than min bytes go out uncompressed (0 means 256; negative
// compresses everything).
func WithCompression(level, min int) Option {
	return func(c *Config) {
		c.Compression, c.CompressLevel, c.CompressMin = true, level, min
	}
}

// WithSubprotocols sets the subprotocols the server speaks. The server
// picks the first protocol in the client's Sec-WebSocket-Protocol list
// (the client's order of preference) that it speaks (RFC 6455 §4.2.2), and
// Conn.Subprotocol reports it. A client offering none of them is upgraded
// without a subprotocol; one that offers none at all, too.
func WithSubprotocols(protocols ...string) Option {
	return func(c *Config) { c.Subprotocols = protocols }
}

// WithOrigins sets the Origin allowlist (RFC 6454): full origins
// ("https://app.example.com", matched exactly, ports included) or host
// patterns ("example.com", "*.example.com", matched against the Origin's
// host for any scheme and port). Upgrades from other origins get 403. A
// request without Origin (not from a browser) is allowed.
func WithOrigins(patterns ...string) Option {
	return func(c *Config) { c.Origins = patterns }
}

// AuthFunc authenticates an upgrade request: see WithAuth.
type AuthFunc = poller.AuthFunc

// Rejection is an error an AuthFunc returns to refuse an upgrade with a
// given HTTP status and reason.
type Rejection = poller.Rejection

// Reject returns a *Rejection: the upgrade is answered with status (such as
// 401 or 403) and reason as the response body.
func Reject(status int, reason string) error { return poller.Reject(status, reason) }

// WithAuth sets the authentication hook. It runs once per upgrade request,
// after the Origin and limit checks, on a worker goroutine (so a token
// lookup does not stall an event loop), with the request (path, query,
// headers, cookies) valid only during the call and the client's address.
// Returning a nil error accepts the upgrade and attaches identity to the
// connection (Conn.Identity); returning an error refuses it with the
// *Rejection's status and reason, or 403 for any other error.
func WithAuth(fn AuthFunc) Option { return func(c *Config) { c.Auth = fn } }

// WithMaxConns limits the connections the server holds (default 0: no
// limit); upgrades past it get 503 Service Unavailable with Retry-After.
func WithMaxConns(n int) Option { return func(c *Config) { c.MaxConns = n } }

// WithMaxConnsPerIP limits the connections from one client IP (default 0:
// no limit); upgrades past it get 429 Too Many Requests with Retry-After.
// Behind a proxy, see WithTrustedProxies.
func WithMaxConnsPerIP(n int) Option { return func(c *Config) { c.MaxConnsPerIP = n } }

// WithUpgradeRate limits accepted upgrades per second for the whole server
// (a token bucket holding burst upgrades; burst 0 means one second's
// worth). Upgrades over the rate get 503 with Retry-After.
func WithUpgradeRate(perSecond float64, burst int) Option {
	return func(c *Config) { c.UpgradeRate, c.UpgradeBurst = perSecond, burst }
}

// WithInboundRate limits what each connection may send: messages and
// payload bytes per second (token buckets from golang.org/x/time/rate; 0
// leaves that one unlimited). burst is how many seconds' worth a quiet
// connection may send at once (0 means 1). A connection over a limit is
// closed with 1008 and a reason naming it.
func WithInboundRate(messages, bytes, burst float64) Option {
	return func(c *Config) { c.RateMessages, c.RateBytes, c.RateBurst = messages, bytes, burst }
}

// SlowConsumerPolicy says what happens when a peer does not read as fast
// as the server sends (see WithMaxOutbound).
type SlowConsumerPolicy = poller.SlowConsumerPolicy

// Slow-consumer policies.
const (
	// SlowClose closes the connection with 1008 "slow consumer".
	SlowClose = poller.SlowClose
	// SlowDrop drops the message and counts it.
	SlowDrop = poller.SlowDrop
)

// Errors a Send's completion callback receives from the slow-consumer
// policy.
var (
	// ErrSlowConsumer: the connection was closed as a slow consumer.
	ErrSlowConsumer = poller.ErrSlowConsumer
	// ErrDropped: the message was dropped as the peer is behind.
	ErrDropped = poller.ErrDropped
)

// WithMaxOutbound caps the bytes queued for one connection's peer (default
// 4 MiB; negative: no cap, as in gnet) and sets what happens when a message
// is sent while more than that is waiting. A single message is accepted by
// an empty queue whatever its size, so the memory held per connection is at
// most the cap plus one message.
func WithMaxOutbound(bytes int, policy SlowConsumerPolicy) Option {
	return func(c *Config) { c.MaxOutbound, c.SlowConsumer = bytes, policy }
}

// WithTLS serves wss on a second listener at addr, with cfg (which needs
// a certificate). TLS connections are decrypted by crypto/tls and then
// handled exactly like the others; each costs two goroutines, TLS buffers
// and two extra file descriptors (see the README for figures).
func WithTLS(addr string, cfg *tls.Config) Option {
	return func(c *Config) { c.TLSAddr, c.TLSConfig = addr, cfg }
}

// WithTrustedProxies sets the proxies (addresses or CIDR prefixes) whose
// PROXY protocol headers and X-Forwarded-For fields are believed; nothing
// is believed from other peers.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(c *Config) { c.TrustedProxies = prefixes }
}

// WithProxyProtocol expects a PROXY protocol header (v1 or v2, as haproxy's
// send-proxy and send-proxy-v2 and nginx's proxy_protocol send) at the
// start of every connection from a trusted proxy, and takes the client
// address from it. Connections from other peers must not send one.
func WithProxyProtocol(on bool) Option { return func(c *Config) { c.ProxyProtocol = on } }

// WithForwardedFor takes the client address from the X-Forwarded-For field
// of upgrades that come from a trusted proxy: the rightmost address that is
// not itself a trusted proxy.
func WithForwardedFor(on bool) Option { return func(c *Config) { c.ForwardedFor = on } }

// WithHealthPath sets the health-check path on the WebSocket port (default
// "/healthz"): 200 while serving, 503 while draining. "-" turns it off.
func WithHealthPath(path string) Option { return func(c *Config) { c.HealthPath = path } }

// WithConflateAbove sets when a conflating subscriber (package pubsub)
// counts as behind: more than bytes unsent in its socket's buffer. While
// behind it gets only the latest message per key. Default 64 KiB.
func WithConflateAbove(bytes int) Option { return func(c *Config) { c.ConflateAbove = bytes } }
