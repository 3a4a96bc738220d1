package codec

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// fuzzConfig derives a decoder configuration from the fuzzer's seed: bit 0
// enables compression, bit 1 a small message limit taken from bits 8-23.
func fuzzConfig(seed uint64) DecoderConfig {
	cfg := DecoderConfig{Compression: seed&1 != 0}
	if seed&2 != 0 {
		cfg.MaxMessageSize = int64(1 + (seed>>8)&0xffff)
	}
	return cfg
}

// FuzzDecoder decodes arbitrary bytes whole, one byte at a time and in
// random chunks, and requires identical results and sane messages.
func FuzzDecoder(f *testing.F) {
	f.Add(cat(text("hello"), ping("p"), closeFrame(closeBody(1000, "bye"))), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		cfg := fuzzConfig(seed)
		want, wantErr := feed(t, cfg, data, cutsWhole(len(data)))
		limit := cfg.MaxMessageSize
		if limit == 0 {
			limit = DefaultMaxMessageSize
		}
		for _, r := range want {
			if r.ev == EventMessage && int64(len(r.data)) > limit {
				t.Fatalf("message of %d bytes exceeds limit %d", len(r.data), limit)
			}
			if r.ev == EventMessage && r.op == ws.OpText && !r.compressed && !utf8.ValidString(r.data) {
				t.Fatalf("invalid UTF-8 text message %q", r.data)
			}
			if r.ev == EventClose && (r.code != 0 && !ValidCloseCode(r.code) || !utf8.ValidString(r.data)) {
				t.Fatalf("bad close %v", r)
			}
		}
		check := func(how string, cuts []int) {
			got, err := feed(t, cfg, data, cuts)
			if err != wantErr || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: got %v, %v; whole gave %v, %v", how, got, err, want, wantErr)
			}
		}
		if len(data) == 0 {
			return
		}
		check("bytewise", cutsBytewise(len(data)))
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		for i := 0; i < 4; i++ {
			check("random", cutsRandom(rng, len(data), 1+rng.IntN(len(data))))
		}
	})
}

// fuzzUpgrader exercises the hooks: a subprotocol and a rejected host.
var fuzzUpgrader = ws.Upgrader{
	Protocol: func(p []byte) bool { return string(p) == "chat" },
	OnHost: func(host []byte) error {
		if string(host) == "evil" {
			return ws.RejectConnectionError(ws.RejectionStatus(403))
		}
		return nil
	},
}

// FuzzUpgrade runs HeadScanner (whole and byte by byte), IsUpgrade, Request
// and Upgrade on arbitrary input and requires consistent scanning and a
// well-formed, parseable response.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte(chromeHead))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 512
		var s HeadScanner
		end, err := s.Scan(in, max)
		if end < 0 || end > len(in) || end > max || (end > 0 && !bytes.HasSuffix(in[:end], headEnd)) {
			t.Fatalf("bad end %d", end)
		}
		if end > 0 && bytes.Contains(in[:end-1], headEnd) {
			t.Fatalf("end %d is not the first terminator", end)
		}
		s.Reset()
		var end1 int
		var err1 error
		for i := 0; i <= len(in) && end1 == 0 && err1 == nil; i++ {
			end1, err1 = s.Scan(in[:i], max)
		}
		if end1 != end || err1 != err {
			t.Fatalf("bytewise scan %d, %v; whole %d, %v", end1, err1, end, err)
		}

		head := in
		if end > 0 {
			head = in[:end]
		}
		_ = IsUpgrade(head)
		r := NewRequest(head)
		_, _, _, _, _ = r.Method(), r.URI(), r.Path(), r.RawQuery(), r.Query()
		_, _ = r.Header("Host"), r.Cookie("a")

		resp, hs, err := Upgrade(&fuzzUpgrader, head, nil)
		if !wellFormedStatus(resp) {
			t.Fatalf("malformed status line %q", resp)
		}
		parsed, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
		if perr != nil {
			t.Fatalf("unparsable response %q: %v", resp, perr)
		}
		if (err == nil) != (parsed.StatusCode == http.StatusSwitchingProtocols) {
			t.Fatalf("err %v with status %d", err, parsed.StatusCode)
		}
		if err == nil && hs.Protocol != "" && hs.Protocol != "chat" {
			t.Fatalf("protocol %q", hs.Protocol)
		}
	})
}
