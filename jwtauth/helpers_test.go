package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// now is the tests' clock: tokens are made relative to it.
var now = time.Unix(1_800_000_000, 0)

func fixedClock() time.Time { return now }

// secret and otherSecret are HS256 secrets of 32 bytes.
var (
	secret      = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

// testKeys are generated once per test binary (RSA generation is slow).
type testKeys struct {
	rsa1, rsa2 *rsa.PrivateKey
	ec1, ec2   *ecdsa.PrivateKey
}

var keysOnce = sync.OnceValue(func() *testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	genEC := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	return &testKeys{rsa1: gen(), rsa2: gen(), ec1: genEC(), ec2: genEC()}
})

// claimsAt are valid claims for the tests' clock, with extra members.
func claimsAt(extra map[string]any) map[string]any {
	c := map[string]any{
		"sub":       "alice",
		"exp":       now.Add(time.Hour).Unix(),
		"subscribe": []string{"md.*", "news"},
		"publish":   []string{"orders.alice"},
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign is Sign that fails the test on error.
func sign(t testing.TB, alg string, key any, kid string, claims map[string]any) string {
	t.Helper()
	tok, err := Sign(alg, key, kid, claims)
	if err != nil {
		t.Fatalf("Sign(%s): %v", alg, err)
	}
	return tok
}

// newVerifier is New that fails the test on error and closes the Verifier
// at the end of the test.
func newVerifier(t testing.TB, opts ...Option) *Verifier {
	t.Helper()
	v, err := New(append([]Option{WithClock(fixedClock)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// pemPublic encodes public keys as PEM "PUBLIC KEY" blocks.
func pemPublic(t testing.TB, pubs ...any) []byte {
	t.Helper()
	var out []byte
	for _, pub := range pubs {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out
}

// writeFile writes data to a file of the test's temporary directory and
// returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jwkOf is the JWK of a public key, with kid and extra members.
func jwkOf(t testing.TB, pub any, kid string, extra map[string]any) map[string]any {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	j := map[string]any{"kid": kid}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		j["kty"], j["n"], j["e"] = "RSA", enc(pub.N.Bytes()), enc(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", enc(b[1:33]), enc(b[33:])
	default:
		t.Fatalf("jwkOf %T", pub)
	}
	for k, v := range extra {
		j[k] = v
	}
	return j
}

// jwkSet encodes JWKs as a JWK Set.
func jwkSet(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawToken assembles a token from a JSON header and payload and a raw
// signature.
func rawToken(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc(sig)
}

// pemBlock encodes one PEM block.
func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// selfSigned is a DER certificate of key's public key, signed by key.
func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: now, NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// mustJSON encodes v.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
