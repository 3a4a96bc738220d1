package loadgen

import (
	"encoding/binary"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, size := range []int{0, MinPayload, 100, 1000} {
		p := AppendPayload(nil, size, 1732262400123456789, 42, 4294967295)
		if size >= MinPayload && len(p) != size {
			t.Fatalf("size %d: payload of %d bytes", size, len(p))
		}
		s, ok := ParsePublication(false, p)
		if !ok || s.T != 1732262400123456789 || s.Topic != 42 || s.N != 4294967295 || s.HasSeq || s.Binary {
			t.Fatalf("size %d: parsed %+v %v from %s", size, s, ok, p)
		}
	}
	if len(AppendPayload(nil, 0, 1<<62, 99999, 1<<32-1)) > MinPayload {
		t.Fatal("MinPayload is below the widest header")
	}
}

func TestParsePublicationForms(t *testing.T) {
	payload := AppendPayload(nil, 100, 123, 2, 7)
	js := `{"op":"msg","topic":"t2","epoch":"0123456789abcdef","seq":99,"key":"k","data":` + string(payload) + `}`
	s, ok := ParsePublication(false, []byte(js))
	if !ok || !s.HasSeq || s.Seq != 99 || s.T != 123 || s.Topic != 2 || s.N != 7 || s.Binary {
		t.Fatalf("json form: %+v %v", s, ok)
	}
	bin := []byte{0x01, 2, 't', '2'}
	bin = binary.BigEndian.AppendUint64(bin, 0x0123456789abcdef)
	bin = binary.BigEndian.AppendUint64(bin, 100)
	bin = append(bin, 3, 'k', 'e', 'y')
	bin = append(bin, payload...)
	s, ok = ParsePublication(true, bin)
	if !ok || !s.HasSeq || s.Seq != 100 || s.T != 123 || s.N != 7 || !s.Binary {
		t.Fatalf("binary form: %+v %v", s, ok)
	}
	for _, bad := range [][]byte{nil, []byte(`{"t":x}`), []byte(`{"t":1,"i":2}`), bin[:10], []byte(`{"op":"msg","seq":x}`)} {
		if _, ok := ParsePublication(len(bad) > 0 && bad[0] == 1, bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestParseAck(t *testing.T) {
	topic, seq, hasSeq, ok := parseAck([]byte(`{"op":"subscribed","id":1,"topic":"AAPL","epoch":"9f86d081884c7d65","seq":41}`))
	if !ok || topic != "AAPL" || seq != 41 || !hasSeq {
		t.Fatalf("wsloop answer: %q %d %v %v", topic, seq, hasSeq, ok)
	}
	topic, _, hasSeq, ok = parseAck([]byte(`{"op":"subscribed","topic":"t0"}`))
	if !ok || topic != "t0" || hasSeq {
		t.Fatalf("peer answer: %q %v %v", topic, hasSeq, ok)
	}
}
