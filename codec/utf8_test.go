package codec

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// validPrefix is the reference: p can be extended to valid UTF-8. Only the
// first missing byte of a rune has a restricted range (RFC 3629), so trying
// every continuation byte there and 0x80 after it is exhaustive.
func validPrefix(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for k := 1; k < utf8.UTFMax; k++ {
		for c := 0x80; c <= 0xbf; c++ {
			q := append(append([]byte(nil), p...), byte(c), 0x80, 0x80)
			if utf8.Valid(q[:len(p)+k]) {
				return true
			}
		}
	}
	return false
}

func TestUTF8ValidatorTable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunks   []string
		feedOK   bool // every Feed succeeds
		complete bool
	}{
		{"empty", nil, true, true},
		{"ascii", []string{"hello"}, true, true},
		{"2-byte split", []string{"\xc3", "\xa9"}, true, true},
		{"3-byte split 1/2", []string{"\xe2", "\x82\xac"}, true, true},
		{"3-byte split 2/1", []string{"\xe2\x82", "\xac"}, true, true},
		{"4-byte split 1/1/1/1", []string{"\xf0", "\x9f", "\x98", "\x80"}, true, true},
		{"4-byte incomplete", []string{"\xf0\x9f\x98"}, true, false},
		{"max code point", []string{"\xf4\x8f\xbf\xbf"}, true, true},
		{"above max", []string{"\xf4", "\x90"}, false, false},
		{"F5 lead", []string{"a\xf5"}, false, false},
		{"overlong C0", []string{"\xc0\x80"}, false, false},
		{"overlong C1", []string{"\xc1"}, false, false},
		{"overlong E0", []string{"\xe0", "\x9f"}, false, false},
		{"E0 A0 ok", []string{"\xe0", "\xa0\x80"}, true, true},
		{"surrogate ED A0", []string{"\xed", "\xa0"}, false, false},
		{"ED 9F ok", []string{"\xed\x9f\xbf"}, true, true},
		{"overlong F0 8F", []string{"\xf0\x8f"}, false, false},
		{"lone continuation", []string{"ab\x80"}, false, false},
		{"ascii after lead", []string{"\xc3", "a"}, false, false},
		{"too many continuations", []string{"\xc3\xa9\xa9"}, false, false},
		{"invalid in middle of long chunk", []string{"aaaaaaaaaaaaaaaa\xffaaaaaaaaaaaaaaaaa"}, false, false},
		{"incomplete rune inside long chunk", []string{"aaaaaaaa\xe2\x82aaaaaaaa"}, false, false},
		{"FF", []string{"\xff"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v UTF8Validator
			ok := true
			for _, c := range tc.chunks {
				ok = v.Feed([]byte(c)) && ok
			}
			if ok != tc.feedOK || v.Complete() != tc.complete {
				t.Fatalf("Feed ok = %v, Complete = %v; want %v, %v", ok, v.Complete(), tc.feedOK, tc.complete)
			}
			if !ok && v.Feed([]byte("a")) {
				t.Fatal("Feed succeeded after a failure")
			}
			v.Reset()
			if !v.Feed([]byte("ok")) || !v.Complete() {
				t.Fatal("Reset did not clear the failure")
			}
		})
	}
}

var utf8Alphabet = []byte{
	'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
	0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
}

// TestUTF8ValidatorRandom checks, for random strings over the interesting
// bytes, that feeding one byte at a time fails exactly at the first byte
// after which no valid completion exists, and that random chunkings agree.
func TestUTF8ValidatorRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		p := make([]byte, rng.IntN(12))
		for i := range p {
			p[i] = utf8Alphabet[rng.IntN(len(utf8Alphabet))]
		}
		var v UTF8Validator
		for i := range p {
			got := v.Feed(p[i : i+1])
			if want := validPrefix(p[:i+1]); got != want {
				t.Fatalf("%x: Feed of byte %d = %v, want %v", p, i, got, want)
			}
			if !got {
				break
			}
		}
		var w UTF8Validator
		ok := true
		for rest := p; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			ok = w.Feed(rest[:k]) && ok
			rest = rest[k:]
		}
		if got, want := ok && w.Complete(), utf8.Valid(p); got != want {
			t.Fatalf("%x: chunked result %v, utf8.Valid %v", p, got, want)
		}
		if ok != validPrefix(p) {
			t.Fatalf("%x: chunked Feed %v, validPrefix %v", p, ok, validPrefix(p))
		}
	}
}

// TestUTF8ValidatorExhaustive checks all 1-3 byte strings and every split.
func TestUTF8ValidatorExhaustive(t *testing.T) {
	check := func(p []byte) {
		want := utf8.Valid(p)
		for i := 0; i <= len(p); i++ {
			var v UTF8Validator
			a := v.Feed(p[:i])
			b := v.Feed(p[i:])
			if got := a && b && v.Complete(); got != want {
				t.Fatalf("%x split at %d: %v, want %v", p, i, got, want)
			}
		}
	}
	p := make([]byte, 3)
	for a := 0; a < 256; a++ {
		check([]byte{byte(a)})
		for b := 0; b < 256; b++ {
			check([]byte{byte(a), byte(b)})
			if a < 0xc2 || a > 0xf4 {
				continue
			}
			for c := 0; c < 256; c++ {
				p[0], p[1], p[2] = byte(a), byte(b), byte(c)
				check(p)
			}
		}
	}
}

func BenchmarkUTF8Validator(b *testing.B) {
	p := []byte("héllo wörld, 日本語 😀 " + "plain ascii text that is long enough to matter")
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		var v UTF8Validator
		if !v.Feed(p) || !v.Complete() {
			b.Fatal("invalid")
		}
	}
}
