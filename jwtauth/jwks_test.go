package jwtauth

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/syncbuf"
)

// jwksServer serves a JWK Set that tests change, counting requests.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer status with body from now on.
func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// clock is a settable clock, safe from any goroutine.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(now.UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// checkVerify verifies tok, wanting the error want (nil: success).
func checkVerify(t *testing.T, v *Verifier, tok string, want error) {
	t.Helper()
	_, err := v.Verify(tok)
	if (want == nil && err != nil) || !errors.Is(err, want) {
		t.Fatalf("Verify: %v, want %v", err, want)
	}
}

func TestJWKSInitialFetch(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t, jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil), jwkOf(t, &k.rsa1.PublicKey, "r1", nil)))
	v := newVerifier(t, WithJWKSURL(srv.URL, time.Hour), WithHTTPClient(srv.Client()))
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	checkVerify(t, v, sign(t, "ES256", k.ec1, "e1", claimsAt(nil)), nil)
	checkVerify(t, v, sign(t, "RS256", k.rsa1, "r1", claimsAt(nil)), nil)
	checkVerify(t, v, sign(t, "RS256", k.rsa1, "", claimsAt(nil)), nil)
	checkVerify(t, v, sign(t, "ES256", k.ec2, "e1", claimsAt(nil)), ErrSignature)
	checkVerify(t, v, sign(t, "HS256", secret, "", claimsAt(nil)), ErrAlgorithm)
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestJWKSNewFails(t *testing.T) {
	k := keysOnce()
	for name, set := range map[string]func(*jwksServer){
		"status 500":    func(s *jwksServer) { s.serve(http.StatusInternalServerError, nil) },
		"not JSON":      func(s *jwksServer) { s.serve(http.StatusOK, []byte("<html>")) },
		"no usable key": func(s *jwksServer) { s.serve(http.StatusOK, []byte(`{"keys":[{"kty":"oct","k":"AA"}]}`)) },
		"too large": func(s *jwksServer) {
			s.serve(http.StatusOK, append(jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil)), bytes.Repeat([]byte(" "), maxJWKSBytes)...))
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, nil)
			set(srv)
			if v, err := New(WithJWKSURL(srv.URL, time.Hour)); err == nil {
				v.Close()
				t.Fatal("New: no error")
			}
		})
	}
	if v, err := New(WithJWKSURL("http://127.0.0.1:1/jwks", 0)); err == nil {
		v.Close()
		t.Fatal("New with an unreachable JWK Set: no error")
	}
}

// TestJWKSRotation: the issuer switches to a new key; a token of the new
// kid makes the Verifier fetch the set again, at most once per interval.
func TestJWKSRotation(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t, jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil)))
	clk := newClock()
	v := newVerifier(t, WithJWKSURL(srv.URL, 0), WithClock(clk.now))
	oldTok := sign(t, "ES256", k.ec1, "e1", claimsAt(nil))
	newTok := sign(t, "ES256", k.ec2, "e2", claimsAt(nil))
	requests := func(want int64) {
		t.Helper()
		if n := srv.requests.Load(); n != want {
			t.Fatalf("%d requests, want %d", n, want)
		}
	}
	requests(1)
	checkVerify(t, v, oldTok, nil)

	srv.serve(http.StatusOK, jwkSet(t, jwkOf(t, &k.ec2.PublicKey, "e2", nil)))
	checkVerify(t, v, newTok, ErrUnknownKey) // the fetch at New was less than 10 s ago
	requests(1)

	clk.advance(DefaultMinRefreshInterval)
	checkVerify(t, v, newTok, nil) // fetched on demand
	requests(2)
	checkVerify(t, v, oldTok, ErrUnknownKey) // e1 is gone; no fetch within 10 s
	checkVerify(t, v, sign(t, "ES256", k.ec2, "e3", claimsAt(nil)), ErrUnknownKey)
	requests(2)

	clk.advance(DefaultMinRefreshInterval - time.Nanosecond)
	checkVerify(t, v, oldTok, ErrUnknownKey)
	requests(2)

	// Many goroutines with unknown kids at once: one fetch.
	clk.advance(time.Nanosecond)
	srv.serve(http.StatusOK, jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil), jwkOf(t, &k.ec2.PublicKey, "e2", nil)))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := v.Verify(oldTok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	requests(3)
	checkVerify(t, v, newTok, nil)
}

// TestJWKSRefreshFailure: a failed refresh, periodic or on demand, keeps
// the keys there were and is logged.
func TestJWKSRefreshFailure(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t, jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil)))
	clk := newClock()
	ticks := make(chan time.Time)
	results := make(chan error, 4)
	var logBuf syncbuf.Buffer
	v := newVerifier(t, WithJWKSURL(srv.URL, time.Hour), WithClock(clk.now), WithHMACSecret(secret),
		WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))),
		withRefreshTicks(ticks), withAfterRefresh(func(err error) { results <- err }))
	tok1 := sign(t, "ES256", k.ec1, "e1", claimsAt(nil))
	tok2 := sign(t, "ES256", k.ec2, "e2", claimsAt(nil))
	hsTok := sign(t, "HS256", secret, "", claimsAt(nil))

	tick := func(wantErr bool) {
		t.Helper()
		ticks <- now
		if err := <-results; (err != nil) != wantErr {
			t.Fatalf("refresh: %v, want error %v", err, wantErr)
		}
	}
	srv.serve(http.StatusInternalServerError, []byte("down"))
	tick(true)
	srv.serve(http.StatusOK, []byte(`{"keys":`))
	tick(true)
	srv.serve(http.StatusOK, []byte(`{"keys":[]}`))
	tick(true)
	checkVerify(t, v, tok1, nil)
	checkVerify(t, v, hsTok, nil)
	if n := strings.Count(logBuf.String(), "JWK Set refresh failed"); n != 3 {
		t.Fatalf("%d failures logged, want 3:\n%s", n, logBuf.String())
	}

	// On demand.
	clk.advance(DefaultMinRefreshInterval)
	srv.serve(http.StatusBadGateway, nil)
	checkVerify(t, v, tok2, ErrUnknownKey)
	if err := <-results; err == nil {
		t.Fatal("on-demand refresh: no error")
	}
	checkVerify(t, v, tok1, nil)

	// Recovery, periodic: the new set replaces the old one; the static
	// keys stay.
	srv.serve(http.StatusOK, jwkSet(t, jwkOf(t, &k.ec2.PublicKey, "e2", nil)))
	tick(false)
	checkVerify(t, v, tok2, nil)
	checkVerify(t, v, tok1, ErrUnknownKey)
	checkVerify(t, v, hsTok, nil)
	if n := srv.requests.Load(); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}

	v.Close()
	v.Close()
	checkVerify(t, v, tok2, nil)
}

// TestCloseStopsTicker: Close ends the refresh goroutine of a real ticker.
func TestCloseStopsTicker(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t, jwkSet(t, jwkOf(t, &k.ec1.PublicKey, "e1", nil)))
	v, err := New(WithJWKSURL(srv.URL, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	select {
	case <-v.done:
	default:
		t.Fatal("refresh loop still running after Close")
	}
}
