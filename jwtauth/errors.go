package jwtauth

import (
	"errors"
	"fmt"
)

// The errors of Verify. Each error Verify returns wraps exactly one of
// them (match with errors.Is); its message adds the detail. None of them
// carries the token itself.
var (
	// ErrMalformed: the token is not a JWS of three base64url segments
	// with JSON objects for header and payload, is longer than the
	// maximum length, or has a claim of the wrong type or value (a
	// missing "exp", a bad topic pattern).
	ErrMalformed = errors.New("jwtauth: malformed token")
	// ErrAlgorithm: the header's "alg" is not HS256, RS256 or ES256
	// ("none" included), or the Verifier has no key of the type the
	// algorithm needs.
	ErrAlgorithm = errors.New("jwtauth: algorithm not accepted")
	// ErrSignature: no key the token could be verified with accepts its
	// signature.
	ErrSignature = errors.New("jwtauth: invalid signature")
	// ErrUnknownKey: the token names a "kid" no key of its algorithm's
	// type has, even after a refresh of the JWK Set (when one was due).
	ErrUnknownKey = errors.New("jwtauth: unknown key")
	// ErrExpired: the token's "exp", plus the leeway, has passed.
	ErrExpired = errors.New("jwtauth: token expired")
	// ErrNotYetValid: the token's "nbf", minus the leeway, is still to come.
	ErrNotYetValid = errors.New("jwtauth: token not yet valid")
	// ErrAudience: the token's "aud" lacks the configured audience.
	ErrAudience = errors.New("jwtauth: wrong audience")
	// ErrIssuer: the token's "iss" is not the configured issuer.
	ErrIssuer = errors.New("jwtauth: wrong issuer")
)

// errorf wraps sentinel with a detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// quoteID renders an attacker-chosen identifier (a kid, an alg) for an
// error message: quoted, and cut to 64 bytes.
func quoteID(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
