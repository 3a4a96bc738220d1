package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// hs256 signs a raw JSON header and payload with secret: tokens Sign
// would not make.
func hs256(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + enc(mac.Sum(nil))
}

// expIn is a payload prefix with a valid exp, for hs256.
var expIn = fmt.Sprintf(`{"exp":%d`, now.Add(time.Hour).Unix())

const hsHeader = `{"alg":"HS256","typ":"JWT"}`

func TestVerify(t *testing.T) {
	k := keysOnce()
	pemFile := writeFile(t, "keys.pem", pemPublic(t, &k.rsa1.PublicKey, &k.ec1.PublicKey))
	jwkFile := writeFile(t, "keys.json", jwkSet(t,
		jwkOf(t, &k.rsa1.PublicKey, "r1", nil),
		jwkOf(t, &k.ec1.PublicKey, "e1", map[string]any{"alg": "ES256", "use": "sig"}),
		jwkOf(t, &k.rsa2.PublicKey, "r2", map[string]any{"alg": "RS512"}),
		jwkOf(t, &k.ec2.PublicKey, "e2", map[string]any{"use": "enc"}),
	))
	hs := []Option{WithHMACSecret(secret)}
	pemKeys := []Option{WithKeyFile(pemFile)}
	jwks := []Option{WithKeyFile(jwkFile)}
	leeway := []Option{WithHMACSecret(secret), WithLeeway(30 * time.Second)}
	aud := []Option{WithHMACSecret(secret), WithAudience("wsloop")}
	iss := []Option{WithHMACSecret(secret), WithIssuer("https://idp.example")}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	hsWith := func(extra map[string]any) string { return sign(t, "HS256", secret, "", claimsAt(extra)) }
	der, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	asn1Sig := func() string { // ES256 with an ASN.1 DER signature
		tok := sign(t, "ES256", k.ec1, "", claimsAt(nil))
		input := tok[:strings.LastIndexByte(tok, '.')]
		d := sha256.Sum256([]byte(input))
		sig, err := ecdsa.SignASN1(rand.Reader, k.ec1, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	tests := []struct {
		name  string
		opts  []Option
		token string
		want  error
	}{
		{"HS256", hs, hsWith(nil), nil},
		{"RS256 PEM", pemKeys, sign(t, "RS256", k.rsa1, "", claimsAt(nil)), nil},
		{"ES256 PEM", pemKeys, sign(t, "ES256", k.ec1, "", claimsAt(nil)), nil},
		{"PEM keys serve any kid", pemKeys, sign(t, "ES256", k.ec1, "whatever", claimsAt(nil)), nil},
		{"RS256 JWK kid", jwks, sign(t, "RS256", k.rsa1, "r1", claimsAt(nil)), nil},
		{"ES256 JWK kid", jwks, sign(t, "ES256", k.ec1, "e1", claimsAt(nil)), nil},
		{"JWK set, no kid", jwks, sign(t, "ES256", k.ec1, "", claimsAt(nil)), nil},
		{"JWK kid of another key", jwks, sign(t, "ES256", k.ec1, "r1", claimsAt(nil)), ErrUnknownKey},
		{"unknown kid", jwks, sign(t, "RS256", k.rsa1, "nope", claimsAt(nil)), ErrUnknownKey},
		{"JWK alg contradicts", jwks, sign(t, "RS256", k.rsa2, "r2", claimsAt(nil)), ErrUnknownKey},
		{"JWK use enc", jwks, sign(t, "ES256", k.ec2, "e2", claimsAt(nil)), ErrUnknownKey},

		{"wrong HMAC secret", hs, sign(t, "HS256", otherSecret, "", claimsAt(nil)), ErrSignature},
		{"wrong RSA key", pemKeys, sign(t, "RS256", k.rsa2, "", claimsAt(nil)), ErrSignature},
		{"wrong EC key", pemKeys, sign(t, "ES256", k.ec2, "", claimsAt(nil)), ErrSignature},
		{"no key of the type", hs, sign(t, "ES256", k.ec1, "", claimsAt(nil)), ErrAlgorithm},

		{"alg none", hs, rawToken(`{"alg":"none"}`, expIn+`}`, nil), ErrAlgorithm},
		{"alg none, HMAC signature", hs, hs256(`{"alg":"none"}`, expIn+`}`), ErrAlgorithm},
		{"alg None", hs, hs256(`{"alg":"None"}`, expIn+`}`), ErrAlgorithm},
		{"alg hs256", hs, hs256(`{"alg":"hs256"}`, expIn+`}`), ErrAlgorithm},
		{"alg HS512", hs, hs256(`{"alg":"HS512"}`, expIn+`}`), ErrAlgorithm},
		{"alg PS256", pemKeys, hs256(`{"alg":"PS256"}`, expIn+`}`), ErrAlgorithm},
		{"alg missing", hs, hs256(`{"typ":"JWT"}`, expIn+`}`), ErrMalformed},
		{"alg not a string", hs, hs256(`{"alg":256}`, expIn+`}`), ErrMalformed},
		{"alg in other case", hs, hs256(`{"ALG":"HS256"}`, expIn+`}`), ErrMalformed},

		{"confusion: RSA PEM as HS256 secret", pemKeys, sign(t, "HS256", pemPublic(t, &k.rsa1.PublicKey), "", claimsAt(nil)), ErrAlgorithm},
		{"confusion: RSA DER as HS256 secret", pemKeys, sign(t, "HS256", der, "", claimsAt(nil)), ErrAlgorithm},
		{"confusion: RSA PEM as HS256 secret, HMAC configured", append(slices.Clone(hs), pemKeys...),
			sign(t, "HS256", pemPublic(t, &k.rsa1.PublicKey), "", claimsAt(nil)), ErrSignature},
		{"confusion: RSA signature as ES256", pemKeys, func() string {
			tok := sign(t, "RS256", k.rsa1, "", claimsAt(nil))
			parts := strings.Split(tok, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + parts[1] + "." + parts[2]
		}(), ErrSignature},
		{"ES256 ASN.1 signature", pemKeys, asn1Sig(), ErrSignature},

		{"expired", hs, hsWith(map[string]any{"exp": at(-time.Second)}), ErrExpired},
		{"expires now", hs, hsWith(map[string]any{"exp": at(0)}), ErrExpired},
		{"expired, within leeway", leeway, hsWith(map[string]any{"exp": at(-29 * time.Second)}), nil},
		{"expired, leeway's end", leeway, hsWith(map[string]any{"exp": at(-30 * time.Second)}), ErrExpired},
		{"expired, beyond leeway", leeway, hsWith(map[string]any{"exp": at(-time.Minute)}), ErrExpired},
		{"fractional exp", hs, hs256(hsHeader, fmt.Sprintf(`{"exp":%d.5}`, at(-time.Second))), ErrExpired},
		{"fractional exp, later", hs, hs256(hsHeader, fmt.Sprintf(`{"exp":%d.5}`, at(0))), nil},
		{"not yet valid", hs, hsWith(map[string]any{"nbf": at(time.Second)}), ErrNotYetValid},
		{"valid from now", hs, hsWith(map[string]any{"nbf": at(0)}), nil},
		{"not yet valid, within leeway", leeway, hsWith(map[string]any{"nbf": at(30 * time.Second)}), nil},
		{"not yet valid, beyond leeway", leeway, hsWith(map[string]any{"nbf": at(31 * time.Second)}), ErrNotYetValid},
		{"no exp", hs, hsWith(map[string]any{"exp": nil}), ErrMalformed},
		{"exp null", hs, hs256(hsHeader, `{"exp":null}`), ErrMalformed},
		{"exp a string", hs, hsWith(map[string]any{"exp": fmt.Sprint(at(time.Hour))}), ErrMalformed},
		{"exp huge", hs, hs256(hsHeader, `{"exp":1e300}`), ErrMalformed},
		{"exp negative", hs, hs256(hsHeader, `{"exp":-1}`), ErrMalformed},
		{"nbf a string", hs, hsWith(map[string]any{"nbf": "soon"}), ErrMalformed},
		{"iat a bool", hs, hsWith(map[string]any{"iat": true}), ErrMalformed},

		{"audience string", aud, hsWith(map[string]any{"aud": "wsloop"}), nil},
		{"audience array", aud, hsWith(map[string]any{"aud": []string{"other", "wsloop"}}), nil},
		{"wrong audience", aud, hsWith(map[string]any{"aud": "other"}), ErrAudience},
		{"wrong audience array", aud, hsWith(map[string]any{"aud": []string{"a", "b"}}), ErrAudience},
		{"no audience", aud, hsWith(nil), ErrAudience},
		{"audience unchecked", hs, hsWith(map[string]any{"aud": "other"}), nil},
		{"audience a number", aud, hsWith(map[string]any{"aud": 5}), ErrMalformed},
		{"audience array of numbers", aud, hsWith(map[string]any{"aud": []int{5}}), ErrMalformed},
		{"issuer", iss, hsWith(map[string]any{"iss": "https://idp.example"}), nil},
		{"wrong issuer", iss, hsWith(map[string]any{"iss": "https://evil.example"}), ErrIssuer},
		{"no issuer", iss, hsWith(nil), ErrIssuer},
		{"issuer a number", hs, hsWith(map[string]any{"iss": 1}), ErrMalformed},
		{"subject a number", hs, hsWith(map[string]any{"sub": 1}), ErrMalformed},

		{"subscribe null", hs, hsWith(map[string]any{"subscribe": []string(nil)}), nil},
		{"subscribe a string", hs, hsWith(map[string]any{"subscribe": "md.*"}), ErrMalformed},
		{"subscribe numbers", hs, hsWith(map[string]any{"subscribe": []int{1}}), ErrMalformed},
		{"subscribe bad pattern", hs, hsWith(map[string]any{"subscribe": []string{"md.*", "md..x"}}), ErrMalformed},
		{"subscribe null element", hs, hs256(hsHeader, expIn+`,"subscribe":["md.*",null]}`), ErrMalformed},
		{"publish bad pattern", hs, hsWith(map[string]any{"publish": []string{"a.>.b"}}), ErrMalformed},

		{"empty", hs, "", ErrMalformed},
		{"one segment", hs, "abc", ErrMalformed},
		{"two segments", hs, "abc.def", ErrMalformed},
		{"four segments", hs, hsWith(nil) + ".x", ErrMalformed},
		{"JWE (five segments)", hs, "a.b.c.d.e", ErrMalformed},
		{"padding", hs, hsWith(nil) + "=", ErrMalformed},
		{"space", hs, " " + hsWith(nil), ErrMalformed},
		{"bearer prefix", hs, "Bearer " + hsWith(nil), ErrMalformed},
		{"newline in signature", hs, func() string { s := hsWith(nil); return s[:len(s)-5] + "\n" + s[len(s)-5:] }(), ErrMalformed},
		{"standard base64 character", hs, func() string { s := hsWith(nil); return s[:len(s)-5] + "+" + s[len(s)-4:] }(), ErrMalformed},
		{"header not JSON", hs, hs256(`{"alg":"HS256"`, expIn+`}`), ErrMalformed},
		{"header an array", hs, hs256(`["HS256"]`, expIn+`}`), ErrMalformed},
		{"header null", hs, hs256(`null`, expIn+`}`), ErrMalformed},
		{"crit", hs, hs256(`{"alg":"HS256","crit":["exp"],"exp":1}`, expIn+`}`), ErrMalformed},
		{"nested JWT", hs, hs256(`{"alg":"HS256","cty":"jwt"}`, expIn+`}`), ErrMalformed},
		{"kid a number", hs, hs256(`{"alg":"HS256","kid":7}`, expIn+`}`), ErrMalformed},
		{"payload not JSON", hs, hs256(hsHeader, expIn), ErrMalformed},
		{"payload an array", hs, hs256(hsHeader, `[1]`), ErrMalformed},
		{"payload null", hs, hs256(hsHeader, `null`), ErrMalformed},
		{"payload a string", hs, hs256(hsHeader, `"x"`), ErrMalformed},
		{"too long", hs, hsWith(map[string]any{"pad": strings.Repeat("x", DefaultMaxTokenLen)}), ErrMalformed},
		{"longer than WithMaxTokenLen", append(slices.Clone(hs), WithMaxTokenLen(100)), hsWith(nil), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.opts...)
			c, err := v.Verify(tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c == nil || c.Expiry.IsZero() {
					t.Fatalf("Verify: claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: error %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Fatalf("Verify: claims %+v with error %v", c, err)
			}
			if sentinels := matching(err); len(sentinels) != 1 {
				t.Fatalf("Verify: error %v matches %d sentinels", err, len(sentinels))
			}
		})
	}
}

// sentinels are the errors of Verify.
var sentinels = []error{ErrMalformed, ErrAlgorithm, ErrSignature, ErrUnknownKey,
	ErrExpired, ErrNotYetValid, ErrAudience, ErrIssuer}

// matching lists the sentinels err wraps.
func matching(err error) []error {
	var m []error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			m = append(m, s)
		}
	}
	return m
}

func TestVerifyClaims(t *testing.T) {
	v := newVerifier(t, WithHMACSecret(secret))
	tok := sign(t, "HS256", secret, "k1", claimsAt(map[string]any{
		"aud": []string{"a", "b"}, "iss": "idp", "nbf": now.Add(-time.Minute), "iat": now.Add(-time.Minute),
		"exp": now.Add(time.Hour), "plan": "pro",
	}))
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Subject: "alice", Issuer: "idp", Audience: []string{"a", "b"},
		Expiry: now.Add(time.Hour), NotBefore: now.Add(-time.Minute), IssuedAt: now.Add(-time.Minute),
		Subscribe: Patterns{"md.*", "news"}, Publish: Patterns{"orders.alice"},
	}
	if c.Subject != want.Subject || c.Issuer != want.Issuer || !slices.Equal(c.Audience, want.Audience) ||
		!c.Expiry.Equal(want.Expiry) || !c.NotBefore.Equal(want.NotBefore) || !c.IssuedAt.Equal(want.IssuedAt) ||
		!slices.Equal(c.Subscribe, want.Subscribe) || !slices.Equal(c.Publish, want.Publish) {
		t.Fatalf("claims\n%+v, want\n%+v", *c, want)
	}
	if string(c.Raw["plan"]) != `"pro"` {
		t.Fatalf("Raw[plan] = %s", c.Raw["plan"])
	}
	if !c.Subscribe.Allows("md.AAPL") || c.Subscribe.Allows("orders.alice") || !c.Publish.Allows("orders.alice") {
		t.Fatal("entitlements")
	}

	c, err = v.Verify(sign(t, "HS256", secret, "", claimsAt(map[string]any{"subscribe": nil, "publish": []string{}})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subscribe != nil || len(c.Publish) != 0 || c.Subscribe.Allows("md.AAPL") || c.Publish.Allows("x") {
		t.Fatalf("absent entitlements: %+v", c)
	}
}

// validTokens are a valid token of each algorithm, and a Verifier that
// accepts all three.
func validTokens(t testing.TB) (*Verifier, map[string]string) {
	k := keysOnce()
	v := newVerifier(t, WithHMACSecret(secret),
		WithKeyFile(writeFile(t, "keys.pem", pemPublic(t, &k.rsa1.PublicKey, &k.ec1.PublicKey))))
	return v, map[string]string{
		"HS256": sign(t, "HS256", secret, "k", claimsAt(nil)),
		"RS256": sign(t, "RS256", k.rsa1, "k", claimsAt(nil)),
		"ES256": sign(t, "ES256", k.ec1, "k", claimsAt(nil)),
	}
}

// TestForgery flips one bit of each byte of the decoded segments in turn,
// and changes each character of the encoded ones.
func TestForgery(t *testing.T) {
	v, tokens := validTokens(t)
	for alg, tok := range tokens {
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		segs := strings.Split(tok, ".")
		for si, seg := range segs {
			raw, err := base64.RawURLEncoding.DecodeString(seg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				bit := i % 8
				forged := slices.Clone(raw)
				forged[i] ^= 1 << bit
				parts := slices.Clone(segs)
				parts[si] = base64.RawURLEncoding.EncodeToString(forged)
				_, err := v.Verify(strings.Join(parts, "."))
				switch {
				case err == nil:
					t.Fatalf("%s: segment %d byte %d bit %d flipped: verified", alg, si, i, bit)
				case si > 0 && !errors.Is(err, ErrSignature):
					t.Fatalf("%s: segment %d byte %d bit %d flipped: %v, want ErrSignature", alg, si, i, bit, err)
				}
			}
		}
		for i := range len(tok) {
			if tok[i] == '.' {
				continue
			}
			for _, c := range []byte{'B', '_'} {
				if c == tok[i] {
					continue
				}
				forged := tok[:i] + string(c) + tok[i+1:]
				if _, err := v.Verify(forged); err == nil {
					t.Fatalf("%s: byte %d set to %q: verified", alg, i, c)
				}
			}
		}
	}
}

// TestCutTokens verifies every prefix, suffix and one-byte deletion of
// valid tokens: errors, never a panic.
func TestCutTokens(t *testing.T) {
	v, tokens := validTokens(t)
	for alg, tok := range tokens {
		for i := range len(tok) {
			for _, cut := range []string{tok[:i], tok[i+1:], tok[:i] + tok[i+1:]} {
				if c, err := v.Verify(cut); err == nil || c != nil {
					t.Fatalf("%s: cut at %d: %q verified", alg, i, cut)
				}
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	k := keysOnce()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k.ec1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []Option
	}{
		{"no key", nil},
		{"short secret", []Option{WithHMACSecret(secret[:31])}},
		{"negative leeway", []Option{WithHMACSecret(secret), WithLeeway(-time.Second)}},
		{"zero max length", []Option{WithHMACSecret(secret), WithMaxTokenLen(0)}},
		{"negative refresh interval", []Option{WithHMACSecret(secret), WithMinRefreshInterval(-1)}},
		{"nil clock", []Option{WithHMACSecret(secret), WithClock(nil)}},
		{"missing key file", []Option{WithKeyFile(t.TempDir() + "/none.pem")}},
		{"empty key file", []Option{WithKeyFile(writeFile(t, "e.pem", nil))}},
		{"RSA 1024", []Option{WithKeyFile(writeFile(t, "s.pem", pemPublic(t, &small.PublicKey)))}},
		{"P-384", []Option{WithKeyFile(writeFile(t, "p.pem", pemPublic(t, &p384.PublicKey)))}},
		{"private key PEM", []Option{WithKeyFile(writeFile(t, "k.pem", pemBlock("PRIVATE KEY", privDER)))}},
		{"garbage PEM", []Option{WithKeyFile(writeFile(t, "g.pem", pemBlock("PUBLIC KEY", []byte("junk"))))}},
		{"JWK set of no usable key", []Option{WithKeyFile(writeFile(t, "j.json", jwkSet(t,
			map[string]any{"kty": "oct", "k": "c2VjcmV0"},
			jwkOf(t, &k.ec1.PublicKey, "e1", map[string]any{"crv": "P-384"}),
			jwkOf(t, &k.ec1.PublicKey, "e2", map[string]any{"x": "AAAA"}),
			jwkOf(t, &k.ec1.PublicKey, "e3", map[string]any{"key_ops": []string{"sign"}}),
			jwkOf(t, &k.rsa1.PublicKey, "r1", map[string]any{"e": "AQ"}),
			jwkOf(t, &small.PublicKey, "r2", nil),
		)))}},
		{"JWK set not JSON", []Option{WithKeyFile(writeFile(t, "n.json", []byte("{keys")))}},
		{"EC point not on the curve", []Option{WithKeyFile(writeFile(t, "c.json", jwkSet(t,
			jwkOf(t, &k.ec1.PublicKey, "e1", map[string]any{"y": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}))))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.opts...)
			if err == nil {
				v.Close()
				t.Fatal("New: no error")
			}
		})
	}
}

func TestKeyFileForms(t *testing.T) {
	k := keysOnce()
	tok := sign(t, "RS256", k.rsa1, "", claimsAt(nil))
	certDER := selfSigned(t, k.rsa1)
	for name, data := range map[string][]byte{
		"RSA PUBLIC KEY": pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa1.PublicKey)),
		"CERTIFICATE":    pemBlock("CERTIFICATE", certDER),
		"single JWK":     []byte(mustJSON(t, jwkOf(t, &k.rsa1.PublicKey, "", nil))),
		"two PEM files":  pemPublic(t, &k.rsa2.PublicKey),
	} {
		t.Run(name, func(t *testing.T) {
			opts := []Option{WithKeyFile(writeFile(t, "k", data))}
			if name == "two PEM files" {
				opts = append(opts, WithKeyFile(writeFile(t, "k2", pemPublic(t, &k.rsa1.PublicKey))))
			}
			if _, err := newVerifier(t, opts...).Verify(tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	k := keysOnce()
	for _, tt := range []struct {
		alg string
		key any
	}{
		{"HS256", secret[:31]}, {"HS256", "string secret"}, {"RS256", k.ec1}, {"ES256", k.rsa1},
		{"RS256", (*rsa.PrivateKey)(nil)}, {"ES256", (*ecdsa.PrivateKey)(nil)}, {"none", nil}, {"HS512", secret},
	} {
		if _, err := Sign(tt.alg, tt.key, "", claimsAt(nil)); err == nil {
			t.Errorf("Sign(%s, %T): no error", tt.alg, tt.key)
		}
	}
	if _, err := Sign("HS256", secret, "", map[string]any{"bad": func() {}}); err == nil {
		t.Error("Sign with an unencodable claim: no error")
	}
	tok, err := Sign("HS256", secret, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newVerifier(t, WithHMACSecret(secret)).Verify(tok); !errors.Is(err, ErrMalformed) {
		t.Fatalf("token without claims: %v, want ErrMalformed (no exp)", err)
	}
}

func TestConcurrentVerify(t *testing.T) {
	v, tokens := validTokens(t)
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 20 {
				for _, tok := range tokens {
					if _, e := v.Verify(tok); e != nil {
						err = e
					}
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
