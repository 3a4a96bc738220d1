package codec

import (
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

const (
	// The exact answers: httphead.WriteOptions puts no space after ';'.
	pmdAnswer       = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"
	pmdAnswerWindow = pmdAnswer + ";server_max_window_bits=15"
)

// withExtensions returns curlHead with one Sec-WebSocket-Extensions field per
// value.
func withExtensions(values ...string) string {
	head := strings.TrimSuffix(curlHead, "\r\n\r\n")
	for _, v := range values {
		head += "\r\nSec-WebSocket-Extensions: " + v
	}
	return head + "\r\n\r\n"
}

func TestFlateNegotiator(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offers []string // one header field each
		want   string   // the response field; "" means none
	}{
		{"none", nil, ""},
		{"plain", []string{"permessage-deflate"}, pmdAnswer},
		{"chrome", []string{"permessage-deflate; client_max_window_bits"}, pmdAnswer},
		{"spaces", []string{"permessage-deflate ;client_max_window_bits ; server_no_context_takeover"}, pmdAnswer},
		{"both no context takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, pmdAnswer},

		// client_max_window_bits: with or without a value 8-15, never answered.
		{"client bits 8", []string{"permessage-deflate; client_max_window_bits=8"}, pmdAnswer},
		{"client bits 10", []string{"permessage-deflate; client_max_window_bits=10"}, pmdAnswer},
		{"client bits 15", []string{"permessage-deflate; client_max_window_bits=15"}, pmdAnswer},
		{"client bits quoted", []string{`permessage-deflate; client_max_window_bits="10"`}, pmdAnswer},
		{"client bits 7", []string{"permessage-deflate; client_max_window_bits=7"}, ""},
		{"client bits 16", []string{"permessage-deflate; client_max_window_bits=16"}, ""},
		{"client bits 0", []string{"permessage-deflate; client_max_window_bits=0"}, ""},
		{"client bits leading zero", []string{"permessage-deflate; client_max_window_bits=010"}, ""},
		{"client bits abc", []string{"permessage-deflate; client_max_window_bits=abc"}, ""},
		{"client bits quoted junk", []string{`permessage-deflate; client_max_window_bits="1?"`}, ""},

		// server_max_window_bits: only 15 can be honoured, and is repeated.
		{"server bits 15", []string{"permessage-deflate; server_max_window_bits=15"}, pmdAnswerWindow},
		{"server bits 15 and client bits", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=15"}, pmdAnswerWindow},
		{"server bits 10", []string{"permessage-deflate; server_max_window_bits=10"}, ""},
		{"server bits 8", []string{"permessage-deflate; server_max_window_bits=8"}, ""},
		{"server bits 7", []string{"permessage-deflate; server_max_window_bits=7"}, ""},
		{"server bits 16", []string{"permessage-deflate; server_max_window_bits=16"}, ""},
		{"server bits abc", []string{"permessage-deflate; server_max_window_bits=abc"}, ""},
		{"server bits leading zero", []string{"permessage-deflate; server_max_window_bits=015"}, ""},
		{"server bits no value", []string{"permessage-deflate; server_max_window_bits"}, ""},
		{"server bits 10 then fallback", []string{"permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate; client_max_window_bits"}, pmdAnswer},
		{"server bits 10 then 15", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=15"}, pmdAnswerWindow},

		// Values on flag parameters, unknown and duplicate parameters.
		{"server no context takeover value", []string{"permessage-deflate; server_no_context_takeover=1"}, ""},
		{"client no context takeover value", []string{"permessage-deflate; client_no_context_takeover=true"}, ""},
		{"unknown parameter", []string{"permessage-deflate; foo"}, ""},
		{"unknown parameter with value", []string{"permessage-deflate; max_window_bits=10"}, ""},
		{"unknown parameter then fallback", []string{"permessage-deflate; foo=bar, permessage-deflate"}, pmdAnswer},
		{"parameter name case", []string{"permessage-deflate; Client_Max_Window_Bits"}, ""},
		{"duplicate client bits", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits"}, ""},
		{"duplicate client bits values", []string{"permessage-deflate; client_max_window_bits=10; client_max_window_bits=10"}, ""},
		{"duplicate client bits mixed", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=9"}, ""},
		{"duplicate server bits", []string{"permessage-deflate; server_max_window_bits=15; server_max_window_bits=15"}, ""},
		{"duplicate server no context", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"duplicate client no context", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, ""},
		{"duplicate then fallback", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits, permessage-deflate; client_max_window_bits"}, pmdAnswer},

		// Other extensions and several offers.
		{"other extension", []string{"x-webkit-deflate-frame"}, ""},
		{"other extension first", []string{"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"}, pmdAnswer},
		{"extension name case", []string{"Permessage-Deflate"}, ""},
		{"first acceptable offer only", []string{"permessage-deflate; server_max_window_bits=15, permessage-deflate"}, pmdAnswerWindow},
		{"second offer not answered", []string{"permessage-deflate, permessage-deflate; server_max_window_bits=15"}, pmdAnswer},
		{"two header fields", []string{"permessage-deflate; foo", "permessage-deflate; client_max_window_bits"}, pmdAnswer},
		{"two header fields both good", []string{"permessage-deflate", "permessage-deflate; server_max_window_bits=15"}, pmdAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n FlateNegotiator
			u := &ws.Upgrader{Negotiate: n.Negotiate}
			resp, hs, err := Upgrade(u, []byte(withExtensions(tc.offers...)), nil)
			if err != nil {
				t.Fatalf("upgrade failed: %v\n%s", err, resp)
			}
			r := parseResponse(t, resp)
			got := r.Header.Values("Sec-WebSocket-Extensions")
			switch {
			case tc.want == "" && len(got) != 0:
				t.Fatalf("answered %q, want no extension", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Fatalf("answered %q, want %q", got, tc.want)
			}
			if n.Accepted() != (tc.want != "") || len(hs.Extensions) != len(got) {
				t.Fatalf("Accepted = %v, %d extensions in handshake", n.Accepted(), len(hs.Extensions))
			}
		})
	}
}

// TestFlateNegotiatorMalformedHeader: a header gobwas/ws cannot parse fails
// the upgrade before the negotiator could decline anything.
func TestFlateNegotiatorMalformedHeader(t *testing.T) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	resp, _, err := Upgrade(u, []byte(withExtensions("permessage-deflate; =")), nil)
	if err == nil || parseResponse(t, resp).StatusCode != 400 {
		t.Fatalf("err = %v, response %q", err, resp)
	}
}

func TestFlateNegotiatorReuse(t *testing.T) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	for i, tc := range []struct {
		head string
		want bool
	}{
		{chromeHead, true}, {curlHead, false}, {firefoxHead, true},
		{withExtensions("permessage-deflate; server_max_window_bits=9"), false},
		{pythonHead, true},
	} {
		n.Reset()
		if _, _, err := Upgrade(u, []byte(tc.head), nil); err != nil {
			t.Fatal(err)
		}
		if n.Accepted() != tc.want {
			t.Fatalf("upgrade %d: Accepted = %v, want %v", i, n.Accepted(), tc.want)
		}
	}
}

func TestFlateNegotiatorAllocs(t *testing.T) {
	offer := httphead.Option{Name: []byte("permessage-deflate")}
	offer.Parameters.Set([]byte("client_max_window_bits"), nil)
	offer.Parameters.Set([]byte("server_max_window_bits"), []byte("15"))
	var n FlateNegotiator
	a := testing.AllocsPerRun(100, func() {
		n.Reset()
		if resp, err := n.Negotiate(offer); err != nil || resp.Size() == 0 {
			t.Fatal("declined")
		}
	})
	if a != 0 {
		t.Fatalf("Negotiate allocs = %v", a)
	}
}

func BenchmarkUpgradeFlate(b *testing.B) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	head := []byte(chromeHead)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		n.Reset()
		var err error
		if dst, _, err = Upgrade(u, head, dst[:0]); err != nil || !n.Accepted() {
			b.Fatal(err)
		}
	}
}
