package jwtauth

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults of a Verifier.
const (
	// DefaultMaxTokenLen caps a token's length, bytes: longer tokens are
	// malformed without being decoded. 8 KiB holds a few hundred topic
	// patterns.
	DefaultMaxTokenLen = 8 << 10
	// DefaultMinRefreshInterval is the least time between a fetch of the
	// JWK Set and a fetch caused by a token naming an unknown "kid".
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultLeeway is the clock skew allowed on "exp" and "nbf": none.
	DefaultLeeway time.Duration = 0
	// DefaultFetchTimeout bounds one fetch of the JWK Set.
	DefaultFetchTimeout = 10 * time.Second
	// maxJWKSBytes caps the body of a JWK Set response.
	maxJWKSBytes = 1 << 20
)

// config is a Verifier's settings, gathered by the Options.
type config struct {
	hmacSecrets [][]byte
	keyFiles    []string
	jwksURL     string
	refresh     time.Duration
	minRefresh  time.Duration
	client      *http.Client
	audience    string
	issuer      string
	leeway      time.Duration
	clock       func() time.Time
	logger      *slog.Logger
	maxLen      int

	// Test hooks: the ticks of the periodic refresh (instead of a
	// time.Ticker), and a function called after each fetch of the JWK Set.
	tick         <-chan time.Time
	afterRefresh func(error)
}

func defaultConfig() config {
	return config{
		minRefresh: DefaultMinRefreshInterval,
		leeway:     DefaultLeeway,
		clock:      time.Now,
		maxLen:     DefaultMaxTokenLen,
	}
}

// Option configures a Verifier, in New.
type Option func(*config)

// WithHMACSecret accepts HS256 tokens signed with secret, which must be 32
// bytes or more (RFC 7518 §3.2; New fails otherwise). New copies it. Given
// more than once, each secret is tried (tokens without a "kid" try all).
func WithHMACSecret(secret []byte) Option {
	return func(c *config) { c.hmacSecrets = append(c.hmacSecrets, secret) }
}

// WithKeyFile accepts RS256 and ES256 tokens signed with the keys of the
// file at path, read once, in New: PEM blocks ("PUBLIC KEY", "RSA PUBLIC
// KEY" or "CERTIFICATE"; each must be an RSA key of 2048 to 8192 bits or a
// P-256 key), or a JWK Set (a JSON object; keys are matched by "kid").
// New fails if the file cannot be read or holds no usable key. May be
// given more than once.
func WithKeyFile(path string) Option {
	return func(c *config) { c.keyFiles = append(c.keyFiles, path) }
}

// WithJWKSURL accepts tokens signed with the keys of the JWK Set at url
// (RFC 7517 §5), fetched in New (New fails if that fetch fails or yields
// no usable key), then every refresh in the background (refresh <= 0: no
// periodic refresh), and on a token naming a "kid" no key has, at most
// once per WithMinRefreshInterval. A failed refresh keeps the previous
// keys and is logged (WithLogger). The last WithJWKSURL wins.
func WithJWKSURL(url string, refresh time.Duration) Option {
	return func(c *config) { c.jwksURL, c.refresh = url, refresh }
}

// WithMinRefreshInterval is the least time, by the Verifier's clock,
// between a fetch of the JWK Set (any fetch) and a fetch caused by a
// token naming an unknown "kid". Default DefaultMinRefreshInterval.
func WithMinRefreshInterval(d time.Duration) Option {
	return func(c *config) { c.minRefresh = d }
}

// WithHTTPClient fetches the JWK Set with client. Default: an http.Client
// with a DefaultFetchTimeout timeout. Each fetch is also bounded by
// DefaultFetchTimeout.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) { c.client = client }
}

// WithAudience requires tokens whose "aud" (a string or an array of
// strings) contains aud (RFC 7519 §4.1.3); others fail with ErrAudience.
// Without it "aud" is not checked: set it where one issuer serves several
// services (RFC 8725 §3.9).
func WithAudience(aud string) Option {
	return func(c *config) { c.audience = aud }
}

// WithIssuer requires tokens whose "iss" is iss (RFC 7519 §4.1.1); others
// fail with ErrIssuer. Without it "iss" is not checked.
func WithIssuer(iss string) Option {
	return func(c *config) { c.issuer = iss }
}

// WithLeeway allows d of clock skew between the token's issuer and this
// process on "exp" and "nbf" (RFC 7519 §4.1.4-5). Default DefaultLeeway
// (none); New fails on a negative d.
func WithLeeway(d time.Duration) Option {
	return func(c *config) { c.leeway = d }
}

// WithClock makes now the Verifier's clock, for "exp", "nbf" and the
// refresh rate limit (tests inject time with it). now must be safe to
// call from any goroutine. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithLogger reports failed refreshes of the JWK Set to l. Default
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxTokenLen caps a token's length, bytes. Default
// DefaultMaxTokenLen; New fails on n < 1.
func WithMaxTokenLen(n int) Option {
	return func(c *config) { c.maxLen = n }
}

// withRefreshTicks (tests) takes the periodic refresh's ticks from tick.
func withRefreshTicks(tick <-chan time.Time) Option {
	return func(c *config) { c.tick = tick }
}

// withAfterRefresh (tests) calls f with the outcome of every fetch of the
// JWK Set after the first.
func withAfterRefresh(f func(error)) Option {
	return func(c *config) { c.afterRefresh = f }
}
