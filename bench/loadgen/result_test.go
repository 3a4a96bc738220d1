package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func resultWith(t *testing.T, mode string, values ...int64) Result {
	t.Helper()
	h := NewHistogram()
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	r := Result{
		Mode: mode, ConnsRequested: 10, ConnsOK: 9, ConnsFailed: 1,
		ConnectSeconds: 0.5, DurationSeconds: 2,
		MsgsSent: int64(len(values)) + 1, MsgsRecv: int64(len(values)),
		BytesRecv: 64 * int64(len(values)), Errors: 1, Backlogged: 2,
	}
	if err := r.SetHistogram(h); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResultJSONRoundTrip(t *testing.T) {
	r := resultWith(t, ModeEcho, 10, 20, 30, 1000, 59_000_000)
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(b, '\n') {
		t.Fatalf("JSON spans lines: %s", b)
	}
	for _, f := range []string{"mode", "conns_requested", "conns_ok", "conns_failed", "connect_seconds",
		"duration_seconds", "msgs_sent", "msgs_recv", "bytes_recv", "errors", "backlogged", "hist"} {
		if !bytes.Contains(b, []byte(`"`+f+`":`)) {
			t.Errorf("field %q missing from %s", f, b)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != r {
		t.Fatalf("round trip: got %+v, want %+v", back, r)
	}
	h, err := back.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != 5 || h.Min() != 10 || !h.ValuesAreEquivalent(h.Max(), 59_000_000) {
		t.Fatalf("histogram: count %d min %d max %d", h.TotalCount(), h.Min(), h.Max())
	}
}

func TestMerge(t *testing.T) {
	a := resultWith(t, ModeEcho, 100, 200)
	b := resultWith(t, ModeEcho, 300, 400, 500)
	b.ConnectSeconds, b.DurationSeconds = 0.7, 1.5
	m, h, err := Merge([]Result{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Mode != ModeEcho || m.ConnsRequested != 20 || m.ConnsOK != 18 || m.ConnsFailed != 2 ||
		m.MsgsSent != 7 || m.MsgsRecv != 5 || m.BytesRecv != 320 || m.Errors != 2 || m.Backlogged != 4 ||
		m.ConnectSeconds != 0.7 || m.DurationSeconds != 2 {
		t.Fatalf("merged: %+v", m)
	}
	if h.TotalCount() != 5 || h.Min() != 100 || !h.ValuesAreEquivalent(h.Max(), 500) {
		t.Fatalf("merged histogram: count %d min %d max %d", h.TotalCount(), h.Min(), h.Max())
	}
	h2, err := m.Histogram()
	if err != nil || !h2.Equals(h) {
		t.Fatalf("merged Hist does not decode to the merged histogram (err %v)", err)
	}
	if _, _, err := Merge([]Result{a, resultWith(t, ModeIdle)}); err == nil {
		t.Fatal("merging different modes: no error")
	}
	bad := a
	bad.Hist = "not base64!"
	if _, _, err := Merge([]Result{a, bad}); err == nil {
		t.Fatal("merging a corrupt histogram: no error")
	}
	if m, h, err := Merge(nil); err != nil || h.TotalCount() != 0 || m.Hist == "" {
		t.Fatalf("empty merge: %+v %v", m, err)
	}
	if h, err := (&Result{}).Histogram(); err != nil || h.TotalCount() != 0 {
		t.Fatalf("empty Hist: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:9300", Conns: 10}
	bad := map[string]Config{
		"non-loopback target": {Addr: "10.1.2.3:80", Conns: 1},
		"ipv6 target":         {Addr: "[::1]:80", Conns: 1},
		"hostname":            {Addr: "example.com:80", Conns: 1},
		"too many conns":      {Addr: "127.0.0.1:80", Conns: MaxConns + 1},
		"zero conns":          {Addr: "127.0.0.1:80", Conns: 0},
		"non-loopback source": {Addr: "127.0.0.1:80", Conns: 1, Src: "192.168.0.2"},
		"sources leave /8":    {Addr: "127.0.0.1:80", Conns: 1, Src: "127.255.255.250", SrcCount: 10},
		"small size":          {Addr: "127.0.0.1:80", Conns: 1, Mode: ModeEcho, Size: 4},
		"bad mode":            {Addr: "127.0.0.1:80", Conns: 1, Mode: "flood"},
		"port zero":           {Addr: "127.0.0.1:0", Conns: 1},
	}
	for name, c := range bad {
		if _, err := c.normalize(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := ok.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.SrcCount != 2 || c.ConnectInflight != 512 || c.ConnectTimeout != 10*time.Second || c.Path != "/" || c.Hold != 30*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	c, _ = Config{Addr: "localhost:1", Conns: MaxConns, Mode: ModeEcho}.normalize()
	if c.SrcCount != 2 || c.Size != 1024 || c.Inflight != 1 || c.Warmup != time.Second || c.Duration != 10*time.Second {
		t.Fatalf("echo defaults: %+v", c)
	}
	if c.Deadline < c.Warmup+c.Duration+c.Drain {
		t.Fatalf("deadline %v too short", c.Deadline)
	}
}

func TestHandshakeHelpers(t *testing.T) {
	// RFC 6455 section 1.3's example.
	a := acceptFor([]byte("dGhlIHNhbXBsZSBub25jZQ=="))
	if string(a[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept = %s", a)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00"
	if n, err := parseResponse([]byte(resp[:20]), a[:], false); n != 0 || err != nil {
		t.Fatalf("partial head: %d %v", n, err)
	}
	if n, err := parseResponse([]byte(resp), a[:], false); err != nil || n != len(resp)-2 {
		t.Fatalf("good head: %d %v", n, err)
	}
	if _, err := parseResponse([]byte(strings.Replace(resp, "s3pP", "xxxx", 1)), a[:], false); err == nil {
		t.Fatal("wrong accept passed")
	}
	if _, err := parseResponse([]byte("HTTP/1.1 200 OK\r\n\r\n"), a[:], false); err == nil {
		t.Fatal("200 passed")
	}
	if _, err := parseResponse([]byte("HTTP/1.1 1010 x\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"), a[:], false); err == nil {
		t.Fatal("status 1010 passed")
	}
	if _, err := parseResponse(bytes.Repeat([]byte("x"), maxHead+1), a[:], false); err == nil {
		t.Fatal("endless head passed")
	}
}

func TestFrames(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 8, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{0xAB}, n)
		f := appendFrame(nil, opBinary, p, mask)
		// A client frame is masked: clear the mask bit and unmask to parse
		// it as a server frame would be.
		hl := 2
		switch {
		case n > 65535:
			hl = 10
		case n > 125:
			hl = 4
		}
		if f[0] != 0x82 || f[1]&0x80 == 0 || len(f) != hl+4+n {
			t.Fatalf("n=%d: header % x len %d", n, f[:hl], len(f))
		}
		un := append([]byte(nil), f[:hl]...)
		un[1] &^= 0x80
		payload := append([]byte(nil), f[hl+4:]...)
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		if !bytes.Equal(payload, p) {
			t.Fatalf("n=%d: payload not masked with the key", n)
		}
		un = append(un, payload...)
		h, ok, err := parseHeader(un, 1<<20)
		if err != nil || !ok || !h.fin || h.op != opBinary || h.hdrLen != hl || h.payLen != n {
			t.Fatalf("n=%d: parse %+v %v %v", n, h, ok, err)
		}
		if _, ok, _ := parseHeader(un[:hl-1], 1<<20); ok && hl > 1 {
			t.Fatalf("n=%d: short header parsed", n)
		}
	}
	for name, b := range map[string][]byte{
		"masked":        {0x82, 0x80, 0, 0, 0, 0},
		"rsv":           {0xC2, 0x00},
		"opcode":        {0x83, 0x00},
		"long ping":     {0x89, 126, 0, 200},
		"fragment ping": {0x09, 0x00},
		"too big":       {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0},
	} {
		if _, _, err := parseHeader(b, 1<<16); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
