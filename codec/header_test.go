package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

var headerLengths = []int64{0, 1, 125, 126, 127, 65535, 65536, 1 << 32, 1 << 62, 1<<63 - 1}

// eachHeader calls fn for every combination of length class, mask, FIN, RSV
// and opcode.
func eachHeader(fn func(h ws.Header)) {
	for _, length := range headerLengths {
		for _, masked := range []bool{false, true} {
			for _, fin := range []bool{false, true} {
				for rsv := byte(0); rsv < 8; rsv++ {
					for op := ws.OpCode(0); op < 16; op++ {
						h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: length, Masked: masked}
						if masked {
							h.Mask = [4]byte{0xde, 0xad, byte(op), rsv}
						}
						fn(h)
					}
				}
			}
		}
	}
}

func TestAppendHeaderMatchesGobwas(t *testing.T) {
	eachHeader(func(h ws.Header) {
		var want bytes.Buffer
		if err := ws.WriteHeader(&want, h); err != nil {
			t.Fatalf("ws.WriteHeader(%+v): %v", h, err)
		}
		got := AppendHeader([]byte("prefix"), h)
		if !bytes.Equal(got[len("prefix"):], want.Bytes()) {
			t.Fatalf("AppendHeader(%+v) = %x, want %x", h, got[len("prefix"):], want.Bytes())
		}
		if len(got)-len("prefix") != ws.HeaderSize(h) {
			t.Fatalf("AppendHeader(%+v) wrote %d bytes, ws.HeaderSize = %d", h, len(got)-len("prefix"), ws.HeaderSize(h))
		}
	})
}

func TestParseHeaderMatchesGobwas(t *testing.T) {
	eachHeader(func(h ws.Header) {
		wire := AppendHeader(nil, h)
		want, err := ws.ReadHeader(bytes.NewReader(wire))
		if err != nil {
			t.Fatalf("ws.ReadHeader(%x): %v", wire, err)
		}
		if want != h {
			t.Fatalf("ws.ReadHeader(%x) = %+v, want %+v", wire, want, h)
		}
		got, n, err := ParseHeader(append(wire, 0xff, 0x00, 0x81))
		if err != nil || n != len(wire) || got != want {
			t.Fatalf("ParseHeader(%x+trailer) = %+v, %d, %v; want %+v, %d, nil", wire, got, n, err, want, len(wire))
		}
		for k := 0; k < len(wire); k++ {
			got, n, err := ParseHeader(wire[:k])
			if n != 0 || err != nil || got != (ws.Header{}) {
				t.Fatalf("ParseHeader(%x[:%d]) = %+v, %d, %v; want zero, 0, nil", wire, k, got, n, err)
			}
		}
	})
}

func TestParseHeaderLengthMSB(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"unmasked", []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"masked", []byte{0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}},
		{"only first length byte", []byte{0x81, 0xff, 0x80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := ParseHeader(tc.wire)
			if !errors.Is(err, ws.ErrHeaderLengthMSB) || n != 0 {
				t.Fatalf("ParseHeader = %d, %v; want 0, ws.ErrHeaderLengthMSB", n, err)
			}
			if len(tc.wire) >= 10 {
				if _, err := ws.ReadHeader(bytes.NewReader(tc.wire)); !errors.Is(err, ws.ErrHeaderLengthMSB) {
					t.Fatalf("ws.ReadHeader disagrees: %v", err)
				}
			}
		})
	}
}

func TestParseHeaderShortInputMatchesGobwasEOF(t *testing.T) {
	wire := AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 70000, Masked: true, Mask: [4]byte{1, 2, 3, 4}})
	for k := 0; k < len(wire); k++ {
		_, err := ws.ReadHeader(bytes.NewReader(wire[:k]))
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ws.ReadHeader(prefix %d) = %v, want EOF", k, err)
		}
		if _, n, err := ParseHeader(wire[:k]); n != 0 || err != nil {
			t.Fatalf("ParseHeader(prefix %d) = %d, %v", k, n, err)
		}
	}
}

func TestAppendHeaderNegativeLengthPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("AppendHeader with a negative length did not panic")
		}
	}()
	AppendHeader(nil, ws.Header{Length: -1})
}

func TestHeaderAllocs(t *testing.T) {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 40, Masked: true, Mask: [4]byte{9, 8, 7, 6}}
	wire := AppendHeader(nil, h)
	dst := make([]byte, 0, ws.MaxHeaderSize)
	if a := testing.AllocsPerRun(100, func() { _, _, _ = ParseHeader(wire) }); a != 0 {
		t.Errorf("ParseHeader allocs = %v, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { dst = AppendHeader(dst[:0], h) }); a != 0 {
		t.Errorf("AppendHeader allocs = %v, want 0", a)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	wire := AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: 1024, Masked: true, Mask: [4]byte{1, 2, 3, 4}})
	b.ReportAllocs()
	for b.Loop() {
		if _, n, _ := ParseHeader(wire); n != len(wire) {
			b.Fatal("short parse")
		}
	}
}
