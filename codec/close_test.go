package codec

import (
	"testing"

	"github.com/gobwas/ws"
)

func TestValidCloseCode(t *testing.T) {
	valid := map[ws.StatusCode]bool{}
	for c := 1000; c <= 1003; c++ {
		valid[ws.StatusCode(c)] = true
	}
	for c := 1007; c <= 1014; c++ {
		valid[ws.StatusCode(c)] = true
	}
	for c := 3000; c <= 4999; c++ {
		valid[ws.StatusCode(c)] = true
	}
	for c := 0; c <= 0xffff; c++ {
		if got := ValidCloseCode(ws.StatusCode(c)); got != valid[ws.StatusCode(c)] {
			t.Errorf("ValidCloseCode(%d) = %v", c, got)
		}
	}
}

func TestParseClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          []byte
		wantCode   ws.StatusCode
		wantReason string
		wantErr    error
	}{
		{"empty", nil, 0, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrInvalidClosePayload},
		{"1000", []byte{0x03, 0xe8}, 1000, "", nil},
		{"1000 reason", []byte("\x03\xe8bye"), 1000, "bye", nil},
		{"4999 utf8 reason", []byte("\x13\x87héllo"), 4999, "héllo", nil},
		{"1014", []byte{0x03, 0xf6}, 1014, "", nil},
		{"999", []byte{0x03, 0xe7}, 0, "", ErrInvalidCloseCode},
		{"1004", []byte{0x03, 0xec}, 0, "", ErrInvalidCloseCode},
		{"1005", []byte{0x03, 0xed}, 0, "", ErrInvalidCloseCode},
		{"1006", []byte{0x03, 0xee}, 0, "", ErrInvalidCloseCode},
		{"1015", []byte{0x03, 0xf7}, 0, "", ErrInvalidCloseCode},
		{"2999", []byte{0x0b, 0xb7}, 0, "", ErrInvalidCloseCode},
		{"5000", []byte{0x13, 0x88}, 0, "", ErrInvalidCloseCode},
		{"0", []byte{0, 0}, 0, "", ErrInvalidCloseCode},
		{"bad reason", []byte("\x03\xe8\xff"), 0, "", ErrInvalidCloseReason},
		{"truncated rune", []byte("\x03\xe8\xc3"), 0, "", ErrInvalidCloseReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, err := ParseClose(tc.p)
			if err != tc.wantErr || code != tc.wantCode || string(reason) != tc.wantReason {
				t.Fatalf("ParseClose(%x) = %d, %q, %v; want %d, %q, %v", tc.p, code, reason, err, tc.wantCode, tc.wantReason, tc.wantErr)
			}
		})
	}
	if ErrInvalidCloseReason.Code != ws.StatusInvalidFramePayloadData {
		t.Error("an invalid close reason must be 1007")
	}
}
