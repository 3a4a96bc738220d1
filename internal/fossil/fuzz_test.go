package fossil

import (
	"bytes"
	"testing"
)

// FuzzApply feeds hostile deltas to Apply, which must not panic and must
// only accept targets of the declared length.
func FuzzApply(f *testing.F) {
	src := []byte(corruptSource)
	f.Add(src, Delta(src, []byte("hello world. hello fossil, hello delta format v2")))
	f.Add(src, []byte("5\n5@0,"))
	f.Add([]byte{}, []byte("0\n0;"))
	for _, h := range handCorrupt() {
		f.Add(src, []byte(h[1]))
	}
	f.Fuzz(func(t *testing.T, src, delta []byte) {
		checkHostile(t, src, delta)
	})
}

// FuzzRoundTrip requires Apply(src, Delta(src, dst)) == dst.
func FuzzRoundTrip(f *testing.F) {
	snaps := sequence(3, 2, 2)
	f.Add(snaps[0], snaps[1])
	f.Add([]byte{}, []byte("target"))
	f.Add([]byte(corruptSource), []byte{})
	f.Add(bytes.Repeat([]byte("ab"), 40), bytes.Repeat([]byte("ab"), 41))
	f.Fuzz(func(t *testing.T, src, dst []byte) {
		checkRoundTrip(t, src, dst)
	})
}
