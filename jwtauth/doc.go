// Package jwtauth verifies JWT connection tokens (RFC 7519) and reads from
// them which topics the user may subscribe to and publish to: market data
// is licensed per user and per instrument, and the token says which.
//
// A Verifier holds the keys (an HMAC secret, a file of public keys, a JWK
// Set fetched from a URL and refreshed) and the checks (audience, issuer,
// clock leeway); Verifier.Verify turns a token into Claims or an error
// that errors.Is matches against one of the sentinel errors (ErrMalformed,
// ErrAlgorithm, ErrSignature, ErrUnknownKey, ErrExpired, ErrNotYetValid,
// ErrAudience, ErrIssuer).
//
// # Tokens
//
// A token is a JWS in compact serialization (RFC 7515 §7.1): three
// base64url segments without padding, header.payload.signature, at most
// DefaultMaxTokenLen bytes (WithMaxTokenLen). The header's "alg" is one of
// HS256, RS256 or ES256 (RFC 7518 §3.2-3.4); "none" and every other
// algorithm are rejected, and the key that verifies a token must be of the
// algorithm's type (an HMAC secret for HS256, an RSA public key for RS256,
// a P-256 public key for ES256), so the bytes of a public key never serve
// as an HMAC secret. An ES256 signature is the 64-byte R||S form of RFC
// 7518 §3.4, not ASN.1 DER. A header with "crit" is rejected (no extension
// is understood, RFC 7515 §4.1.11), so is a nested JWT ("cty":"JWT", RFC
// 7519 §5.2); "jku", "jwk", "x5u" and "x5c" are ignored: keys never come
// from the token itself. "typ" is not checked.
//
// # Claims
//
// The registered claims checked (RFC 7519 §4.1):
//
//   - "exp" is required: a token without an expiry is rejected
//     (ErrMalformed); the token is expired (ErrExpired) from exp+leeway on.
//   - "nbf", when present: the token is not valid (ErrNotYetValid) before
//     nbf-leeway.
//   - "aud" (a string or an array of strings) must contain the audience
//     given to WithAudience; without WithAudience it is not checked.
//   - "iss" must equal the issuer given to WithIssuer; without WithIssuer it
//     is not checked.
//
// exp, nbf and iat are NumericDates (seconds since the epoch, possibly
// fractional); one that is not a number, or outside year 1970 to 9999, is
// malformed. "sub" is the user, Claims.Subject.
//
// The entitlement claims are wsloop's own, arrays of topic patterns
// (see below): "subscribe" lists the topics the user may subscribe to
// (Claims.Subscribe), "publish" those the user may publish to
// (Claims.Publish). For example:
//
//	{"sub":"alice", "exp":1767225600, "subscribe":["md.*", "news"], "publish":["orders.alice"]}
//
// An absent (or null) claim allows nothing. A token whose claim is not an
// array of strings, or holds a pattern that ValidPattern refuses, is
// rejected as a whole (ErrMalformed) rather than trimmed: a token is
// issued by a program, and a bad pattern in it is a bug to surface, not a
// grant to guess at.
//
// # Topic patterns
//
// Topics are '.'-separated tokens, as NATS subjects are (wsloop's topics
// map to them). In a pattern, a token "*" matches exactly one token and a
// final token ">" matches one or more trailing tokens; any other token
// matches itself exactly. So "md.*" allows "md.AAPL" but neither "md" nor
// "md.AAPL.x"; "md.>" allows both "md.AAPL" and "md.AAPL.x"; ">" allows
// every topic. See Patterns.Allows and ValidPattern.
//
// # Keys
//
// WithHMACSecret gives an HS256 secret (32 bytes or more, RFC 7518 §3.2).
// WithKeyFile reads public keys once, at New: PEM blocks ("PUBLIC KEY",
// "RSA PUBLIC KEY" or "CERTIFICATE") or a JWK Set (RFC 7517 §5). WithJWKSURL
// fetches a JWK Set at New, then again every refresh interval, and on a
// token naming a "kid" no key has, at most once per
// DefaultMinRefreshInterval (WithMinRefreshInterval); a failed refresh
// keeps the keys there were and is logged. RSA keys must have 2048 (RFC 7518
// §3.3) to 8192 bits; EC keys must be on P-256. A JWK whose "use" is not
// "sig", or whose "key_ops" lacks "verify", is not used; one with an "alg"
// verifies only tokens of that alg. JWKs of a type or curve this package
// does not support are skipped (RFC 7517 §5).
//
// A token with a "kid" is verified by the keys with that kid, or, if none
// has it, by the keys without a kid (the HMAC secret, PEM keys) of the
// algorithm's type; a token without a kid by every key of the algorithm's
// type.
//
// Sign makes tokens, for tests and tools.
package jwtauth
