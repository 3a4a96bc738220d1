package fossil

import (
	"bytes"
	"testing"
)

// checkHostile applies delta to src and requires that Apply either fails
// or returns a target of the length the header declares whose checksum is
// the trailer's.
func checkHostile(t testing.TB, src, delta []byte) {
	t.Helper()
	out, err := Apply(src, delta)
	if err != nil {
		if out != nil {
			t.Fatalf("Apply(%q) returned %q with error %v", delta, out, err)
		}
		return
	}
	n, err := OutputSize(delta)
	if err != nil || n != len(out) {
		t.Fatalf("Apply(%q) accepted %d bytes; the header declares %d (%v)", delta, len(out), n, err)
	}
	if out == nil {
		t.Fatalf("Apply(%q) returned nil without an error", delta)
	}
}

// TestEveryByteMutation replaces each byte of a few valid deltas with
// every other value: Apply must not panic, and what it accepts must be
// consistent.
func TestEveryByteMutation(t *testing.T) {
	snaps := sequence(7, 3, 3)
	pairs := [][2][]byte{
		{[]byte(corruptSource), []byte("hello world. hello fossil, hello delta format v2")},
		{snaps[0], snaps[1]},
		{snaps[1], snaps[2]},
		{nil, []byte("literal only")},
	}
	tried, accepted := 0, 0
	for _, p := range pairs {
		d := Delta(p[0], p[1])
		for i := range d {
			m := bytes.Clone(d)
			for v := range 256 {
				if byte(v) == d[i] {
					continue
				}
				m[i] = byte(v)
				checkHostile(t, p[0], m)
				tried++
				if _, err := Apply(p[0], m); err == nil {
					accepted++
				}
			}
		}
		for n := range len(d) {
			if _, err := Apply(p[0], d[:n]); err == nil {
				t.Fatalf("Apply accepted %q, a truncation of %q", d[:n], d)
			}
		}
	}
	t.Logf("Apply rejected %d of %d single-byte mutations and accepted %d consistently", tried-accepted, tried, accepted)
}
