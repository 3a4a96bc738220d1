package poller

import (
	"bytes"
	"testing"
)

// TestFrameSmallWindow checks which twin of a fan-out frame each kind of
// connection gets: the compressed one only with a full window; a client
// that allowed the server less than 32 KiB (flagHuffman) gets the plain
// frame, since the shared compressed twin may refer back further.
func TestFrameSmallWindow(t *testing.T) {
	cfg := Config{Compression: true, CompressMin: 1}.withDefaults()
	p := bytes.Repeat([]byte("market data "), 100)
	f := newFrame(Text, p, "", &cfg, true)
	defer f.release()
	if f.dframe == nil {
		t.Fatal("no compressed twin")
	}
	for _, tc := range []struct {
		name  string
		flags uint32
		want  []byte
	}{
		{"plain", 0, f.plain.B},
		{"deflate", flagDeflate, f.dframe},
		{"huffman", flagDeflate | flagHuffman, f.plain.B},
	} {
		var c Conn
		c.set(tc.flags)
		if got := f.bytes(&c); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes, want %d", tc.name, len(got), len(tc.want))
		}
	}
}
