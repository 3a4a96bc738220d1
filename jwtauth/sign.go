package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Sign makes a token of claims signed with key, a convenience for tests
// and tools (a production issuer is usually an identity provider): alg
// "HS256" with a []byte secret of 32 bytes or more, "RS256" with an
// *rsa.PrivateKey, "ES256" with an *ecdsa.PrivateKey on P-256. The header
// carries "alg", "typ":"JWT" and, unless kid is "", "kid". In claims,
// the time.Time values of "exp", "nbf" and "iat" become NumericDates
// (whole seconds); everything else is encoded with encoding/json as is,
// so Sign checks nothing of what Verify requires of claims (a token
// without "exp" can be made, for tests). claims is not modified. Safe
// from any goroutine.
func Sign(alg string, key any, kid string, claims map[string]any) (string, error) {
	hdr := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	claims = maps.Clone(claims)
	if claims == nil {
		claims = map[string]any{}
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		if t, ok := claims[name].(time.Time); ok {
			claims[name] = t.Unix()
		}
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwtauth: claims: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig, err := signature(alg, key, input)
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// signature signs input with alg (RFC 7518 §3.2-3.4).
func signature(alg string, key any, input string) ([]byte, error) {
	digest := sha256.Sum256([]byte(input))
	switch alg {
	case "HS256":
		secret, ok := key.([]byte)
		if !ok || len(secret) < minHMACLen {
			return nil, fmt.Errorf("jwtauth: HS256 needs a []byte secret of %d bytes or more, not %T", minHMACLen, key)
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return mac.Sum(nil), nil
	case "RS256":
		k, ok := key.(*rsa.PrivateKey)
		if !ok || k == nil {
			return nil, fmt.Errorf("jwtauth: RS256 needs an *rsa.PrivateKey, not %T", key)
		}
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case "ES256":
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwtauth: ES256 needs an *ecdsa.PrivateKey on P-256, not %T", key)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64) // R||S, 32 bytes each (RFC 7518 §3.4)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	default:
		return nil, fmt.Errorf("%w: Sign supports HS256, RS256 and ES256, not %s", ErrAlgorithm, quoteID(alg))
	}
}
