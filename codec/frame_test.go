package codec

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func TestAppendFrameMatchesGobwas(t *testing.T) {
	for _, tc := range []struct {
		fin  bool
		op   ws.OpCode
		size int
	}{
		{true, ws.OpText, 0},
		{true, ws.OpBinary, 125},
		{false, ws.OpText, 126},
		{true, ws.OpContinuation, 65535},
		{true, ws.OpBinary, 65536},
		{true, ws.OpPing, 3},
	} {
		payload := bytes.Repeat([]byte{'x'}, tc.size)
		var want bytes.Buffer
		if err := ws.WriteFrame(&want, ws.NewFrame(tc.op, tc.fin, payload)); err != nil {
			t.Fatal(err)
		}
		got := AppendFrame(nil, tc.fin, tc.op, payload)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("AppendFrame(%v, %v, %d bytes) differs from ws.WriteFrame", tc.fin, tc.op, tc.size)
		}
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("a", 122) + "é" + "tail" // é straddles byte 123
	for _, tc := range []struct {
		name       string
		code       ws.StatusCode
		reason     string
		wantReason string
	}{
		{"empty body", 0, "ignored", ""},
		{"code only", ws.StatusNormalClosure, "", ""},
		{"code and reason", ws.StatusGoingAway, "bye", "bye"},
		{"exactly 123", ws.StatusPolicyViolation, strings.Repeat("b", 123), strings.Repeat("b", 123)},
		{"ascii cut", ws.StatusMessageTooBig, strings.Repeat("c", 200), strings.Repeat("c", 123)},
		{"rune boundary", ws.StatusProtocolError, long, strings.Repeat("a", 122)},
		{"4-byte runes", ws.StatusNormalClosure, strings.Repeat("😀", 40), strings.Repeat("😀", 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := AppendClose(nil, tc.code, tc.reason)
			f, err := ws.ReadFrame(bytes.NewReader(wire))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Header.Fin || f.Header.OpCode != ws.OpClose || f.Header.Masked {
				t.Fatalf("bad header %+v", f.Header)
			}
			if len(f.Payload) > ws.MaxControlFramePayloadSize {
				t.Fatalf("payload %d bytes", len(f.Payload))
			}
			code, reason, err := ParseClose(f.Payload)
			if err != nil {
				t.Fatalf("ParseClose: %v", err)
			}
			if code != tc.code || string(reason) != tc.wantReason {
				t.Fatalf("got %d %q, want %d %q", code, reason, tc.code, tc.wantReason)
			}
			if !utf8.Valid(reason) {
				t.Fatal("reason cut inside a rune")
			}
		})
	}
}

func TestAppendFrameAllocs(t *testing.T) {
	payload := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	if a := testing.AllocsPerRun(100, func() { dst = AppendFrame(dst[:0], true, ws.OpBinary, payload) }); a != 0 {
		t.Errorf("AppendFrame allocs = %v, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { dst = AppendClose(dst[:0], ws.StatusGoingAway, "shutting down") }); a != 0 {
		t.Errorf("AppendClose allocs = %v, want 0", a)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	payload := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = AppendFrame(dst[:0], true, ws.OpBinary, payload)
	}
}
