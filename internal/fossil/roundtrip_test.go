package fossil

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkRoundTrip requires that the delta from src to dst applies back to
// dst and stays within MaxDeltaLen, and returns it.
func checkRoundTrip(t testing.TB, src, dst []byte) []byte {
	t.Helper()
	d := Delta(src, dst)
	if len(d) > MaxDeltaLen(len(dst)) {
		t.Fatalf("delta of %d bytes exceeds MaxDeltaLen(%d) = %d", len(d), len(dst), MaxDeltaLen(len(dst)))
	}
	got, err := Apply(src, d)
	if err != nil {
		t.Fatalf("Apply(%q, %q): %v", trim(src), trim(d), err)
	}
	if !bytes.Equal(got, dst) {
		t.Fatalf("Apply(%q, %q) = %q, want %q", trim(src), trim(d), trim(got), trim(dst))
	}
	if n, err := OutputSize(d); err != nil || n != len(dst) {
		t.Fatalf("OutputSize = %d, %v; want %d", n, err, len(dst))
	}
	return d
}

// trim shortens b for a failure message.
func trim(b []byte) []byte {
	if len(b) > 120 {
		return append(b[:100:100], "..."...)
	}
	return b
}

// randomBytes returns n bytes from a PRNG seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	text := []byte("The quick brown fox jumps over the lazy dog; the lazy dog sleeps on.")
	long := bytes.Repeat([]byte("abcabcabd"), 5000)
	longEdited := append(append(bytes.Clone(long[:20000]), "EDIT"...), long[20010:]...)
	binary := randomBytes(1, 4096)
	binaryEdited := bytes.Clone(binary)
	binaryEdited[100] ^= 0xff
	binaryEdited = append(binaryEdited[:3000], binaryEdited[3100:]...)
	cases := []struct {
		name     string
		src, dst []byte
	}{
		{"both empty", nil, nil},
		{"empty source", nil, text},
		{"empty target", text, nil},
		{"identical", text, text},
		{"totally different", text, []byte(strings.Repeat("0123456789", 8))},
		{"prefix", text, text[:30]},
		{"suffix", text, text[30:]},
		{"short target", text, text[4:12]},
		{"appended", text, append(bytes.Clone(text), " And more."...)},
		{"binary", binary, binaryEdited},
		{"binary all bytes", nil, randomBytes(2, 256)},
		{"long repetitive", long, longEdited},
		{"long zeros", make([]byte, 70000), make([]byte, 70001)},
		{"reordered halves", text, append(bytes.Clone(text[34:]), text[:34]...)},
		{"source shorter than a window", []byte("short"), []byte("short and longer than sixteen")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRoundTrip(t, c.src, c.dst)
		})
	}
}

// TestEditsEverywhere inserts, deletes and replaces a byte at every
// position of a small text.
func TestEditsEverywhere(t *testing.T) {
	src := []byte(`{"bid":"64250.50","ask":"64251.00","size":"1.25"}`)
	for i := 0; i <= len(src); i++ {
		ins := append(append(bytes.Clone(src[:i]), 'X'), src[i:]...)
		checkRoundTrip(t, src, ins)
		checkRoundTrip(t, ins, src)
		if i < len(src) {
			rep := bytes.Clone(src)
			rep[i] = '#'
			checkRoundTrip(t, src, rep)
		}
	}
}

// TestCopiesSave checks that the encoder finds the obvious copies: small
// edits of a longer text cost a few dozen bytes, not the text.
func TestCopiesSave(t *testing.T) {
	src := bytes.Repeat([]byte("level 01: price 100.25 size 3.50; "), 20)
	dst := bytes.Clone(src)
	copy(dst[300:], "CHANGED")
	d := checkRoundTrip(t, src, dst)
	if len(d) > 40 {
		t.Fatalf("delta for a 7-byte change of %d bytes is %d bytes: %q", len(dst), len(d), d)
	}
	if d := checkRoundTrip(t, src, src); string(d) != fmt.Sprintf("%s\n%s@0,%s;", num(len(src)), num(len(src)), num(int(Checksum(src)))) {
		t.Fatalf("identical delta = %q", d)
	}
}

// num formats n as the format's base-64 number.
func num(n int) string {
	return string(appendNumber(nil, uint64(n)))
}

func TestNumbers(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 35, 36, 37, 62, 63, 64, 65, 4095, 4096, 1<<32 - 1} {
		s := appendNumber(nil, v)
		if len(s) != digitCount(v) {
			t.Fatalf("digitCount(%d) = %d, encoding %q", v, digitCount(v), s)
		}
		got, pos, err := readNumber(append(s, ','), 0)
		if err != nil || got != v || pos != len(s) {
			t.Fatalf("readNumber(%q) = %d, %d, %v", s, got, pos, err)
		}
	}
	if s := string(appendNumber(nil, 64*64-1)); s != "~~" {
		t.Fatalf("4095 = %q", s)
	}
}

func TestChecksum(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"a", 0x61000000},
		{"ab", 0x61620000},
		{"abc", 0x61626300},
		{"abcd", 0x61626364},
		{"abcde", 0x61626364 + 0x65000000},
		{"\xff\xff\xff\xff\x00\x00\x00\x01", 0},
	}
	for _, c := range cases {
		if got := Checksum([]byte(c.in)); got != c.want {
			t.Errorf("Checksum(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
	b := randomBytes(3, 1001)
	var want uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		want += uint32(w[0])<<24 | uint32(w[1])<<16 | uint32(w[2])<<8 | uint32(w[3])
	}
	if got := Checksum(b); got != want {
		t.Fatalf("Checksum of 1001 bytes = %#x, want %#x", got, want)
	}
}

func TestAppendDeltaReusesBuffer(t *testing.T) {
	src := []byte(strings.Repeat("0123456789abcdef", 8))
	dst := bytes.Clone(src)
	dst[50] = 'X'
	buf := make([]byte, 3, 3+MaxDeltaLen(len(dst)))
	copy(buf, "pre")
	out := AppendDelta(buf, src, dst)
	if &out[0] != &buf[0] || string(out[:3]) != "pre" {
		t.Fatal("AppendDelta did not append in place")
	}
	if !bytes.Equal(out[3:], Delta(src, dst)) {
		t.Fatal("AppendDelta and Delta differ")
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { out = AppendDelta(buf, src, dst) }); n != 0 {
		t.Fatalf("AppendDelta with room allocates %v times", n)
	}
}

func TestErrorsWrapErrCorrupt(t *testing.T) {
	_, err := Apply(nil, []byte("1\n1:x"))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v does not wrap ErrCorrupt", err)
	}
}
