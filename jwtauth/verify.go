package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Verifier verifies tokens: see the package documentation. Its methods may
// be called from any goroutine; it holds no per-token state.
type Verifier struct {
	keys   atomic.Pointer[keySet] // swapped whole by a refresh
	static []*key                 // HMAC secrets and key files: in every keySet
	jwks   *jwksSource            // nil without WithJWKSURL

	audience string
	issuer   string
	leeway   time.Duration
	clock    func() time.Time
	maxLen   int
	log      *slog.Logger

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	done      chan struct{} // closed when the refresh loop ends; nil without one
	closeOnce sync.Once
}

// New makes a Verifier from opts. It needs at least one key source
// (WithHMACSecret, WithKeyFile, WithJWKSURL); it reads the key files and
// fetches the JWK Set now, and fails if any of that fails or an option's
// value is out of range. With a periodic refresh, it starts a goroutine
// that Close stops.
func New(opts ...Option) (*Verifier, error) {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.leeway < 0:
		return nil, fmt.Errorf("jwtauth: negative leeway %v", c.leeway)
	case c.maxLen < 1:
		return nil, fmt.Errorf("jwtauth: maximum token length %d", c.maxLen)
	case c.minRefresh < 0:
		return nil, fmt.Errorf("jwtauth: negative minimum refresh interval %v", c.minRefresh)
	case c.clock == nil:
		return nil, errors.New("jwtauth: nil clock")
	}
	var static []*key
	for _, secret := range c.hmacSecrets {
		k, err := hmacKey(secret)
		if err != nil {
			return nil, err
		}
		static = append(static, k)
	}
	for _, path := range c.keyFiles {
		keys, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		static = append(static, keys...)
	}
	if len(static) == 0 && c.jwksURL == "" {
		return nil, errors.New("jwtauth: no key: give WithHMACSecret, WithKeyFile or WithJWKSURL")
	}
	v := &Verifier{
		static:   static,
		audience: c.audience,
		issuer:   c.issuer,
		leeway:   c.leeway,
		clock:    c.clock,
		maxLen:   c.maxLen,
		log:      c.logger,
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	if c.jwksURL == "" {
		v.keys.Store(newKeySet(static))
		return v, nil
	}
	client := c.client
	if client == nil {
		client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	v.jwks = &jwksSource{url: c.jwksURL, client: client, minRefresh: c.minRefresh, last: v.clock()}
	keys, err := v.jwks.fetch(v.ctx)
	if err != nil {
		v.cancel()
		return nil, fmt.Errorf("jwtauth: JWK Set %s: %w", c.jwksURL, err)
	}
	v.keys.Store(newKeySet(static, keys))
	v.jwks.after = c.afterRefresh
	tick, stop := c.tick, func() {}
	if tick == nil && c.refresh > 0 {
		t := time.NewTicker(c.refresh)
		tick, stop = t.C, t.Stop
	}
	if tick != nil {
		v.done = make(chan struct{})
		go v.refreshLoop(tick, stop)
	}
	return v, nil
}

// Close stops the periodic refresh of the JWK Set and waits for it to end;
// a fetch under way is canceled. The Verifier still verifies afterwards,
// with the keys it has. Close may be called more than once, from any
// goroutine.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		v.cancel()
		if v.done != nil {
			<-v.done
		}
	})
}

// Verify checks token (the compact JWS, without "Bearer ") and returns its
// claims, or an error wrapping one of the package's sentinel errors. In
// order: the length and form (ErrMalformed), the header's alg
// (ErrAlgorithm), the signature (ErrSignature, ErrUnknownKey: see the
// package documentation for which keys are tried), then the claims (exp,
// nbf, iss, aud). Verify never panics on any input. A token naming an
// unknown "kid" may make Verify fetch the JWK Set, waiting for the fetch
// (at most DefaultFetchTimeout). The Claims are the caller's.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if len(token) > v.maxLen {
		return nil, errorf(ErrMalformed, "token of %d bytes, more than %d", len(token), v.maxLen)
	}
	dot1, dot2, err := split(token)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(token[:dot1])
	if err != nil {
		return nil, err
	}
	sig, err := b64.DecodeString(token[dot2+1:])
	if err != nil {
		return nil, errorf(ErrMalformed, "signature: %v", err)
	}
	if err := v.checkSignature(h, token[:dot2], sig); err != nil {
		return nil, err
	}
	c, err := parseClaims(token[dot1+1 : dot2])
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSignature finds the keys that may verify a token of header h and
// tries them on sig over input (RFC 7515 §5.2).
func (v *Verifier) checkSignature(h header, input string, sig []byte) error {
	check, err := newSigCheck(h, input, sig)
	if err != nil {
		return err
	}
	set := v.keys.Load()
	if h.kid != "" && v.jwks != nil && !set.hasKid(h.kid) {
		v.refresh(h.kid)
		set = v.keys.Load()
	}
	ok, n := set.candidates(h.alg, h.typ, h.kid, check.verify)
	switch {
	case ok:
		return nil
	case n > 0:
		return ErrSignature
	case h.kid != "" && set.has[h.typ]:
		return errorf(ErrUnknownKey, "no %s key with kid %s", h.alg, quoteID(h.kid))
	default:
		return errorf(ErrAlgorithm, "no key for %s", h.alg)
	}
}

// checkClaims checks the time and the configured audience and issuer.
func (v *Verifier) checkClaims(c *Claims) error {
	now := v.clock()
	if !now.Before(c.Expiry.Add(v.leeway)) { // RFC 7519 §4.1.4
		return errorf(ErrExpired, "expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) { // RFC 7519 §4.1.5
		return errorf(ErrNotYetValid, "valid from %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if v.issuer != "" && c.Issuer != v.issuer { // RFC 7519 §4.1.1
		return errorf(ErrIssuer, "issuer %s", quoteID(c.Issuer))
	}
	if v.audience != "" && !slices.Contains(c.Audience, v.audience) { // RFC 7519 §4.1.3
		return errorf(ErrAudience, "audience %s not in the token", quoteID(v.audience))
	}
	return nil
}
