package jwtauth

import "testing"

// FuzzVerify: on any input Verify returns claims or an error wrapping
// exactly one sentinel, never both, never a panic; verified claims hold
// valid patterns only. The seed corpus (testdata/fuzz/FuzzVerify) holds
// HS256 tokens of the secret below, valid and not.
func FuzzVerify(f *testing.F) {
	f.Add(sign(f, "HS256", secret, "k1", claimsAt(nil)))
	f.Add(sign(f, "HS256", secret, "", claimsAt(map[string]any{"aud": []string{"a", "b"}, "nbf": now.Unix()})))
	f.Add(hs256(`{"alg":"none"}`, expIn+`}`))
	v, err := New(WithHMACSecret(secret), WithClock(fixedClock), WithLeeway(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		if err != nil {
			if c != nil {
				t.Fatalf("claims %+v with error %v", c, err)
			}
			if m := matching(err); len(m) != 1 {
				t.Fatalf("error %v matches %v", err, m)
			}
			return
		}
		if c == nil || !now.Before(c.Expiry.Add(1)) {
			t.Fatalf("claims %+v", c)
		}
		for _, p := range append(c.Subscribe, c.Publish...) {
			if !ValidPattern(p) {
				t.Fatalf("invalid pattern %q in verified claims", p)
			}
		}
	})
}
