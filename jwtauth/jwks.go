package jwtauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// jwksSource is where a Verifier fetches its JWK Set from.
type jwksSource struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	after      func(error) // test hook, may be nil

	mu   sync.Mutex // one fetch at a time; guards last
	last time.Time  // when the last fetch started, by the Verifier's clock
}

// fetch gets and parses the JWK Set.
func (s *jwksSource) fetch(ctx context.Context) ([]*key, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json") // RFC 7517 §8.5
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKs(body)
}

// refresh fetches the JWK Set again and, if that works, makes its keys
// the Verifier's; a failure keeps the keys there were and is logged. With
// a kid (a token named it and no key has it), it fetches only if no fetch
// started in the last minRefresh and no key has kid by the time it holds
// the lock (another goroutine's fetch may have brought it).
func (v *Verifier) refresh(kid string) {
	s := v.jwks
	s.mu.Lock()
	defer s.mu.Unlock()
	now := v.clock()
	if kid != "" && (now.Sub(s.last) < s.minRefresh || v.keys.Load().hasKid(kid)) {
		return
	}
	s.last = now
	keys, err := s.fetch(v.ctx)
	if err == nil {
		v.keys.Store(newKeySet(v.static, keys))
	} else {
		v.log.Warn("jwtauth: JWK Set refresh failed; keeping the previous keys", "url", s.url, "err", err)
	}
	if s.after != nil {
		s.after(err)
	}
}

// refreshLoop refreshes the JWK Set on every tick until Close.
func (v *Verifier) refreshLoop(tick <-chan time.Time, stop func()) {
	defer close(v.done)
	defer stop()
	for {
		select {
		case <-v.ctx.Done():
			return
		case <-tick:
			v.refresh("")
		}
	}
}
