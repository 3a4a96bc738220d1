package jwtauth

import "testing"

func benchmarkVerify(b *testing.B, alg string) {
	v, tokens := validTokens(b)
	tok := tokens[alg]
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256(b *testing.B) { benchmarkVerify(b, "HS256") }
func BenchmarkVerifyRS256(b *testing.B) { benchmarkVerify(b, "RS256") }
func BenchmarkVerifyES256(b *testing.B) { benchmarkVerify(b, "ES256") }

func BenchmarkAllows(b *testing.B) {
	p := Patterns{"news", "md.*.trades", "orders.alice", "md.>"}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Allows("md.AAPL.quotes") {
			b.Fatal("not allowed")
		}
	}
}
