package jwtauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
)

// keyType is the kind of key an algorithm needs.
type keyType uint8

const (
	keyHMAC keyType = iota
	keyRSA
	keyEC
	numKeyTypes
)

// minHMACLen is the shortest HS256 secret: as long as the hash output
// (RFC 7518 §3.2).
const minHMACLen = 32

// minRSABits is the smallest RSA modulus (RFC 7518 §3.3); maxRSABits the
// largest, to bound the cost of a verification.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// key is one verification key; immutable once made.
type key struct {
	kid  string  // "" for a key without one (HMAC secret, PEM key)
	alg  string  // the JWK's "alg", "" when it names none
	typ  keyType // which of the fields below is set
	hmac []byte
	rsa  *rsa.PublicKey
	ec   *ecdsa.PublicKey
}

// keySet is the keys a Verifier holds at one time; immutable once made
// (a refresh makes a new one).
type keySet struct {
	keys []*key
	has  [numKeyTypes]bool
}

func newKeySet(keys ...[]*key) *keySet {
	s := &keySet{keys: slices.Concat(keys...)}
	for _, k := range s.keys {
		s.has[k.typ] = true
	}
	return s
}

// hasKid reports whether a key of the set has the id kid.
func (s *keySet) hasKid(kid string) bool {
	for _, k := range s.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

// candidates calls try with each key that may verify a token of alg
// (whose key type is typ) and kid, until try returns true; it returns
// whether try did, and how many keys it tried. The keys: those with the
// token's kid; if there are none, those without a kid; for a token
// without a kid, all. A key whose JWK "alg" is another is never tried.
func (s *keySet) candidates(alg string, typ keyType, kid string, try func(*key) bool) (ok bool, n int) {
	usable := func(k *key) bool { return k.typ == typ && (k.alg == "" || k.alg == alg) }
	if kid != "" {
		for _, k := range s.keys {
			if k.kid == kid && usable(k) {
				n++
				if try(k) {
					return true, n
				}
			}
		}
		if n > 0 {
			return false, n
		}
	}
	for _, k := range s.keys {
		if (kid == "" || k.kid == "") && usable(k) {
			n++
			if try(k) {
				return true, n
			}
		}
	}
	return false, n
}

// hmacKey is an HS256 secret as a key.
func hmacKey(secret []byte) (*key, error) {
	if len(secret) < minHMACLen {
		return nil, fmt.Errorf("jwtauth: HMAC secret of %d bytes, want %d or more (RFC 7518 §3.2)", len(secret), minHMACLen)
	}
	return &key{typ: keyHMAC, hmac: bytes.Clone(secret)}, nil
}

// publicKey turns an RSA or ECDSA public key into a key, checking size
// and curve.
func publicKey(pub any, kid string) (*key, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("jwtauth: RSA key of %d bits, want %d to %d (RFC 7518 §3.3)", bits, minRSABits, maxRSABits)
		}
		return &key{kid: kid, typ: keyRSA, rsa: pub}, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwtauth: EC key on %s, want P-256", pub.Curve.Params().Name)
		}
		return &key{kid: kid, typ: keyEC, ec: pub}, nil
	default:
		return nil, fmt.Errorf("jwtauth: unsupported public key type %T", pub)
	}
}

// readKeyFile reads the keys of a key file: a JWK Set (or one JWK) when it
// starts with '{', PEM blocks otherwise.
func readKeyFile(path string) ([]*key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: key file: %w", err)
	}
	var keys []*key
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		keys, err = parseJWKs(t)
	} else {
		keys, err = parsePEM(data)
	}
	if err != nil {
		return nil, fmt.Errorf("jwtauth: key file %s: %w", path, err)
	}
	return keys, nil
}

// parsePEM reads every PEM block of data; each must be a usable public key
// (unlike a JWK Set's, a PEM key that cannot be used is an error: the file
// is explicit configuration).
func parsePEM(data []byte) ([]*key, error) {
	var keys []*key
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q: want a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		k, err := publicKey(pub, "")
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key")
	}
	return keys, nil
}

// jwk is the part of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) this
// package reads.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKs reads a JWK Set ({"keys":[...]}, RFC 7517 §5) or a single JWK.
// Keys this package cannot use are skipped (RFC 7517 §5: a JWK of a
// "kty" not understood SHOULD be ignored), with the reasons returned in
// the error when no key is left.
func parseJWKs(data []byte) ([]*key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWK Set: %w", err)
	}
	if set.Keys == nil {
		set.Keys = []json.RawMessage{data}
	}
	var keys []*key
	var skipped []error
	for i, raw := range set.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable key in the JWK Set: %w", errors.Join(skipped...))
	}
	return keys, nil
}

// parseJWK turns one JWK into a key.
func parseJWK(raw json.RawMessage) (*key, error) {
	var j jwk
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	if j.Use != "" && j.Use != "sig" { // RFC 7517 §4.2
		return nil, fmt.Errorf("use %q", j.Use)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") { // RFC 7517 §4.3
		return nil, fmt.Errorf("key_ops %q without verify", j.KeyOps)
	}
	var pub any
	switch j.Kty {
	case "RSA": // RFC 7518 §6.3.1
		n, err := b64Int(j.N)
		if err != nil {
			return nil, fmt.Errorf("RSA n: %w", err)
		}
		e, err := b64Int(j.E)
		if err != nil {
			return nil, fmt.Errorf("RSA e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("RSA e out of range")
		}
		pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC": // RFC 7518 §6.2.1
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("EC curve %q, want P-256", j.Crv)
		}
		x, errX := base64.RawURLEncoding.DecodeString(j.X)
		y, errY := base64.RawURLEncoding.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 { // full length: RFC 7518 §6.2.1.2
			return nil, errors.New("EC x or y is not 32 bytes of base64url")
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			return nil, err
		}
		pub = ec
	default:
		return nil, fmt.Errorf("kty %q not supported", j.Kty)
	}
	k, err := publicKey(pub, j.Kid)
	if err != nil {
		return nil, err
	}
	k.alg = j.Alg
	return k, nil
}

// b64Int decodes a base64url unsigned big-endian integer (RFC 7518 §2,
// Base64urlUInt).
func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return new(big.Int).SetBytes(b), nil
}
