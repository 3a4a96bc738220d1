package hostile

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"testing"
)

// Distances against compress/flate: the bytes it decodes are the input,
// and it sees the back-references a 32 KiB-window compressor makes.
func TestDistances(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for _, level := range []int{flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly, flate.NoCompression} {
		for _, gap := range []int{300, 5000, 20000} {
			block := random(gap)
			in := append(append(append([]byte("abcabcabcabc "), block...), block...), bytes.Repeat([]byte("xyz"), 1000)...)
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, level)
			w.Write(in)
			w.Flush()
			out, dist, err := Distances(z.Bytes(), 0) // ends with the sync flush: 00 00 ff ff
			if err != nil {
				t.Fatalf("level %d gap %d: %v", level, gap, err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("level %d gap %d: decoded %d bytes, want %d", level, gap, len(out), len(in))
			}
			if level != flate.HuffmanOnly && level != flate.NoCompression && dist < gap {
				t.Errorf("level %d gap %d: longest distance %d, want at least %d", level, gap, dist, gap)
			}
		}
	}
	if _, _, err := Distances([]byte{0xff, 0xff, 0xff, 0xff}, 0); err == nil {
		t.Errorf("a reserved block type decoded")
	}
}
