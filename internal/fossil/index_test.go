package fossil

import "testing"

// TestRollingHash compares init and roll with the hash's definition.
func TestRollingHash(t *testing.T) {
	b := randomBytes(4, 600)
	for i := range 256 {
		b[i] = 0xff // the largest lane sums
	}
	want := func(w []byte) uint32 {
		var a, s uint32
		for i := range nHash {
			a += uint32(w[i])
			s += uint32(nHash-i) * uint32(w[i])
		}
		return a&0xffff | s<<16
	}
	var rolled rolling
	rolled.init(b)
	for p := 0; p+nHash <= len(b); p++ {
		var h rolling
		h.init(b[p:])
		if h.sum() != want(b[p:]) || rolled.sum() != want(b[p:]) {
			t.Fatalf("at %d: init %#x, rolled %#x, want %#x", p, h.sum(), rolled.sum(), want(b[p:]))
		}
		if p+nHash < len(b) {
			rolled.roll(b[p], b[p+nHash])
		}
	}
}
